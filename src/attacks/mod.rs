//! The attacks. Each receives an attacker's view (what that attacker can observe: query access
//! to a model, one party's gradient, the secure aggregate) and never the private data itself;
//! only `metrics`, which reads the sealed [`Truth`](crate::data::Truth), can say how well it
//! did.
//!
//! Every attack implements [`Attack`] for the one view type its threat model allows, so the
//! boundary is in the signature: an attack that wanted the members' labels or a party's images
//! would have nowhere to get them from.

pub mod audit;
pub mod gradient;
pub mod imprint;
pub mod membership;
pub mod scale_mia;

use crate::Result;
use crate::runtime::Runtime;

/// An attack against what a threat model lets the attacker observe (`V`).
pub trait Attack<V> {
    /// What the attack produces: scores, reconstructions, ...
    type Output;

    /// Runs the attack on `view`, computing on `rt`'s device with `rt`'s random stream.
    fn run(&self, view: &V, rt: &mut Runtime<'_>) -> Result<Self::Output>;
}
