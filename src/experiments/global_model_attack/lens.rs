//! What the attacker's bins look at, and the attack that goes with it: the pixels (Fowl et
//! al.'s imprint) or the latent code of an encoder the attacker trained on its own data and
//! planted as the global model's first layer (Scale-MIA, Shi et al. 2025), whose decoder turns
//! each recovered code back into an image.

use std::time::Instant;

use burn::module::Module;
use serde::Serialize;

use super::config::{GlobalAttack, GlobalModelConfig};
use super::federation::{self, Federation};
use crate::Result;
use crate::attacks::Attack;
use crate::attacks::imprint::bins::Cutoffs;
use crate::attacks::imprint::recover::BinImage;
use crate::attacks::imprint::statistic::measure;
use crate::attacks::imprint::{AggregateView, Imprint, ImprintServer, ImprintView};
use crate::attacks::scale_mia::{
    AutoencoderOptions, Decoder, Encoder, EncoderShape, ScaleMia, ScaleMiaServer, ScaleMiaView,
    latent_statistic, pixels_of, train_autoencoder,
};
use crate::data::Dataset;
use crate::fl::federated::{BatchTruth, FederatedOptions, Server};
use crate::model::{Classifier, ModelConfig};
use crate::runtime::Runtime;

/// Where the rows measure their statistic. One per run, so the latent variant's size does not
/// matter.
#[allow(clippy::large_enum_variant)]
pub enum Lens {
    /// On the image: rows of `direction` over the pixels.
    Pixels {
        /// One value per pixel.
        direction: Vec<f64>,
    },
    /// On the latent code h(x) of the attacker's encoder.
    Latent {
        /// One value per latent coordinate.
        direction: Vec<f64>,
        /// The encoder the server plants as the global model's first layer.
        encoder: Encoder,
        /// The decoder the attack keeps.
        decoder: Decoder,
    },
}

/// The attacker's autoencoder, as `metrics.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct AutoencoderRecord {
    /// Auxiliary images it trained on.
    pub images: usize,
    /// Epochs of Adam.
    pub epochs: usize,
    /// Its latent width h (the honest MLP's first hidden layer).
    pub latent: usize,
    /// Mean squared reconstruction error per pixel over the last epoch.
    pub final_mse: f64,
    /// Seconds it took.
    pub seconds: f64,
}

impl Lens {
    /// The lens of `config`'s attack. For Scale-MIA, the autoencoder is trained here, on the
    /// attacker's auxiliary images `aux`, with the shape of `model`'s first layer; the latent
    /// direction is the pixel statistic's kind drawn over h coordinates.
    pub fn build(
        config: &GlobalModelConfig,
        aux: &Dataset,
        model: &ModelConfig,
        rt: &mut Runtime<'_>,
    ) -> Result<(Self, Option<AutoencoderRecord>)> {
        let spec = &config.imprint;
        let side = aux.rows();
        if spec.attack == GlobalAttack::Imprint {
            let direction = spec.statistic.direction(side, rt.rng);
            return Ok((Lens::Pixels { direction }, None));
        }
        let shape = EncoderShape::of_mlp(model)?;
        let opts = AutoencoderOptions {
            epochs: spec.decoder_epochs,
            ..AutoencoderOptions::default()
        };
        let images = pixels_of(aux);
        let trained = train_autoencoder(&images, shape, &opts, rt)?;
        let latent = trained.encoder.latent_width();
        // The statistic's kind over the h latent coordinates (the config refuses the DCT mode,
        // which needs an image).
        let direction = spec
            .statistic
            .latent_direction(latent, rt.rng)
            .expect("validate refuses the DCT mode on latents");
        let record = AutoencoderRecord {
            images: images.len(),
            epochs: opts.epochs,
            latent,
            final_mse: trained.epoch_mse.last().copied().unwrap_or(f64::NAN),
            seconds: trained.seconds,
        };
        Ok((
            Lens::Latent {
                direction,
                encoder: trained.encoder,
                decoder: trained.decoder,
            },
            Some(record),
        ))
    }

