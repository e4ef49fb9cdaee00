//! ppml: reproduces, on real data, attacks that extract private training data from ML models,
//! and the defenses that stop them.
//!
//! The modules run in one direction: `data → model → train → report`, wired together by
//! `experiments`. No module imports a later one; the library never prints.
#![warn(missing_docs)]

pub mod attacks;
pub mod config;
pub mod data;
pub mod device;
mod error;
pub mod experiments;
pub mod fl;
pub mod metrics;
pub mod model;
pub mod privacy;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod train;

pub use error::{Error, Result};
