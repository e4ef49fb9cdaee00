//! One file per experiment, each wiring data → model → train → report the way its paper's
//! paragraph reads. `context.rs` holds what every run shares: RNG, device, data, output folder.

mod context;
pub mod federated;
pub mod mia;
pub mod provenance;
pub mod train;

pub use context::{ResultHeader, RunContext, RunOptions, chance_warning};
pub use provenance::Provenance;
