//! Integration tests: one binary (see `[[test]] name = "integration"` in Cargo.toml).
