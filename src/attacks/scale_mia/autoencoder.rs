//! The attacker's autoencoder (Shi et al., NDSS 2025, "Scale-MIA", §IV-B): an encoder of
//! exactly the shape of the honest MLP's first layer, which the server will plant in its place,
//! and a decoder that lifts each latent the imprint block gives back to an image. Both are
//! trained together on the attacker's auxiliary (public) images, minimising the reconstruction
//! MSE with Adam.
//!
//! The encoder is one dense layer and the MLP's own activation, so that planting it changes the
//! model's weights, not its architecture: a party sees an MLP of the usual shape. The decoder
//! is the attacker's alone and never broadcast, so it may be as large as reconstruction needs;
//! one hidden ReLU layer and a sigmoid output (pixels lie in [0, 1]) is enough for 28×28 greyscale
//! images.
//!
//! Training draws its weights and batch order from the runtime's stream, so a seed fixes the
//! result bit for bit.
//!
//! # Shapes
//! - images: `[batch, d]`, `d = side²`, values in `[0, 1]`
//! - latents: `[batch, h]`, `h` = the MLP's first hidden width

use std::time::Instant;

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;

use crate::Result;
use crate::config::{ConfigError, at_least_one};
use crate::data::Dataset;
use crate::model::{Activation, ModelConfig, ModelKind, fan_in_bound, seeded_linear};
use crate::runtime::Runtime;
use crate::train::Diverged;

/// How the autoencoder is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderOptions {
    /// Passes over the auxiliary images.
    pub epochs: usize,
    /// Images per Adam step.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Width of the decoder's hidden layer.
    pub decoder_hidden: usize,
}

impl Default for AutoencoderOptions {
    /// Measured once for the 784-256 tanh encoder on Fashion-MNIST's 10,000 test images (flex
    /// backend, release, 2 CPU cores): 40–50 s, a held-out per-pixel MSE of 0.0063 (PSNR ≈ 22 dB;
    /// the mean image scores 0.087), still falling by about 2 % an epoch. 10 epochs at batch 128
    /// take 7 s for 0.011; 40 epochs with a 1,024-wide decoder 56 s for 0.0055. A cosine decay of
    /// the rate ended higher (0.0082 against 0.0069 for 30 epochs at batch 128): the model is
    /// still underfit, and a constant rate learns faster.
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 64,
            learning_rate: 2e-3,
            decoder_hidden: 512,
        }
    }
}

impl AutoencoderOptions {
    fn validate(&self) -> std::result::Result<(), ConfigError> {
        at_least_one("autoencoder epochs", self.epochs)?;
        at_least_one("autoencoder batch_size", self.batch_size)?;
        at_least_one("autoencoder decoder_hidden", self.decoder_hidden)?;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ConfigError::invalid(
                "autoencoder learning_rate",
                self.learning_rate,
                "Adam's step size must be a positive number",
            ));
        }
        Ok(())
    }
}

/// What the encoder must look like to replace the honest MLP's first layer: its output width and
/// activation (the input width is the images').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderShape {
    /// The latent width h: the MLP's first hidden width.
    pub latent: usize,
    /// The MLP's activation.
    pub activation: Activation,
}

impl EncoderShape {
    /// The first layer of the MLP `config` describes.
    ///
    /// # Errors
    /// A model that is not an MLP with a hidden layer: Scale-MIA plants its encoder in place of
    /// a dense first layer.
    pub fn of_mlp(config: &ModelConfig) -> std::result::Result<Self, ConfigError> {
        match (config.kind, config.mlp_hidden.first()) {
            (ModelKind::Mlp, Some(&latent)) => Ok(Self {
                latent,
                activation: config.activation,
            }),
            _ => Err(ConfigError::invalid(
                "model kind",
                format!("{:?}", config.kind).to_lowercase(),
                "Scale-MIA plants its encoder as the first layer of an MLP with a hidden layer; \
                 use kind = \"mlp\" and a non-empty mlp_hidden",
            )),
        }
    }
}

/// The encoder: a dense layer and the honest MLP's activation.
#[derive(Module, Debug)]
pub struct Encoder {
    /// `[d, h]`: what the server plants as the MLP's first layer.
    pub layer: Linear,
    /// The MLP's activation, applied to the layer's output.
    #[module(skip)]
    pub activation: Activation,
}

impl Encoder {
    /// Input width d.
    pub fn input_width(&self) -> usize {
        self.layer.weight.dims()[0]
    }

    /// Latent width h.
    pub fn latent_width(&self) -> usize {
        self.layer.weight.dims()[1]
    }

    /// # Shapes
    /// - `images`: `[batch, d]`; output: `[batch, h]`
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        self.activation.apply(self.layer.forward(images))
    }

    /// The latents of `images` (each `d` pixels), in one batch.
    pub fn encode(&self, images: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let device = self.layer.weight.device();
        map_rows(images, self.latent_width(), &device, |x| self.forward(x))
    }
}

