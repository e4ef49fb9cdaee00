//! The model a malicious server broadcasts: its imprint block (`imprint.rs`) in front of the
//! honest classifier, which is otherwise untouched ("Robbing the Fed", Fowl et al. 2022).
//!
//! The parties cannot tell it apart from any other model: they compute their update of every
//! parameter as usual (clipped per example under DP-SGD, so the block has a tapped forward
//! too), and the imprint layer's parameters come first in the flat layout, under the names
//! [`IMPRINT_WEIGHT`] and [`IMPRINT_BIAS`].
//!
//! Scale-MIA (Shi et al., NDSS 2025) moves the block behind the first hidden layer of an MLP,
//! onto a latent representation ([`Imprinted::at_depth`]); nothing else changes.

use burn::module::Module;
use burn::tensor::Tensor;

use super::imprint::ImprintBlock;
use super::tape::TappedLayer;
use super::{Classifier, Cnn, Lenet, Mlp};
use crate::config::ConfigError;

/// The imprint layer's weight `[d, k]` in the flat layout of an [`Imprinted`] model.
pub const IMPRINT_WEIGHT: &str = "block.imprint.weight";
/// The imprint layer's bias `[k]` in the flat layout of an [`Imprinted`] model.
pub const IMPRINT_BIAS: &str = "block.imprint.bias";

/// The honest classifier behind the block: a [`Classifier`] that is not itself imprinted
/// (burn derives no `Module` for a boxed, recursive one).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Honest {
    /// Fully connected network.
    Mlp(Mlp),
    /// Convolutional network.
    Cnn(Cnn),
    /// DLG's LeNet.
    Lenet(Lenet),
}

impl Honest {
    /// The honest classifier `model` is, or `None` when it is already imprinted.
    pub fn of(model: Classifier) -> Option<Self> {
        match model {
            Classifier::Mlp(m) => Some(Honest::Mlp(m)),
            Classifier::Cnn(m) => Some(Honest::Cnn(m)),
            Classifier::Lenet(m) => Some(Honest::Lenet(m)),
            Classifier::Imprinted(_) => None,
        }
    }

    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Honest::Mlp(m) => m.forward(images),
            Honest::Cnn(m) => m.forward(images),
            Honest::Lenet(m) => m.forward(images),
        }
    }

    fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        match self {
            Honest::Mlp(m) => m.forward_tapped(images, tapes),
            Honest::Cnn(m) => m.forward_tapped(images, tapes),
            Honest::Lenet(m) => m.forward_tapped(images, tapes),
        }
    }
}

/// The imprint block, then the honest classifier on the block's output; or, at a depth d > 0
/// (an MLP only), the MLP's first d layers, the block on their output, then the rest.
///
/// Depth 0 is the pixel-space imprint of Fowl et al. 2022. Depth 1 is Scale-MIA's (Shi et al.,
/// NDSS 2025): the first layer, which the server has replaced by an encoder it trained, maps
/// each image to a latent, and the block's rows measure the latent, so that the rows' gradient
/// gives latents back (a decoder the server also trained lifts them to images). The block
/// stays the first field whatever the depth, so its parameters come first in the flat layout.
#[derive(Module, Debug)]
pub struct Imprinted {
    /// The planted block (first in the flat layout).
    pub block: ImprintBlock,
    /// The classifier the federation was training (private: the depth must keep fitting it).
    honest: Honest,
    /// How many of the honest MLP's layers (each with its activation) run before the block.
    /// Private: only the constructors set it, after checking it fits `honest`.
    #[module(skip)]
    depth: usize,
}

impl Imprinted {
    /// The block on the pixels, in front of any honest classifier (Fowl et al. 2022).
    pub fn on_pixels(block: ImprintBlock, honest: Honest) -> Self {
        Self {
            block,
            honest,
            depth: 0,
        }
    }

