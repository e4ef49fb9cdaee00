//! The peer's DLG case (`dlg_setup` in the peers' `opacus_bench.py`), drawn from ppml's seeded
//! streams: the 784-256-10 sigmoid MLP with PyTorch's default init (seed `s`), a true batch
//! x ~ U[0, 1) with uniform labels (seed `s + 100`), and dummy images and dummy label logits
//! ~ N(0, 1) (seed `s + 200`). The distributions are the peer's; the random streams are
//! `StdRng`'s, not torch's, so no single draw is the same.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::model::victim::squared_distance;
use crate::model::{Activation, ExplicitMlp, Mlp, ModelSpec};

/// Side of the (square, one-channel) images.
pub(super) const SIDE: usize = 28;
/// Classes of the victim.
pub(super) const CLASSES: usize = 10;

/// What L-BFGS moves, in the peer's order (`[dummy_x, dummy_y]`): the dummy images and the
/// dummy label logits.
#[derive(Module, Debug)]
pub(super) struct Dummy {
    pub(super) images: Param<Tensor<4>>,
    pub(super) label_logits: Param<Tensor<2>>,
}

/// One measured case: the victim, the gradient it leaked, the true images (for the
/// measurement only: the objective never reads them) and the attacker's starting point.
pub(super) struct Case {
    victim: ExplicitMlp,
    target: Vec<Tensor<1>>,
    truth: Vec<f32>,
    #[cfg(test)]
    labels: Vec<usize>,
    pub(super) start: Dummy,
}

impl Case {
    /// The case of `seed` at `batch` images, on the autodiff device `device`: the victim from
    /// `seed`, the true batch from `seed + 100`, the dummies from `seed + 200`, as the peer
    /// seeds them.
    pub(super) fn new(batch: usize, seed: u64, device: &Device) -> Self {
        let config = ModelSpec::mlp(&[256], Activation::Sigmoid).for_data(SIDE, CLASSES);
        let mlp = Mlp::new(&config, device, &mut StdRng::seed_from_u64(seed));
        // Constants on the autodiff device: only the dummies carry gradients.
        let victim = ExplicitMlp::of(&mlp, device);

        let mut data = StdRng::seed_from_u64(seed.wrapping_add(100));
        let truth: Vec<f32> = (0..batch * SIDE * SIDE)
            .map(|_| data.random::<f32>())
            .collect();
        let labels: Vec<usize> = (0..batch).map(|_| data.random_range(0..CLASSES)).collect();
        let target = victim.gradients(
            images_tensor(truth.clone(), batch, device),
            one_hot(&labels, device),
        );

        let mut dummy = StdRng::seed_from_u64(seed.wrapping_add(200));
        let mut normal = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut dummy))
                .collect()
        };
        let images = images_tensor(normal(batch * SIDE * SIDE), batch, device);
        let label_logits = Tensor::from_data(
            TensorData::new(normal(batch * CLASSES), [batch, CLASSES]),
            device,
        );
        Self {
            victim,
            target,
            truth,
            #[cfg(test)]
            labels,
            start: Dummy {
                images: Param::from_tensor(images),
                label_logits: Param::from_tensor(label_logits),
            },
        }
    }

    /// The DLG objective Σ over parameters of ‖∇θ CE(images, labels) − g*‖², labels given as
    /// probabilities (`[batch, classes]`, rows summing to 1).
    pub(super) fn matching_loss(&self, images: Tensor<4>, labels: Tensor<2>) -> Tensor<1> {
        squared_distance(&self.victim.gradients(images, labels), &self.target)
    }

    /// One loss-and-gradient evaluation, the closure L-BFGS calls: the objective at the
    /// dummies (labels softmax(l')), read back, and its gradient in both dummies.
    pub(super) fn evaluate(&self, dummy: &Dummy) -> (f64, GradientsParams) {
        let loss = self.matching_loss(dummy.images.val(), softmax(dummy.label_logits.val(), 1));
        let value = loss.clone().into_scalar::<f64>();
        (value, GradientsParams::from_grads(loss.backward(), dummy))
    }

    /// The true images, row-major `[batch, side²]`: what the measurement compares with.
    pub(super) fn truth(&self) -> &[f32] {
        &self.truth
    }

    /// The true images and one-hot labels as tensors on `device`.
    #[cfg(test)]
    pub(super) fn true_batch(&self, device: &Device) -> (Tensor<4>, Tensor<2>) {
        let batch = self.labels.len();
        (
            images_tensor(self.truth.clone(), batch, device),
            one_hot(&self.labels, device),
        )
    }
}

/// `pixels` as a `[batch, 1, side, side]` tensor.
fn images_tensor(pixels: Vec<f32>, batch: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(pixels, [batch, 1, SIDE, SIDE]), device)
}

/// Hard labels as `[batch, classes]` one-hot rows: cross-entropy with these is the peer's
/// `F.cross_entropy(victim(x), y)`.
fn one_hot(labels: &[usize], device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * CLASSES];
    for (row, &label) in labels.iter().enumerate() {
        v[row * CLASSES + label] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), CLASSES]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_objective_is_zero_at_the_true_images_and_labels() {
        let ad = Device::flex().autodiff();
        for batch in [1, 4] {
            let case = Case::new(batch, 0, &ad);
            let (images, labels) = case.true_batch(&ad);
            let at_truth = case.matching_loss(images, labels).into_scalar::<f64>();
            assert!(at_truth.abs() <= 1e-12, "batch {batch}: {at_truth}");
            let (at_start, _) = case.evaluate(&case.start);
            assert!(
                at_start > 1e-6,
                "batch {batch}: the dummies start away from it"
            );
        }
    }

    #[test]
    fn the_case_follows_its_seed() {
        let ad = Device::flex().autodiff();
        let (a, b, c) = (
            Case::new(1, 3, &ad),
            Case::new(1, 3, &ad),
            Case::new(1, 4, &ad),
        );
        assert_eq!(a.truth(), b.truth());
        assert_ne!(a.truth(), c.truth());
        assert!(a.truth().iter().all(|p| (0.0..1.0).contains(p)));
        assert_eq!(a.evaluate(&a.start).0, b.evaluate(&b.start).0);
    }
}
