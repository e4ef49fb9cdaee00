//! Ground truth that an attack must never see: which records were members, which images a
//! party's batch held. The simulation creates it (it knows everything); only measurement code
//! may read it.
//!
//! [`Truth`] can be carried anywhere, handed through any layer, and printed without leaking
//! (its `Debug` shows nothing), but its contents come out only through [`Truth::reveal`], which
//! is `pub(crate)`, and `tests/architecture.rs` fails the build's tests if `reveal` is called
//! anywhere outside `src/metrics/`. An attack's signature takes a view type, which holds no
//! `Truth`: so an attack cannot read it, and no code but `metrics` does.

/// A value only measurement code reads.
#[derive(Clone)]
pub struct Truth<T> {
    value: T,
}

impl<T> Truth<T> {
    /// Seals `value`: what the simulation knows and an attacker must not.
    pub fn new(value: T) -> Self {
        Self { value }
    }

    /// The sealed value. Called from `src/metrics/` only (checked by `tests/architecture.rs`).
    // Unused until the metrics of the federated attacks land on the other branch.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn reveal(&self) -> &T {
        &self.value
    }
}

impl<T> std::fmt::Debug for Truth<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Truth(<sealed>)")
    }
}
