//! Results on disk: `metrics.json` written atomically, so a crash never leaves a partial file,
//! the Markdown results tables built from a folder of them, ROC plots, and image grids of
//! reconstructions under their originals.

pub mod epsilon_plot;
pub mod figures;
pub mod grid;
mod json;
pub mod npy;
mod output;
pub mod plot;
pub mod runs;
pub mod tables;
pub mod xy_plot;

pub use json::{ReportError, write_json_atomic};
pub use output::{METRICS, OutputDir, Staged};