/// The decoder: `sigmoid(output(relu(hidden(z))))`, the attacker's own and never broadcast.
#[derive(Module, Debug)]
pub struct Decoder {
    /// `[h, decoder_hidden]`.
    hidden: Linear,
    /// `[decoder_hidden, d]`.
    output: Linear,
}

impl Decoder {
    /// Latent width h.
    pub fn latent_width(&self) -> usize {
        self.hidden.weight.dims()[0]
    }

    /// Image width d.
    pub fn output_width(&self) -> usize {
        self.output.weight.dims()[1]
    }

    /// # Shapes
    /// - `latents`: `[batch, h]`; output: `[batch, d]`, values in `(0, 1)`
    pub fn forward(&self, latents: Tensor<2>) -> Tensor<2> {
        let x = relu(self.hidden.forward(latents)); // [batch, decoder_hidden]
        sigmoid(self.output.forward(x)) // [batch, d]
    }

    /// The images of `latents` (each `h` values), in one batch.
    pub fn decode(&self, latents: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let device = self.hidden.weight.device();
        map_rows(latents, self.output_width(), &device, |z| self.forward(z))
    }
}

/// Every image of `data`, pixels scaled to `[0, 1]`: the input of [`train_autoencoder`],
/// [`Encoder::encode`] and [`latent_statistic`](super::latent_statistic).
pub fn pixels_of(data: &Dataset) -> Vec<Vec<f32>> {
    let all: Vec<usize> = (0..data.len()).collect();
    let (flat, _) = data.batch(&all);
    flat.chunks(data.pixels().max(1))
        .map(<[f32]>::to_vec)
        .collect()
}

/// `f` on the rows of `rows` stacked into one tensor, split back into rows of `width`.
fn map_rows(
    rows: &[Vec<f32>],
    width: usize,
    device: &Device,
    f: impl Fn(Tensor<2>) -> Tensor<2>,
) -> Vec<Vec<f32>> {
    // burn's tensors have no batch of zero rows.
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let x = Tensor::<2>::from_data(
        TensorData::new(rows.concat(), [rows.len(), first.len()]),
        device,
    );
    let values = f(x)
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32");
    values.chunks(width).map(<[f32]>::to_vec).collect()
}

/// Encoder and decoder, trained as one module.
#[derive(Module, Debug)]
struct Autoencoder {
    encoder: Encoder,
    decoder: Decoder,
}

/// A trained autoencoder and what training reached.
#[derive(Debug)]
pub struct TrainedAutoencoder {
    /// The encoder to plant (on the runtime's plain device).
    pub encoder: Encoder,
    /// The decoder the attack keeps (on the runtime's plain device).
    pub decoder: Decoder,
    /// Mean reconstruction MSE per pixel over each epoch's batches, measured while training.
    pub epoch_mse: Vec<f64>,
    /// Wall-clock seconds training took.
    pub seconds: f64,
}

