//! The attack proper: read the imprint rows out of the released sum as for the pixel-space
//! imprint ([`read_bins`]), which now gives latents, then decode every latent to an image.

use super::view::ScaleMiaView;
use crate::Result;
use crate::attacks::Attack;
use crate::attacks::imprint::attack::{min_weight, read_bins};
use crate::attacks::imprint::recover::BinImage;
use crate::runtime::Runtime;

/// Scale-MIA (Shi et al., NDSS 2025) on the secure aggregate.
#[derive(Debug, Clone, Copy)]
pub struct ScaleMia {
    /// Under a noisy aggregate, a bin is occupied when its Δb exceeds this many standard
    /// deviations of the noise in Δb (as [`Imprint`](crate::attacks::imprint::Imprint)'s).
    pub noise_sds: f64,
}

impl Default for ScaleMia {
    fn default() -> Self {
        // As for the pixel-space imprint: about one false bin over 40,000 empty ones.
        Self { noise_sds: 4.0 }
    }
}

impl ScaleMia {
    /// One latent per occupied bin (ΔW ÷ Δb, h values), the heaviest bins first: what the
    /// rows give before the decoder.
    pub fn latents(&self, view: &ScaleMiaView) -> Vec<BinImage> {
        let floor = min_weight(&view.aggregate, self.noise_sds);
        read_bins(&view.aggregate, view.secrets.cutoffs.len(), floor)
    }
}

impl Attack<ScaleMiaView> for ScaleMia {
    /// One decoded image per occupied bin, the heaviest bins (largest |Δb|) first.
    type Output = Vec<BinImage>;

