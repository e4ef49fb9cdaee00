//! Inverting Gradients (Geiping, Bauermeister, Dröge & Moeller 2020, "Inverting Gradients —
//! How easy is it to break privacy in federated learning?").
//!
//! Where DLG matches the gradient's magnitude by L-BFGS, this matches its *direction*:
//! minimise 1 − cos(∇θ L(x′, y), g) over all parameters together, plus a total-variation prior
//! TV(x′) that favours natural images, by Adam on the *sign* of the gradient, with the images
//! boxed to the pixel range after every step and the step size cut tenfold at 3/8, 5/8 and 7/8
//! of the iterations (the defaults of the authors' code and of breaching). Labels are not
//! optimised: they are read off the last layer's bias gradient first ([`super::labels`]).

use burn::tensor::{Tensor, TensorData};
use rand::RngExt;

use super::labels::labels_from_bias;
use super::{GradientView, Reconstruction};
use crate::attacks::Attack;
use crate::config::{ConfigError, at_least_one, positive};
use crate::runtime::Runtime;

/// Adam's moment decay rates and its ε.
const BETAS: (f64, f64) = (0.9, 0.999);
const ADAM_EPS: f64 = 1e-8;

/// The attack's settings.
#[derive(Debug, Clone, Copy)]
pub struct InvertingGradients {
    /// Signed-Adam steps per trial (the authors: 24,000; fewer suffice at 28×28).
    pub iterations: usize,
    /// Trials from fresh random images; the lowest objective wins.
    pub restarts: usize,
    /// Weight of the total-variation prior (the authors' command line: 1e-4).
    pub tv: f64,
    /// Adam's step size before the decays (the authors: 0.1).
    pub lr: f64,
}

impl Default for InvertingGradients {
    fn default() -> Self {
        Self {
            iterations: 2_000,
            restarts: 1,
            tv: 1e-4,
            lr: 0.1,
        }
    }
}

/// 1 − cosine similarity between two gradients given per parameter.
fn cosine_distance(g: &[Tensor<1>], t: &[Tensor<1>]) -> Tensor<1> {
    let dot = g
        .iter()
        .zip(t)
        .map(|(a, b)| (a.clone() * b.clone()).sum())
        .reduce(|a, b| a + b)
        .expect("a model has parameters");
    let norm = |v: &[Tensor<1>]| {
        v.iter()
            .map(|a| a.clone().powi_scalar(2).sum())
            .reduce(|a, b| a + b)
            .expect("a model has parameters")
            .sqrt()
    };
    let denominator = (norm(g) * norm(t)).add_scalar(1e-12);
    (dot / denominator).neg().add_scalar(1.0)
}

/// Anisotropic total variation: the mean absolute difference of neighbouring pixels.
///
/// # Shapes
/// - `x`: `[batch, 1, side, side]`
fn total_variation(x: Tensor<4>) -> Tensor<1> {
    let [b, c, h, w] = x.dims();
    let dx =
        x.clone().slice([0..b, 0..c, 0..h, 1..w]) - x.clone().slice([0..b, 0..c, 0..h, 0..w - 1]);
    let dy = x.clone().slice([0..b, 0..c, 1..h, 0..w]) - x.slice([0..b, 0..c, 0..h - 1, 0..w]);
    dx.abs().mean() + dy.abs().mean()
}

impl InvertingGradients {
    fn check(&self) -> Result<(), ConfigError> {
        at_least_one("iterations", self.iterations)?;
        at_least_one("restarts", self.restarts)?;
        positive("lr", self.lr)?;
        if !(self.tv >= 0.0 && self.tv.is_finite()) {
            return Err(ConfigError::invalid(
                "tv",
                self.tv,
                "must be a finite number ≥ 0",
            ));
        }
        Ok(())
    }

    /// The learning rate at step `t`: cut tenfold at 3/8, 5/8 and 7/8 of the run.
    fn lr_at(&self, t: usize) -> f64 {
        let n = self.iterations as f64;
        let cuts = [3.0, 5.0, 7.0]
            .iter()
            .filter(|&&k| t as f64 >= k / 8.0 * n)
            .count();
        self.lr * 0.1f64.powi(cuts as i32)
    }

    /// One trial from uniform random images; returns the images and the final cosine distance.
    fn trial(
        &self,
        view: &GradientView,
        labels: &[usize],
        rt: &mut Runtime<'_>,
    ) -> (Vec<f32>, f64) {
        let ad = rt.device.clone().autodiff();
        let (batch, side) = (view.batch_size(), view.side());
        let classes = view.gradient().last().expect("parameters").dims()[0];
        let (model, target) = view.on_device(&ad);
        let mut onehot = vec![0.0f32; batch * classes];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * classes + l] = 1.0;
        }
        let y = Tensor::<2>::from_data(TensorData::new(onehot, [batch, classes]), &ad);
        let shape = [batch, 1, side, side];
        let n = batch * side * side;
        let mut x: Vec<f32> = (0..n).map(|_| rt.rng.random::<f32>()).collect();
        let (mut m, mut v) = (vec![0.0f64; n], vec![0.0f64; n]);
        let mut distance = f64::INFINITY;
        for t in 0..self.iterations {
            let images =
                Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &ad).require_grad();
            let cos = cosine_distance(&model.gradients(images.clone(), y.clone()), &target);
            distance = cos.clone().into_scalar::<f64>();
            if !distance.is_finite() {
                break;
            }
            let objective = cos + total_variation(images.clone()).mul_scalar(self.tv);
            let grads = objective.backward();
            let g = images
                .grad(&grads)
                .expect("the images require gradients")
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("a float gradient");
            // Adam on the sign of the gradient, then back into the pixel range.
            let lr = self.lr_at(t);
            let step = (t + 1) as i32;
            let (c1, c2) = (1.0 - BETAS.0.powi(step), 1.0 - BETAS.1.powi(step));
            for i in 0..n {
                let s = f64::from(g[i].signum()) * f64::from(u8::from(g[i] != 0.0));
                m[i] = BETAS.0 * m[i] + (1.0 - BETAS.0) * s;
                v[i] = BETAS.1 * v[i] + (1.0 - BETAS.1) * s * s;
                let update = lr * (m[i] / c1) / ((v[i] / c2).sqrt() + ADAM_EPS);
                x[i] = (f64::from(x[i]) - update).clamp(0.0, 1.0) as f32;
            }
        }
        (x, distance)
    }
}

impl Attack<GradientView> for InvertingGradients {
    type Output = Reconstruction;

    fn run(&self, view: &GradientView, rt: &mut Runtime<'_>) -> crate::Result<Reconstruction> {
        self.check()?;
        let labels = labels_from_bias(view);
        let mut best: Option<(Vec<f32>, f64)> = None;
        for _ in 0..self.restarts {
            let (x, d) = self.trial(view, &labels, rt);
            if best.as_ref().is_none_or(|(_, b)| d < *b) {
                best = Some((x, d));
            }
        }
        let (x, distance) = best.expect("restarts ≥ 1 was checked");
        let side2 = view.side() * view.side();
        Ok(Reconstruction {
            images: x.chunks(side2).map(<[f32]>::to_vec).collect(),
            labels,
            matching_loss: Some(distance),
            evaluations: self.iterations * self.restarts,
        })
    }
}
