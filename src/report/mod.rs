//! Results on disk: `metrics.json` written atomically, so a crash never leaves a partial file,
//! and the Markdown results table built from a folder of them.

mod json;
pub mod table;

pub use json::{ReportError, write_json_atomic};
