//! Integration tests: one binary (see `[[test]] name = "integration"` in Cargo.toml).

mod cli;
mod common;
mod fetch;
mod train;
