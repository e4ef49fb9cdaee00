//! Integration tests: one binary (see `[[test]] name = "integration"` in Cargo.toml).

mod architecture;
mod audit;
mod cli;
mod common;
mod dp;
mod dp_oracle;
mod federated;
mod fetch;
mod golden;
mod gradient;
mod hostile;
mod imprint;
mod mia;
mod mia_metrics;
mod privacy;
mod report;
mod secagg;
mod sweep;
mod train;
