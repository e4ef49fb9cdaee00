//! The imprint attack through the secure aggregate (Fowl, Geiping, Czaja, Goldblum & Goldstein,
//! ICLR 2022, "Robbing the Fed"): a server that shapes the shared model plants, in front of the
//! honest classifier, a dense layer of k ReLU neurons that all measure one statistic of the
//! input, each with its own cut-off. Neuron i fires for every sample whose statistic exceeds
//! cut-off i, so the difference of adjacent neurons' gradients holds only the samples between
//! two cut-offs, and a sample alone there is its weight-gradient difference divided by its
//! bias-gradient difference, exactly, even in a sum over many parties.
//!
//! - [`statistic`]: what every row measures (mean brightness, a random direction, a DCT mode);
//! - [`bins`]: cut-offs at equal-mass quantiles of the statistic on the attacker's own data, and
//!   the expected number of samples alone in their bin;
//! - [`plant`]: the malicious server that broadcasts the planted model and keeps its secrets;
//! - [`view`]: what the attack sees (the released aggregate and those secrets);
//! - [`recover`] and [`attack`]: the differencing that gives the images back.

pub mod attack;
pub mod bins;
pub mod plant;
pub mod recover;
pub mod statistic;
pub mod view;

pub use attack::Imprint;
pub use plant::{ImprintSecrets, ImprintServer};
pub use view::{AggregateView, ImprintView};
