//! One file (or folder) per experiment, each wiring data → model → train → fl → attacks →
//! metrics → report the way its paper's paragraph reads. `context.rs` holds what every run
//! shares (RNG, device, data, output folder, the `[run]` table), `experiment.rs` the trait the
//! binary dispatches through. No experiment imports another.

pub mod audit;
mod context;
mod experiment;
pub mod federated;
pub mod global_model_attack;
pub mod gradient_inversion;
pub mod groups;
pub mod mia;
pub mod provenance;
pub mod sweep;
pub mod train;

pub use context::{DataSummary, ResultHeader, RunContext, RunOptions, RunSpec, chance_warning};
pub use experiment::{
    Experiment, MODEL_KEYS, RUN_AND_DATA_KEYS, TRAIN_AND_PRIVACY_KEYS, launch, load,
    load_with_file, parse,
};
pub use provenance::Provenance;
