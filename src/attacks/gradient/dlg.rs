//! Deep Leakage from Gradients (Zhu, Liu & Han 2019) and its label-first variant iDLG (Zhao,
//! Mopuri & Bilen 2020).
//!
//! Dummy images x' (and, in DLG proper, dummy label logits l') are moved by L-BFGS until their
//! gradient matches the observed one: min ‖∇θ L(x', softmax(l')) − g*‖², summed over
//! parameters. The gradient is the victim's explicit one ([`crate::model::ExplicitMlp`]), so
//! burn's first-order autodiff gives d/dx' of the objective. As the reference code's issues
//! show (pytorch#5953), L-BFGS without a line search diverges here: the strong-Wolfe search is
//! used. A trial whose loss turns non-finite ends; several trials start from fresh random
//! images and the one with the lowest matching loss is kept.

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, LBFGSConfig, LineSearchFn};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;

use super::labels::labels_from_bias;
use super::{GradientView, Reconstruction};
use crate::attacks::Attack;
use crate::config::{ConfigError, at_least_one};
use crate::model::victim::squared_distance;
use crate::runtime::Runtime;

/// L-BFGS iterations between two checks of the loss.
const CHUNK: usize = 20;

/// How labels are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelMode {
    /// DLG: dummy label logits optimised with the images.
    Joint,
    /// iDLG: the labels read off the last layer's gradient first (exact at batch 1; for a
    /// batch, the bias-corrected counts of `labels.rs`), then images only.
    Inferred,
}

/// The attack's settings.
#[derive(Debug, Clone, Copy)]
pub struct Dlg {
    /// Joint (DLG) or inferred (iDLG) labels.
    pub labels: LabelMode,
    /// L-BFGS iterations per trial at most (the reference code: 300).
    pub iterations: usize,
    /// Trials from fresh random images; the lowest matching loss wins.
    pub restarts: usize,
    /// A trial stops once the matching loss is below this.
    pub tolerance: f64,
}

impl Default for Dlg {
    fn default() -> Self {
        Self {
            labels: LabelMode::Joint,
            iterations: 300,
            restarts: 2,
            tolerance: 1e-10,
        }
    }
}

/// What L-BFGS moves: the dummy images, and the dummy label logits when they are optimised.
#[derive(Module, Debug)]
struct Dummy {
    images: Param<Tensor<4>>,
    label_logits: Option<Param<Tensor<2>>>,
}

/// One trial's outcome.
struct Trial {
    images: Vec<f32>,
    labels: Vec<usize>,
    loss: f64,
    evaluations: usize,
}

impl Dlg {
    fn check(&self, view: &GradientView) -> Result<(), ConfigError> {
        at_least_one("iterations", self.iterations)?;
        at_least_one("restarts", self.restarts)?;
        at_least_one("batch_size", view.batch_size())?;
        Ok(())
    }

    /// One trial from random images (uniform in [0, 1], the pixel range) and, in DLG, N(0, 1)
    /// label logits, as the reference code draws them.
    fn trial(&self, view: &GradientView, known: Option<&[usize]>, rt: &mut Runtime<'_>) -> Trial {
        let ad = rt.device.clone().autodiff();
        let (batch, side) = (view.batch_size(), view.side());
        let classes = view.gradient().last().expect("parameters").dims()[0];
        let pixels: Vec<f32> = (0..batch * side * side)
            .map(|_| rt.rng.random::<f32>())
            .collect();
        let images = Tensor::<4>::from_data(TensorData::new(pixels, [batch, 1, side, side]), &ad);
        let label_logits = (known.is_none()).then(|| {
            let z: Vec<f32> = (0..batch * classes)
                .map(|_| {
                    rand_distr::Distribution::<f32>::sample(&rand_distr::StandardNormal, rt.rng)
                })
                .collect();
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(z, [batch, classes]),
                &ad,
            ))
        });
        let fixed = known.map(|labels| one_hot(labels, classes, &ad));
        let (model, target) = view.on_device(&ad);
        let mut dummy = Dummy {
            images: Param::from_tensor(images),
            label_logits,
        };
        let mut evaluations = 0;
        let objective = |d: &Dummy| {
            let labels = match &d.label_logits {
                Some(l) => softmax(l.val(), 1),
                None => fixed.clone().expect("labels are fixed when not optimised"),
            };
            squared_distance(&model.gradients(d.images.val(), labels), &target)
        };
        let mut optim = LBFGSConfig::new()
            .with_max_iter(CHUNK)
            .with_history_size(100)
            .with_line_search_fn(LineSearchFn::StrongWolfe)
            .init();
        let mut loss = f64::INFINITY;
        let mut done = 0;
        while done < self.iterations && loss > self.tolerance {
            let (next, value) = optim.step(1.0, dummy.clone(), |d: Dummy| {
                evaluations += 1;
                let l = objective(&d);
                let value = l.clone().into_scalar::<f64>();
                (value, GradientsParams::from_grads(l.backward(), &d))
            });
            done += CHUNK;
            if !value.is_finite() {
                // A diverging trial is a failed trial, not a failed run.
                break;
            }
            dummy = next;
            loss = value;
        }
        let final_loss = objective(&dummy).into_scalar::<f64>();
        let labels = match (known, &dummy.label_logits) {
            (Some(labels), _) => labels.to_vec(),
            (None, Some(l)) => argmax_rows(l.val()),
            (None, None) => unreachable!("labels are optimised when not known"),
        };
        Trial {
            images: dummy
                .images
                .val()
                .inner()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("float images"),
            labels,
            loss: if final_loss.is_finite() {
                final_loss
            } else {
                f64::INFINITY
            },
            evaluations,
        }
    }
}

impl Attack<GradientView> for Dlg {
    type Output = Reconstruction;

    fn run(&self, view: &GradientView, rt: &mut Runtime<'_>) -> crate::Result<Reconstruction> {
        self.check(view)?;
        let known = (self.labels == LabelMode::Inferred).then(|| labels_from_bias(view));
        let mut best: Option<Trial> = None;
        let mut evaluations = 0;
        for _ in 0..self.restarts {
            let trial = self.trial(view, known.as_deref(), rt);
            evaluations += trial.evaluations;
            if best.as_ref().is_none_or(|b| trial.loss < b.loss) {
                best = Some(trial);
            }
        }
        let best = best.expect("restarts ≥ 1 was checked");
        let side2 = view.side() * view.side();
        Ok(Reconstruction {
            images: best.images.chunks(side2).map(<[f32]>::to_vec).collect(),
            labels: best.labels,
            matching_loss: Some(best.loss),
            evaluations,
        })
    }
}

/// `labels` one-hot, as `[labels, classes]` soft labels.
fn one_hot(labels: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        v[row * classes + label] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), classes]), device)
}

/// The index of each row's largest value.
fn argmax_rows(t: Tensor<2>) -> Vec<usize> {
    let [rows, cols] = t.dims();
    let v = t
        .inner()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float logits");
    (0..rows)
        .map(|r| {
            let row = &v[r * cols..(r + 1) * cols];
            (0..cols)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .expect("at least one class")
        })
        .collect()
}