    /// The block after the first `depth` layers of `honest` (0: on the pixels).
    ///
    /// # Errors
    /// A depth above 0 for a classifier that is not an MLP (only a dense stack has a latent of
    /// one width to plant on), a depth that leaves no layer after the block, or a block whose
    /// width differs from that of the layer it follows.
    pub fn at_depth(
        block: ImprintBlock,
        honest: Honest,
        depth: usize,
    ) -> Result<Self, ConfigError> {
        if depth == 0 {
            return Ok(Self::on_pixels(block, honest));
        }
        let Honest::Mlp(mlp) = &honest else {
            return Err(ConfigError::invalid(
                "imprint depth",
                depth,
                "only an MLP can carry the imprint block after a hidden layer; use kind = \"mlp\" \
                 or depth 0",
            ));
        };
        if depth >= mlp.layers.len() {
            return Err(ConfigError::invalid(
                "imprint depth",
                depth,
                format!(
                    "the MLP has {} layers: the block must sit before the last",
                    mlp.layers.len()
                ),
            ));
        }
        let width = mlp.layers[depth - 1].weight.dims()[1];
        let input = block.imprint.weight.dims()[0];
        if input != width {
            return Err(ConfigError::invalid(
                "imprint block width",
                input,
                format!("the block measures a {width}-wide latent at depth {depth}"),
            ));
        }
        Ok(Self {
            block,
            honest,
            depth,
        })
    }

    /// The classifier the federation was training.
    pub fn honest(&self) -> &Honest {
        &self.honest
    }

