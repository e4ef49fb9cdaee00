//! The model a malicious server broadcasts: its imprint block (`imprint.rs`) in front of the
//! honest classifier, which is otherwise untouched ("Robbing the Fed", Fowl et al. 2022).
//!
//! The parties cannot tell it apart from any other model: they compute their update of every
//! parameter as usual (clipped per example under DP-SGD, so the block has a tapped forward
//! too), and the imprint layer's parameters come first in the flat layout, under the names
//! [`IMPRINT_WEIGHT`] and [`IMPRINT_BIAS`].

use burn::module::Module;
use burn::tensor::Tensor;

use super::imprint::ImprintBlock;
use super::tape::TappedLayer;
use super::{Classifier, Cnn, Lenet, Mlp};

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

/// The imprint block, then the honest classifier on the block's output.
#[derive(Module, Debug)]
pub struct Imprinted {
    /// The planted block (first in the flat layout).
    pub block: ImprintBlock,
    /// The classifier the federation was training.
    pub honest: Honest,
}

impl Imprinted {
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let dims = images.dims();
        let x = self.block.forward(images.flatten(1, 3));
        self.honest.forward(x.reshape(dims))
    }

    /// [`Imprinted::forward`] with every layer tapped, the imprint layer first.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        let dims = images.dims();
        let x: Tensor<3> = images.flatten::<2>(1, 3).unsqueeze_dim(1); // [batch, 1, d]
        let x = self.block.forward_tapped(x, tapes);
        self.honest.forward_tapped(x.reshape(dims), tapes)
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
        Classifier::Imprinted(Imprinted {
            block,
            honest: Honest::of(honest).unwrap(),
        })
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