/// Trains the encoder of `shape` and a decoder on `images` (each `d` pixels in `[0, 1]`) to
/// minimise the mean squared reconstruction error, weights and batch order drawn from `rt.rng`.
///
/// # Errors
/// No images, images of different sizes, invalid options, or a non-finite loss (a learning rate
/// too large).
pub fn train_autoencoder(
    images: &[Vec<f32>],
    shape: EncoderShape,
    opts: &AutoencoderOptions,
    rt: &mut Runtime<'_>,
) -> Result<TrainedAutoencoder> {
    opts.validate()?;
    at_least_one("encoder latent width", shape.latent)?;
    let d = images.first().map_or(0, Vec::len);
    if d == 0 || images.iter().any(|x| x.len() != d) {
        return Err(ConfigError::invalid(
            "aux",
            format!("{} images", images.len()),
            "the autoencoder needs auxiliary images, all of one size",
        )
        .into());
    }
    let started = Instant::now();
    let ad = rt.device.clone().autodiff();
    let rng = &mut *rt.rng;
    let layer = |d_in, d_out, rng: &mut _| seeded_linear(d_in, d_out, fan_in_bound(d_in), &ad, rng);
    let mut model = Autoencoder {
        encoder: Encoder {
            layer: layer(d, shape.latent, rng),
            activation: shape.activation,
        },
        decoder: Decoder {
            hidden: layer(shape.latent, opts.decoder_hidden, rng),
            output: layer(opts.decoder_hidden, d, rng),
        },
    };
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let flat = images.concat();
    let mut order: Vec<usize> = (0..images.len()).collect();
    let steps = opts.epochs * images.len().div_ceil(opts.batch_size);
    let bar = rt.progress.items(steps as u64, "steps", "autoencoder");
    let mut epoch_mse = Vec::with_capacity(opts.epochs);
    let mut step = 0;
    for epoch in 1..=opts.epochs {
        order.shuffle(rng);
        let mut total = 0.0;
        for batch in order.chunks(opts.batch_size) {
            let mut x = Vec::with_capacity(batch.len() * d);
            for &i in batch {
                x.extend_from_slice(&flat[i * d..(i + 1) * d]);
            }
            let x = Tensor::<2>::from_data(TensorData::new(x, [batch.len(), d]), &ad); // [b, d]
            let error = model.decoder.forward(model.encoder.forward(x.clone())) - x;
            let loss = (error.clone() * error).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let loss = f64::from(loss.into_scalar::<f32>());
            step += 1;
            if !loss.is_finite() {
                return Err(Diverged { epoch, step, loss }.into());
            }
            total += loss * batch.len() as f64;
            model = optim.step(opts.learning_rate, model, grads);
            bar.inc(1);
        }
        epoch_mse.push(total / images.len() as f64);
    }
    bar.finish_and_clear();
    let model = model.valid();
    Ok(TrainedAutoencoder {
        encoder: model.encoder,
        decoder: model.decoder,
        epoch_mse,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    const SIDE: usize = 8;

    /// Smooth images: one of four plane waves, each with its own random phase and contrast.
    fn patterns(n: usize, rng: &mut StdRng) -> Vec<Vec<f32>> {
        let waves = [(1.0, 0.0), (0.0, 1.0), (0.7, 0.7), (0.5, -1.0)];
        (0..n)
            .map(|i| {
                let (a, b) = waves[i % waves.len()];
                let phase = rng.random_range(0.0..std::f32::consts::TAU);
                let contrast = rng.random_range(0.2..0.45);
                (0..SIDE * SIDE)
                    .map(|p| {
                        let (r, c) = ((p / SIDE) as f32, (p % SIDE) as f32);
                        0.5 + contrast * (0.8 * (a * r + b * c) + phase).sin()
                    })
                    .collect()
            })
            .collect()
    }

    fn train(images: &[Vec<f32>], seed: u64) -> TrainedAutoencoder {
        let device = Device::flex();
        let mut rng = StdRng::seed_from_u64(seed);
        let progress = Progress::hidden();
        let mut rt = Runtime::new(&device, &mut rng, &progress);
        let shape = EncoderShape {
            latent: 12,
            activation: Activation::Tanh,
        };
        let opts = AutoencoderOptions {
            epochs: 60,
            batch_size: 32,
            learning_rate: 5e-3,
            decoder_hidden: 32,
        };
        train_autoencoder(images, shape, &opts, &mut rt).unwrap()
    }

    fn mse(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
        let n: usize = a.iter().map(Vec::len).sum();
        let sum: f64 = a
            .iter()
            .zip(b)
            .flat_map(|(x, y)| x.iter().zip(y))
            .map(|(&x, &y)| f64::from(x - y).powi(2))
            .sum();
        sum / n as f64
    }

    #[test]
    fn reconstruction_beats_the_mean_image_by_far() {
        let mut rng = StdRng::seed_from_u64(5);
        let train_set = patterns(256, &mut rng);
        let held_out = patterns(64, &mut rng);
        let trained = train(&train_set, 1);
        let latents = trained.encoder.encode(&held_out);
        assert_eq!(latents[0].len(), 12);
        let got = mse(&trained.decoder.decode(&latents), &held_out);
        let mean: Vec<f32> = (0..SIDE * SIDE)
            .map(|p| train_set.iter().map(|x| x[p]).sum::<f32>() / train_set.len() as f32)
            .collect();
        let baseline = mse(&vec![mean; held_out.len()], &held_out);
        assert!(
            got < 0.2 * baseline,
            "MSE {got:.5}, mean image {baseline:.5}"
        );
        let history = &trained.epoch_mse;
        assert!(history[history.len() - 1] < history[0], "{history:?}");
    }

    #[test]
    fn the_same_seed_gives_bit_identical_weights() {
        let images = patterns(40, &mut StdRng::seed_from_u64(2));
        let weights = |t: &TrainedAutoencoder| -> Vec<Vec<f32>> {
            let dec = &t.decoder;
            [
                t.encoder.layer.weight.val().flatten::<1>(0, 1),
                dec.hidden.weight.val().flatten::<1>(0, 1),
                dec.output.weight.val().flatten::<1>(0, 1),
                dec.output.bias.as_ref().unwrap().val(),
            ]
            .into_iter()
            .map(|w| w.into_data().try_into_vec_as::<f32>().unwrap())
            .collect()
        };
        let (a, b) = (train(&images, 9), train(&images, 9));
        assert_eq!(weights(&a), weights(&b));
        assert_ne!(weights(&a), weights(&train(&images, 10)));
        assert!(!a.encoder.layer.weight.val().device().is_autodiff());
    }

    #[test]
    fn only_an_mlp_with_a_hidden_layer_gives_an_encoder_shape() {
        let mut config = ModelConfig {
            kind: ModelKind::Mlp,
            activation: Activation::Relu,
            mlp_hidden: vec![64, 32],
            cnn_channels: [2, 4],
            cnn_dense: 8,
            side: 28,
            classes: 10,
        };
        let shape = EncoderShape::of_mlp(&config).unwrap();
        assert_eq!((shape.latent, shape.activation), (64, Activation::Relu));
        config.mlp_hidden.clear();
        assert!(EncoderShape::of_mlp(&config).is_err());
        config.kind = ModelKind::Cnn;
        assert!(EncoderShape::of_mlp(&config).is_err());
    }
}
