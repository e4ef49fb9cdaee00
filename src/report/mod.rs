//! Results on disk: `metrics.json` written atomically, so a crash never leaves a partial file.

mod json;

pub use json::{ReportError, write_json_atomic};