    /// The statistic of one image `x` (pixels in [0, 1]).
    pub fn statistic(&self, x: &[f32]) -> f64 {
        match self {
            Lens::Pixels { direction } => measure(direction, x),
            Lens::Latent {
                direction, encoder, ..
            } => latent_statistic(encoder, &[x.to_vec()], direction)[0],
        }
    }

    /// The statistic of every image of `data`, batched.
    pub fn statistics(&self, data: &Dataset) -> Vec<f64> {
        let images = pixels_of(data);
        match self {
            Lens::Pixels { direction } => images.iter().map(|x| measure(direction, x)).collect(),
            Lens::Latent {
                direction, encoder, ..
            } => latent_statistic(encoder, &images, direction),
        }
    }

    /// Parameters of `global` once planted with `bins` rows: the block adds (width + 1) per
    /// row; the encoder replaces a first layer of its own size.
    pub fn planted_parameters(&self, global: &Classifier, bins: usize) -> usize {
        let width = match self {
            Lens::Pixels { direction } | Lens::Latent { direction, .. } => direction.len(),
        };
        global.num_params() + (width + 1) * bins
    }

    /// One attacked round: plant `cutoffs` into `global`, let `federation` compute and sum,
    /// and read the images back from the released aggregate only.
    pub fn attack(
        &self,
        config: &GlobalModelConfig,
        round: RoundSetup<'_>,
        cutoffs: Cutoffs,
        rt: &mut Runtime<'_>,
    ) -> Result<Attacked> {
        let spec = &config.imprint;
        match self {
            Lens::Pixels { direction } => {
                let server = ImprintServer::new(spec.statistic, direction.clone(), cutoffs);
                let attack = Imprint {
                    noise_sds: spec.noise_sds,
                };
                let view = |aggregate, secrets| ImprintView { aggregate, secrets };
                attacked(server, view, attack, round, rt)
            }
            Lens::Latent {
                direction,
                encoder,
                decoder,
            } => {
                let server = ScaleMiaServer::new(
                    encoder.clone(),
                    decoder.clone(),
                    direction.clone(),
                    cutoffs,
                )?;
                server.check(round.global)?;
                let attack = ScaleMia {
                    noise_sds: spec.noise_sds,
                };
                let view = |aggregate, secrets| ScaleMiaView { aggregate, secrets };
                attacked(server, view, attack, round, rt)
            }
        }
    }
}

/// The round `round` with `server` planting, then `attack` on the view `view` builds from
/// the released aggregate and the planting's secrets.
fn attacked<S: Server, V>(
    mut server: S,
    view: impl FnOnce(AggregateView, S::Secrets) -> V,
    attack: impl Attack<V, Output = Vec<BinImage>>,
    round: RoundSetup<'_>,
    rt: &mut Runtime<'_>,
) -> Result<Attacked> {
    let noise_std = federation::noise_std(round.opts)?;
    let started = Instant::now();
    let r = federation::first_round(
        round.global.clone(),
        &mut server,
        round.federation,
        round.opts,
        rt.rng,
    )?;
    let view = view(AggregateView::of(&r.observed, noise_std), r.secrets);
    let round_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let found = attack.run(&view, rt)?;
    Ok(Attacked {
        found,
        truth: r.truth,
        round_seconds,
        reconstruct_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The round an attack runs in.
#[derive(Clone, Copy)]
pub struct RoundSetup<'a> {
    /// The honest global model before planting.
    pub global: &'a Classifier,
    /// The parties.
    pub federation: &'a Federation,
    /// Their FedSGD options, sized for the planted model.
    pub opts: &'a FederatedOptions,
}

/// What one attacked round gave.
pub struct Attacked {
    /// The attack's images, heaviest bins first.
    pub found: Vec<BinImage>,
    /// The parties' sealed batches, for measurement.
    pub truth: Vec<BatchTruth>,
    /// Seconds of the round (planting into the model, the parties, the secure sum).
    pub round_seconds: f64,
    /// Seconds of reading the images out of the sum.
    pub reconstruct_seconds: f64,
}
