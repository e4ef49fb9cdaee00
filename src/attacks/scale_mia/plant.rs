//! Scale-MIA's malicious server (Shi et al., NDSS 2025): it replaces the honest MLP's first
//! layer by the encoder it trained, plants the imprint block on that layer's output (depth 1,
//! see [`Imprinted::at_depth`]) and keeps, as typed secrets, the direction and cut-offs of the
//! block's rows and the decoder that turns a recovered latent into an image.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::autoencoder::{Decoder, Encoder};
use crate::attacks::imprint::bins::Cutoffs;
use crate::attacks::imprint::statistic::measure;
use crate::config::ConfigError;
use crate::fl::federated::Server;
use crate::model::imprint::ImprintBlock;
use crate::model::{Classifier, Honest, Imprinted};

/// What planting leaves the server knowing: the direction every imprint row measures in the
/// latent, the cut-offs, and the decoder of its autoencoder.
#[derive(Debug, Clone)]
pub struct ScaleMiaSecrets {
    /// The direction s over the h latent coordinates.
    pub direction: Vec<f64>,
    /// The cut-offs, one per row, ascending.
    pub cutoffs: Cutoffs,
    /// Lifts a latent back to an image.
    pub decoder: Decoder,
}

/// A server that broadcasts the global MLP with its first layer replaced by an encoder and the
/// imprint block behind it.
#[derive(Debug, Clone)]
pub struct ScaleMiaServer {
    encoder: Encoder,
    secrets: ScaleMiaSecrets,
}

impl ScaleMiaServer {
    /// The server that plants `encoder` and rows measuring `direction` (one value per latent
    /// coordinate) with `cutoffs`, keeping `decoder`.
    ///
    /// # Errors
    /// A direction or decoder whose width is not the encoder's latent width.
    pub fn new(
        encoder: Encoder,
        decoder: Decoder,
        direction: Vec<f64>,
        cutoffs: Cutoffs,
    ) -> Result<Self, ConfigError> {
        let h = encoder.latent_width();
        for (name, width) in [
            ("scale-mia direction", direction.len()),
            ("scale-mia decoder", decoder.latent_width()),
        ] {
            if width != h {
                return Err(ConfigError::invalid(
                    name,
                    width,
                    format!("the encoder's latent has {h} coordinates"),
                ));
            }
        }
        Ok(Self {
            encoder,
            secrets: ScaleMiaSecrets {
                direction,
                cutoffs,
                decoder,
            },
        })
    }

    /// Whether the server can plant into `global`: an MLP whose first layer has the encoder's
    /// shape and activation, with a layer after it. Call it before the round;
    /// [`Server::vet_model`] cannot return an error.
    ///
    /// # Errors
    /// Any other classifier.
    pub fn check(&self, global: &Classifier) -> Result<(), ConfigError> {
        let Classifier::Mlp(mlp) = global else {
            return Err(ConfigError::invalid(
                "model kind",
                "not an MLP",
                "Scale-MIA replaces the first layer of an MLP; use kind = \"mlp\"",
            ));
        };
        let first = mlp.layers.first().map(|l| l.weight.dims());
        let wanted = [self.encoder.input_width(), self.encoder.latent_width()];
        if first != Some(wanted) || mlp.layers.len() < 2 {
            return Err(ConfigError::invalid(
                "mlp_hidden",
                format!("first layer {first:?} of {} layers", mlp.layers.len()),
                format!(
                    "the encoder replaces a first layer of shape {wanted:?}, followed by more layers"
                ),
            ));
        }
        if mlp.activation != self.encoder.activation {
            return Err(ConfigError::invalid(
                "activation",
                format!("{:?}", mlp.activation),
                format!("the encoder was trained with {:?}", self.encoder.activation),
            ));
        }
        Ok(())
    }

    /// `global` with the encoder as its first layer and the imprint block behind it.
    ///
    /// # Errors
    /// What [`ScaleMiaServer::check`] refuses.
    pub fn plant(&self, global: Classifier) -> Result<(Classifier, ScaleMiaSecrets), ConfigError> {
        self.check(&global)?;
        let Classifier::Mlp(mut mlp) = global else {
            unreachable!("`check` accepts only an MLP");
        };
        let device = mlp.layers[0].weight.device();
        mlp.layers[0] = relocated(&self.encoder.layer, &device);
        let s = &self.secrets;
        let block = ImprintBlock::planted(&s.direction, s.cutoffs.values(), &device);
        let planted = Imprinted::at_depth(block, Honest::Mlp(mlp), 1)?;
        Ok((Classifier::Imprinted(planted), self.secrets.clone()))
    }
}

impl Server for ScaleMiaServer {
    type Secrets = ScaleMiaSecrets;

    /// # Panics
    /// When [`ScaleMiaServer::check`] refuses `global`: the caller checks before the round.
    fn vet_model(&mut self, global: Classifier) -> (Classifier, ScaleMiaSecrets) {
        self.plant(global)
            .expect("the caller checked the global model with ScaleMiaServer::check")
    }
}

/// `layer`'s values as fresh parameters on `device` (the global model's, an autodiff device
/// during a round), as [`ImprintBlock::planted`] makes its own.
fn relocated(layer: &Linear, device: &Device) -> Linear {
    let param = |t: Tensor<2>| Param::from_tensor(Tensor::from_data(t.into_data(), device));
    let bias = |t: Tensor<1>| Param::from_tensor(Tensor::from_data(t.into_data(), device));
    Linear {
        weight: param(layer.weight.val()),
        bias: layer.bias.as_ref().map(|b| bias(b.val())),
    }
}

/// The statistic s·h(x) of each image x: what the cut-offs are placed on (with
/// [`Cutoffs::equal_mass`] over the attacker's auxiliary images, say).
pub fn latent_statistic(encoder: &Encoder, images: &[Vec<f32>], direction: &[f64]) -> Vec<f64> {
    encoder
        .encode(images)
        .iter()
        .map(|h| measure(direction, h))
        .collect()
}

/// The mean of the latent's h coordinates as a direction: (1/h, …, 1/h).
pub fn mean_direction(encoder: &Encoder) -> Vec<f64> {
    let h = encoder.latent_width();
    vec![1.0 / h as f64; h]
}
