//! Training classifiers: mini-batch SGD (with momentum) or Adam over seeded shuffles, with
//! per-epoch metrics and checkpoints; DP-SGD in [`dp`].

pub mod bench;
mod checkpoint;
pub mod dp;
mod evaluate;
mod explicit;
mod fit;
mod loss;
mod options;
mod sgd;

pub use checkpoint::load_checkpoint;
pub(crate) use evaluate::batch_tensors;
pub use evaluate::{Evaluation, evaluate, evaluate_with_mean_softmax};
pub(crate) use explicit::explicit_gradient;
pub use fit::{FitSpec, Fitted, dp_sgd, fit};
pub use loss::{cross_entropy, per_example_cross_entropy};
pub use options::{LrSchedule, OptimizerKind, TrainOptions};
pub use sgd::{Diverged, EpochRecord, Trained, train, train_audited};
pub(crate) use sgd::{model_device, optimizer, step};
