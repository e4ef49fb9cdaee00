//! The attacks. Each receives an attacker's view (what that attacker can observe: query access
//! to a model, one party's gradient, the secure aggregate) and never the private data itself;
//! only `metrics` and the experiments, which hold the ground truth, can say how well it did.

pub mod membership;