    fn run(&self, view: &ScaleMiaView, _rt: &mut Runtime<'_>) -> Result<Vec<BinImage>> {
        let mut found = self.latents(view);
        let latents: Vec<Vec<f32>> = found.iter().map(|b| b.image.clone()).collect();
        let images = view.secrets.decoder.decode(&latents);
        for (bin, image) in found.iter_mut().zip(images) {
            bin.image = image;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::imprint::AggregateView;
    use crate::attacks::imprint::bins::Cutoffs;
    use crate::attacks::scale_mia::autoencoder::{
        AutoencoderOptions, EncoderShape, TrainedAutoencoder, train_autoencoder,
    };
    use crate::attacks::scale_mia::plant::{ScaleMiaServer, latent_statistic, mean_direction};
    use crate::fl::federated::Server;
    use crate::model::{
        Activation, Classifier, ModelConfig, ModelDelta, ModelKind, ModelSnapshot, ParamLayout,
    };
    use crate::progress::Progress;
    use crate::train::cross_entropy;
    use crate::train::dp::ParamGrads;
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Int, Tensor, TensorData};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    const SIDE: usize = 6;
    const HIDDEN: usize = 10;

    fn config(kind: ModelKind) -> ModelConfig {
        ModelConfig {
            kind,
            activation: Activation::Tanh,
            mlp_hidden: vec![HIDDEN],
            cnn_channels: [2, 4],
            cnn_dense: 8,
            side: if kind == ModelKind::Mlp { SIDE } else { 16 },
            classes: 3,
        }
    }

    fn images(n: usize, rng: &mut StdRng) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| (0..SIDE * SIDE).map(|_| rng.random::<f32>()).collect())
            .collect()
    }

    /// An autoencoder of the MLP's first-layer shape; a few epochs: only its shape matters here.
    fn autoencoder(rt: &mut Runtime<'_>) -> TrainedAutoencoder {
        let aux = images(32, &mut StdRng::seed_from_u64(4));
        let shape = EncoderShape::of_mlp(&config(ModelKind::Mlp)).unwrap();
        let opts = AutoencoderOptions {
            epochs: 2,
            batch_size: 16,
            decoder_hidden: 16,
            ..AutoencoderOptions::default()
        };
        train_autoencoder(&aux, shape, &opts, rt).unwrap()
    }

    /// The planted round at unit scale: three samples, cut-offs between their latent
    /// statistics (the oracle placement), their summed gradient through burn's autodiff, and
    /// the attack gives back every sample's latent and its decoded image.
    #[test]
    fn three_samples_in_three_bins_come_back_as_their_latents_and_decoded_images() {
        let device = Device::flex();
        let (mut rng, progress) = (StdRng::seed_from_u64(8), Progress::hidden());
        let mut rt = Runtime::new(&device, &mut rng, &progress);
        let TrainedAutoencoder {
            encoder, decoder, ..
        } = autoencoder(&mut rt);
        let batch = images(3, &mut StdRng::seed_from_u64(12));
        let direction = mean_direction(&encoder);
        let cutoffs = Cutoffs::oracle(&latent_statistic(&encoder, &batch, &direction));
        let mut server =
            ScaleMiaServer::new(encoder.clone(), decoder.clone(), direction, cutoffs).unwrap();
        let ad = device.clone().autodiff();
        let global = Classifier::new(&config(ModelKind::Mlp), &ad, &mut StdRng::seed_from_u64(1));
        let (model, secrets) = server.vet_model(global);
        let x = TensorData::new(batch.concat(), [3, 1, SIDE, SIDE]);
        let y = TensorData::new(vec![0i64, 2, 1], [3]);
        let loss = cross_entropy(
            model.forward(Tensor::<4>::from_data(x, &ad)),
            Tensor::<1, Int>::from_data(y, &ad),
        )
        .mul_scalar(3.0); // the summed loss of the three samples
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let sum = ParamGrads::from_autodiff(&model, &grads).to_flat();
        let view = ScaleMiaView {
            aggregate: AggregateView {
                broadcast: ModelSnapshot::of(&model),
                sum: ModelDelta::new(ParamLayout::of(&model), sum),
                samples: 3,
                noise_std: 0.0,
                rounding: 0.0,
            },
            secrets,
        };
        let attack = ScaleMia::default();
        let latents = attack.latents(&view);
        let truth = encoder.encode(&batch);
        let mut bins: Vec<usize> = latents.iter().map(|b| b.bin).collect();
        bins.sort_unstable();
        assert_eq!(bins, vec![0, 1, 2]);
        let weights: Vec<f64> = latents.iter().map(|b| b.weight.abs()).collect();
        assert!(weights.windows(2).all(|w| w[0] >= w[1]), "{weights:?}");
        let stats = latent_statistic(&encoder, &batch, &view.secrets.direction);
        // Which sample lies in which bin, from the truth: only the test may look.
        let sample_of = |bin: usize| {
            (0..3)
                .find(|&j| view.secrets.cutoffs.bin_of(stats[j]) == Some(bin))
                .unwrap()
        };
        for found in &latents {
            let want = &truth[sample_of(found.bin)];
            for (a, b) in found.image.iter().zip(want) {
                assert!((a - b).abs() < 1e-4, "bin {}: {a} vs {b}", found.bin);
            }
        }
        let decoded = attack.run(&view, &mut rt).unwrap();
        let expected = decoder.decode(&truth);
        for found in &decoded {
            assert_eq!(found.image.len(), SIDE * SIDE);
            for (a, b) in found.image.iter().zip(&expected[sample_of(found.bin)]) {
                assert!((a - b).abs() < 1e-4, "bin {}: {a} vs {b}", found.bin);
            }
        }
    }

    #[test]
    fn the_server_refuses_a_model_its_encoder_does_not_fit() {
        let device = Device::flex();
        let (mut rng, progress) = (StdRng::seed_from_u64(3), Progress::hidden());
        let mut rt = Runtime::new(&device, &mut rng, &progress);
        let TrainedAutoencoder {
            encoder, decoder, ..
        } = autoencoder(&mut rt);
        let direction = mean_direction(&encoder);
        let cutoffs = Cutoffs::from_values(vec![-1.0, 0.0]);
        let short = ScaleMiaServer::new(
            encoder.clone(),
            decoder.clone(),
            vec![0.1; 3],
            cutoffs.clone(),
        );
        assert!(short.err().unwrap().to_string().contains("10 coordinates"));
        let server = ScaleMiaServer::new(encoder, decoder, direction, cutoffs).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let cnn = Classifier::new(&config(ModelKind::Cnn), &device, &mut rng);
        assert!(server.check(&cnn).unwrap_err().to_string().contains("MLP"));
        let mut wide = config(ModelKind::Mlp);
        wide.mlp_hidden = vec![HIDDEN + 1];
        let wide = Classifier::new(&wide, &device, &mut rng);
        assert!(server.plant(wide).is_err());
        let mut relu = config(ModelKind::Mlp);
        relu.activation = Activation::Relu;
        let relu = Classifier::new(&relu, &device, &mut rng);
        assert!(
            server
                .check(&relu)
                .unwrap_err()
                .to_string()
                .contains("Tanh")
        );
        let fits = Classifier::new(&config(ModelKind::Mlp), &device, &mut rng);
        assert!(server.check(&fits).is_ok());
    }
}
