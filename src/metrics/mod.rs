//! What an attack achieved, measured against the truth only analysis code sees: the ROC of a
//! membership-inference attack and its low-FPR figures.

pub mod binomial;
mod bootstrap;
pub mod ceiling_test;
pub mod membership;
mod roc;

pub use bootstrap::{Interval, bootstrap_interval, bootstrap_intervals};
pub use roc::{Roc, RocError, RocPoint};