    /// How many honest layers run before the block (0: on the pixels).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The honest MLP when the block sits after some of its layers; `None` at depth 0.
    fn split_mlp(&self) -> Option<&Mlp> {
        match (&self.honest, self.depth) {
            (_, 0) => None,
            (Honest::Mlp(mlp), _) => Some(mlp),
            _ => unreachable!("`at_depth` plants after a hidden layer of an MLP only"),
        }
    }

    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let Some(mlp) = self.split_mlp() else {
            let dims = images.dims();
            let x = self.block.forward(images.flatten(1, 3));
            return self.honest.forward(x.reshape(dims));
        };
        let x = mlp.forward_span(images.flatten(1, 3), 0..self.depth); // [batch, width]
        let x = self.block.forward(x);
        mlp.forward_span(x, self.depth..mlp.layers.len()) // [batch, classes]
    }

    /// [`Imprinted::forward`] with every layer tapped, in forward order.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        let dims = images.dims();
        let x: Tensor<3> = images.flatten::<2>(1, 3).unsqueeze_dim(1); // [batch, 1, d]
        let Some(mlp) = self.split_mlp() else {
            let x = self.block.forward_tapped(x, tapes);
            return self.honest.forward_tapped(x.reshape(dims), tapes);
        };
        let x = mlp.forward_span_tapped(x, 0..self.depth, tapes); // [batch, 1, width]
        let x = self.block.forward_tapped(x, tapes);
        let x = mlp.forward_span_tapped(x, self.depth..mlp.layers.len(), tapes);
        let classes = x.dims()[2];
        x.reshape([dims[0], classes]) // [batch, classes]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ModelConfig, ModelKind, ModelSnapshot, ParamLayout};
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Big enough for the CNN's convolutions and pools.
    const SIDE: usize = 16;

    fn imprinted(kind: ModelKind, device: &Device) -> Classifier {
        let config = ModelConfig {
            kind,
            activation: Activation::Tanh,
            mlp_hidden: vec![8],
            cnn_channels: [2, 4],
            cnn_dense: 8,
            side: SIDE,
            classes: 3,
        };
        let honest = Classifier::new(&config, device, &mut StdRng::seed_from_u64(1));
        let d = SIDE * SIDE;
        let block = ImprintBlock::planted(&vec![1.0 / d as f64; d], &[-1.0, 0.3, 0.5], device);
        Classifier::Imprinted(Imprinted::on_pixels(block, Honest::of(honest).unwrap()))
    }

    #[test]
    fn the_imprint_comes_first_in_the_layout_under_its_names() {
        let device = Device::flex();
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
            let model = imprinted(kind, &device);
            let layout = ParamLayout::of(&model);
            let names: Vec<&str> = layout.params().iter().map(|p| p.name()).collect();
            assert_eq!(&names[..2], &[IMPRINT_WEIGHT, IMPRINT_BIAS], "{kind:?}");
            assert_eq!(
                layout.get(IMPRINT_WEIGHT).unwrap().shape(),
                &[SIDE * SIDE, 3]
            );
            assert_eq!(layout.get(IMPRINT_BIAS).unwrap().offset(), SIDE * SIDE * 3);
            let snapshot = ModelSnapshot::of(&model);
            assert_eq!(snapshot.param(IMPRINT_BIAS).unwrap()[1], -0.1);
            assert!(Honest::of(model).is_none());
        }
    }

    #[test]
    fn the_tapped_forward_gives_the_same_logits() {
        let device = Device::flex().autodiff();
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
            let model = imprinted(kind, &device);
            let images = Tensor::<4>::random(
                [3, 1, SIDE, SIDE],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let plain = model.forward(images.clone());
            let mut tapes = Vec::new();
            let tapped = model.forward_tapped(images, &mut tapes);
            let gap = (plain - tapped).abs().max().into_scalar::<f32>();
            assert!(gap < 1e-5, "{kind:?}: {gap}");
            assert_eq!(tapes[0].weight, {
                let Classifier::Imprinted(m) = &model else {
                    unreachable!()
                };
                m.block.imprint.weight.id
            });
        }
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;
    use crate::model::{Activation, ModelConfig, ModelKind, ParamLayout};
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Distribution, Int, TensorData};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const SIDE: usize = 4;
    const HIDDEN: usize = 6;

    fn honest(kind: ModelKind, device: &Device) -> Honest {
        let config = ModelConfig {
            kind,
            activation: Activation::Tanh,
            mlp_hidden: vec![HIDDEN, 5],
            cnn_channels: [2, 4],
            cnn_dense: 8,
            side: if kind == ModelKind::Mlp { SIDE } else { 16 },
            classes: 3,
        };
        Honest::of(Classifier::new(
            &config,
            device,
            &mut StdRng::seed_from_u64(2),
        ))
        .unwrap()
    }

    fn block(width: usize, cutoffs: &[f64], device: &Device) -> ImprintBlock {
        ImprintBlock::planted(&vec![1.0 / width as f64; width], cutoffs, device)
    }

    #[test]
    fn a_block_after_the_first_layer_still_comes_first_in_the_layout() {
        let device = Device::flex();
        let planted = block(HIDDEN, &[-1.0, 0.0], &device);
        let model = Imprinted::at_depth(planted, honest(ModelKind::Mlp, &device), 1).unwrap();
        assert_eq!(model.depth(), 1);
        let model = Classifier::Imprinted(model);
        let layout = ParamLayout::of(&model);
        let names: Vec<&str> = layout.params().iter().map(|p| p.name()).collect();
        assert_eq!(
            &names[..3],
            &[IMPRINT_WEIGHT, IMPRINT_BIAS, "honest.layers.0.weight"]
        );
        assert_eq!(layout.get(IMPRINT_WEIGHT).unwrap().shape(), &[HIDDEN, 2]);
        assert_eq!(layout.get(IMPRINT_BIAS).unwrap().offset(), HIDDEN * 2);
    }

    #[test]
    fn a_depth_that_does_not_fit_the_classifier_is_refused() {
        let device = Device::flex();
        let cuts = [-1.0, 0.0];
        let cnn = Imprinted::at_depth(
            block(HIDDEN, &cuts, &device),
            honest(ModelKind::Cnn, &device),
            1,
        );
        let e = cnn.err().unwrap().to_string();
        assert!(e.contains("only an MLP"), "{e}");
        let mlp = || honest(ModelKind::Mlp, &device);
        let deep = Imprinted::at_depth(block(5, &cuts, &device), mlp(), 3);
        assert!(deep.err().unwrap().to_string().contains("before the last"));
        let wide = Imprinted::at_depth(block(SIDE * SIDE, &cuts, &device), mlp(), 1);
        assert!(wide.err().unwrap().to_string().contains("6-wide latent"));
        assert!(Imprinted::at_depth(block(5, &cuts, &device), mlp(), 2).is_ok());
        assert!(Imprinted::at_depth(block(SIDE * SIDE, &cuts, &device), mlp(), 0).is_ok());
    }

    #[test]
    fn the_tapped_forward_at_depth_one_gives_the_same_logits() {
        let device = Device::flex().autodiff();
        let planted = block(HIDDEN, &[-1.0, -0.1, 0.1], &device);
        let model = Imprinted::at_depth(planted, honest(ModelKind::Mlp, &device), 1).unwrap();
        let weight = model.block.imprint.weight.id;
        let model = Classifier::Imprinted(model);
        let images =
            Tensor::<4>::random([3, 1, SIDE, SIDE], Distribution::Uniform(0.0, 1.0), &device);
        let plain = model.forward(images.clone());
        let mut tapes = Vec::new();
        let tapped = model.forward_tapped(images, &mut tapes);
        let gap = (plain - tapped).abs().max().into_scalar::<f32>();
        assert!(gap < 1e-5, "{gap}");
        // Forward order: the first hidden layer, the block, then the other two layers.
        assert_eq!(tapes.len(), 4);
        assert_eq!(tapes[1].weight, weight);
    }

    /// Scale-MIA's premise, through burn's autodiff: at depth 1 the imprint rows' gradient
    /// difference over the bias difference is the latent h(x) = act(layers[0](x)) of a sample
    /// alone in its bin.
    #[test]
    fn a_sample_alone_in_its_bin_gives_back_its_latent() {
        let device = Device::flex().autodiff();
        let honest = honest(ModelKind::Mlp, &device);
        let m = 4;
        let images =
            Tensor::<4>::random([m, 1, SIDE, SIDE], Distribution::Uniform(0.0, 1.0), &device);
        let Honest::Mlp(mlp) = &honest else {
            unreachable!()
        };
        let latents: Vec<f32> = mlp
            .forward_span(images.clone().flatten(1, 3), 0..1)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let latent = |j: usize| &latents[j * HIDDEN..(j + 1) * HIDDEN];
        let stats: Vec<f64> = (0..m)
            .map(|j| latent(j).iter().map(|&v| f64::from(v)).sum::<f64>() / HIDDEN as f64)
            .collect();
        let mut sorted = stats.clone();
        sorted.sort_by(f64::total_cmp);
        let mut cutoffs = vec![sorted[0] - 1.0];
        cutoffs.extend(sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        let planted = block(HIDDEN, &cutoffs, &device);
        let ids = (
            planted.imprint.weight.id,
            planted.imprint.bias.as_ref().unwrap().id,
        );
        let model = Classifier::Imprinted(Imprinted::at_depth(planted, honest, 1).unwrap());
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 1], [m]), &device);
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let values = |t: Tensor<1>| -> Vec<f64> { t.into_data().try_into_vec_as::<f64>().unwrap() };
        let gw = values(grads.get::<2>(ids.0).unwrap().flatten(0, 1)); // [HIDDEN, k]
        let gb = values(grads.get::<1>(ids.1).unwrap());
        let k = cutoffs.len();
        let w = |p: usize, i: usize| if i < k { gw[p * k + i] } else { 0.0 };
        let b = |i: usize| if i < k { gb[i] } else { 0.0 };
        for (j, &stat) in stats.iter().enumerate() {
            let bin = cutoffs.iter().rposition(|&c| stat > c).unwrap();
            let db = b(bin) - b(bin + 1);
            for (p, &h) in latent(j).iter().enumerate() {
                let got = (w(p, bin) - w(p, bin + 1)) / db;
                assert!(
                    (got - f64::from(h)).abs() < 1e-4,
                    "sample {j}, coordinate {p}: {got} vs {h}"
                );
            }
        }
    }
}
