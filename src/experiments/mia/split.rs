//! The membership game's records (Carlini et al. 2022; Bertran et al. 2023): the seed splits
//! the training records into members (the target trains on them), as many held-out
//! non-members, and the attacker's public records, all disjoint. The candidates the attacker
//! judges are the members and non-members shuffled together; which were members is sealed in
//! a [`Truth`] that only `metrics` opens.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::MiaConfig;
use super::config::check_canaries;
use crate::Result;
use crate::config::ConfigError;
use crate::data::{Dataset, Truth};

/// The three disjoint record sets, and the records canaries are made from (disjoint too).
pub(super) struct Split {
    pub members: Dataset,
    pub non_members: Dataset,
    pub public: Dataset,
    /// 2M records for `[membership] canaries = M` (empty without).
    pub canary_records: Dataset,
}

/// Checks that `members` members, as many non-members and `public` public records fit in a
/// training split of `available` records, naming the key that does not.
pub(super) fn check_split_sizes(
    members: usize,
    public: usize,
    available: usize,
    source: &str,
) -> Result<(), ConfigError> {
    if public > available {
        return Err(ConfigError::invalid(
            "public",
            public,
            format!("{source} has only {available} records"),
        ));
    }
    let needed = members
        .checked_mul(2)
        .and_then(|m| m.checked_add(public))
        .filter(|&n| n <= available);
    if needed.is_none() {
        let key = if members > available / 2 {
            "members"
        } else {
            "public"
        };
        let value = if key == "members" { members } else { public };
        return Err(ConfigError::invalid(
            key,
            value,
            format!(
                "2 × members ({members}) + public ({public}) records are needed, but \
                 {source} has only {available}"
            ),
        ));
    }
    Ok(())
}

/// Draws the three sets from `train` with `rng`.
pub(super) fn split(train: &Dataset, config: &MiaConfig, rng: &mut StdRng) -> Result<Split> {
    let (members, public) = (config.membership.members, config.membership.public);
    check_split_sizes(
        members,
        public,
        train.len(),
        "the training split read from disk",
    )?;
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(rng);
    let (m, rest) = order.split_at(members);
    let (n, rest) = rest.split_at(members);
    check_canaries(
        &config.membership,
        train.len(),
        "the training split read from disk",
    )?;
    let (p, rest) = rest.split_at(public);
    Ok(Split {
        members: train.subset(m),
        non_members: train.subset(n),
        public: train.subset(p),
        canary_records: train.subset(&rest[..2 * config.membership.canaries]),
    })
}

/// The members and non-members in one shuffled list (what the attacker is handed), and which
/// of them were members, sealed.
pub(super) fn candidates(split: &Split, rng: &mut StdRng) -> (Dataset, Truth<Vec<bool>>) {
    let both = split.members.concat(&split.non_members);
    let mut order: Vec<usize> = (0..both.len()).collect();
    order.shuffle(rng);
    let is_member = order.iter().map(|&i| i < split.members.len()).collect();
    (both.subset(&order), Truth::new(is_member))
}
