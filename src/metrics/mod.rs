//! What an attack achieved, measured against the truth only analysis code sees: the ROC of a
//! membership-inference attack and its low-FPR figures, and how much of a batch a
//! reconstruction attack recovered (SSIM, PSNR, RDLV).

pub mod audit;
pub mod audit_fdp;
pub mod binomial;
mod bootstrap;
pub mod ceiling_test;
pub mod inversion;
pub mod leakage;
pub mod membership;
mod roc;

pub use bootstrap::{Interval, bootstrap_interval, bootstrap_intervals};
pub use leakage::{LeakageError, ReconstructionMetrics, SsimThreshold, measure_reconstruction};
pub use roc::{Roc, RocError, RocPoint};
