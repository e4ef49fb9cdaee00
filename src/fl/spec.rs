//! The `[federated]` and `[aggregation]` tables: who trains, how (McMahan et al. 2017's FedSGD
//! or FedAvg), and which protocol sums their updates. Every federated experiment reads these
//! two tables, and everything that can be checked before the data is loaded is checked here:
//! a bad setting exits 2 before anything is trained.

use serde::{Deserialize, Serialize};

use super::federated::Algorithm;
use super::{Aggregation, FixedPoint, Partition, SecAggParams};
use crate::Result;
use crate::config::{ConfigError, at_least_one, count_in, positive};

/// Most rounds (and local steps per round) a run may ask for.
const MAX_ROUNDS: usize = 1_000_000;

/// The parties and their training: a `[federated]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSpec {
    /// Number of parties n (at least 1; at least 2 for `additive` and `secagg`, where a sum of
    /// one update is that update).
    pub parties: usize,
    /// How the training set is dealt to the parties (`{ kind = "iid" }`,
    /// `{ kind = "shards", per_party = 2 }`, `{ kind = "dirichlet", alpha = 0.5 }`).
    pub partition: Partition,
    /// FedSGD or FedAvg.
    pub algorithm: Algorithm,
    /// Federated rounds.
    pub rounds: usize,
    /// Local SGD steps per round (FedAvg).
    pub local_steps: usize,
    /// Local batch size.
    pub batch_size: usize,
    /// Learning rate (the local steps' for FedAvg, the server step's for FedSGD).
    pub lr: f64,
}

impl Default for FederationSpec {
    /// Three hospitals, IID shards, FedAvg with 20 local steps of 64 examples at lr 0.1.
    fn default() -> Self {
        Self {
            parties: 3,
            partition: Partition::Iid,
            algorithm: Algorithm::FedAvg,
            rounds: 30,
            local_steps: 20,
            batch_size: 64,
            lr: 0.1,
        }
    }
}

impl FederationSpec {
    /// Checks the counts, the learning rate and the partition. The number of parties comes
    /// first, since every other check (dropouts, thresholds, the encoding) depends on it.
    pub fn validate(&self) -> Result<()> {
        at_least_one("parties", self.parties)?;
        count_in("rounds", self.rounds, MAX_ROUNDS)?;
        count_in("local_steps", self.local_steps, MAX_ROUNDS)?;
        at_least_one("batch_size", self.batch_size)?;
        positive("lr", self.lr)?;
        Ok(self.partition.check()?)
    }

    /// Errors unless every party's shard holds at least `batch_size` examples, naming the
    /// party with the smallest shard. The same rule as `ppml run train`: a batch larger than
    /// the data would be silently shrunk.
    pub fn check_batch_fits(&self, party_examples: &[usize]) -> Result<(), ConfigError> {
        let Some((party, &smallest)) = party_examples
            .iter()
            .enumerate()
            .min_by_key(|&(id, &len)| (len, id))
        else {
            return Ok(());
        };
        if self.batch_size > smallest {
            return Err(ConfigError::invalid(
                "batch_size",
                self.batch_size,
                format!(
                    "larger than party {party}'s shard ({smallest} examples, the smallest of the {} shards); pick batch_size ≤ {smallest}",
                    party_examples.len()
                ),
            ));
        }
        Ok(())
    }
}

/// The protocol that sums the updates: an `[aggregation]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregationSpec {
    /// `plain`, `additive` or `secagg`.
    pub protocol: Aggregation,
    /// SecAgg threshold t (default: a majority of the share holders, ⌊h/2⌋ + 1, h = n for all
    /// pairs and k + 1 with SecAgg+). `metrics.json` holds the threshold used: with `secagg`
    /// the given or defaulted t; with `additive` n, since n-of-n sharing needs every party
    /// whatever t says; with `plain` null, since no threshold applies (any survivor's update
    /// is summed). A t given with `plain` or `additive` is ignored.
    pub threshold: Option<usize>,
    /// SecAgg neighbours per party k: n − 1 (the default) masks all pairs; an even k from 2 to
    /// n − 2 gives SecAgg+'s sparse ring graph. `metrics.json` holds the k used: n − 1 when
    /// defaulted, null under `plain` and `additive`, which have no graph (a k given with them
    /// is ignored).
    pub neighbours: Option<usize>,
    /// Update coordinates are clipped to [−clip_range, clip_range] before encoding. The
    /// fixed-point step is clip_range / units, where units ≈ 2^31 / n leaves headroom for the
    /// sum of n parties in Z_2^32. The range must make that step no coarser than
    /// [`MAX_UPDATE_STEP`](crate::fl::encoding::MAX_UPDATE_STEP) = 0.01, or updates round to
    /// zero, and no finer than the smallest normal f32: about 8.4e-30 to 7.2e6 for 3 parties.
    pub clip_range: f64,
    /// Parties that drop out of each round after computing their update.
    pub dropouts_per_round: usize,
}

impl Default for AggregationSpec {
    /// SecAgg over all pairs with a majority threshold, updates clipped to ±1.
    fn default() -> Self {
        Self {
            protocol: Aggregation::SecAgg,
            threshold: None,
            neighbours: None,
            clip_range: 1.0,
            dropouts_per_round: 0,
        }
    }
}

impl AggregationSpec {
    /// Checks the protocol against `n` parties (validated first by [`FederationSpec`]).
    pub fn validate(&self, n: usize) -> Result<()> {
        positive("clip_range", self.clip_range)?;
        let protocol = self.protocol.as_str();
        if n < 2 && self.protocol != Aggregation::Plain {
            return Err(ConfigError::invalid(
                "parties",
                n,
                format!(
                    "aggregation = {protocol} with a single party hides nothing: the sum the \
                     server learns is that party's update. Use at least 2 parties, or \
                     aggregation = plain (one-party plain FL is ordinary training)"
                ),
            )
            .into());
        }
        if self.dropouts_per_round >= n {
            return Err(ConfigError::invalid(
                "dropouts_per_round",
                self.dropouts_per_round,
                if n == 1 {
                    "must leave the one party".to_string()
                } else {
                    format!("must leave at least one of the {n} parties")
                },
            )
            .into());
        }
        FixedPoint::for_updates::<u32>(self.clip_range, n)?;
        if self.protocol == Aggregation::SecAgg {
            // The vector length is not known before the model is built; 1 stands in for it
            // (it only has to be non-zero).
            self.secagg_params(n, 1)?;
        }
        Ok(())
    }

    /// The SecAgg neighbour count the masks use: k = n − 1 is all pairs (the complete graph,
    /// the one (n − 1)-regular graph). The SecAgg+ ring takes only an even k from 2 to n − 2.
    fn graph_neighbours(&self, n: usize) -> Result<Option<usize>, ConfigError> {
        let all_pairs = n.saturating_sub(1);
        match self.neighbours {
            None => Ok(None),
            Some(k) if k == all_pairs => Ok(None),
            Some(k) if k >= 2 && k % 2 == 0 && k < all_pairs => Ok(Some(k)),
            Some(k) => Err(ConfigError::invalid(
                "neighbours",
                k,
                if n < 4 {
                    format!(
                        "must be n − 1 = {all_pairs} (all pairs): {n} parties leave no room for a sparse SecAgg+ graph"
                    )
                } else {
                    format!(
                        "must be n − 1 = {all_pairs} (all pairs, the default) or an even number from 2 to {}",
                        n - 2
                    )
                },
            )),
        }
    }

    /// The SecAgg parameters for n parties' update vectors of `vector_len` words: t given or
    /// a majority of the share holders.
    fn secagg_params(&self, n: usize, vector_len: usize) -> Result<SecAggParams> {
        let graph = self.graph_neighbours(n)?;
        let holders = graph.map_or(n, |k| k + 1);
        let threshold = self
            .threshold
            .unwrap_or_else(|| SecAggParams::majority(holders));
        Ok(SecAggParams::from_parts(n, threshold, vector_len, graph)?)
    }

    /// The protocol's parameters for n parties' update vectors of `vector_len` words
    /// (validated spec).
    pub fn params(&self, n: usize, vector_len: usize) -> Result<SecAggParams> {
        match self.protocol {
            Aggregation::Plain | Aggregation::Additive => {
                Ok(SecAggParams::every_party(n, vector_len)?)
            }
            Aggregation::SecAgg => self.secagg_params(n, vector_len),
        }
    }

    /// Replaces the threshold and neighbour count with those the run uses (see the fields'
    /// docs), so that `metrics.json` records them. The spec must be validated first. Returns a
    /// spec that validates again and runs the same protocol.
    pub fn resolve(mut self, n: usize) -> Result<Self> {
        (self.threshold, self.neighbours) = match self.protocol {
            Aggregation::Plain => (None, None),
            Aggregation::Additive => (Some(n), None),
            Aggregation::SecAgg => {
                let params = self.secagg_params(n, 1)?;
                (
                    Some(params.threshold()),
                    Some(params.neighbours().unwrap_or(n - 1)),
                )
            }
        };
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(parties: usize, protocol: Aggregation) -> (FederationSpec, AggregationSpec) {
        let federation = FederationSpec {
            parties,
            ..FederationSpec::default()
        };
        let aggregation = AggregationSpec {
            protocol,
            ..AggregationSpec::default()
        };
        (federation, aggregation)
    }

    fn check((f, a): &(FederationSpec, AggregationSpec)) -> Result<()> {
        f.validate()?;
        a.validate(f.parties)
    }

    fn message(s: &(FederationSpec, AggregationSpec)) -> String {
        check(s).unwrap_err().to_string()
    }

    #[test]
    fn parties_are_checked_before_anything_that_depends_on_them() {
        // Used to read "invalid dropouts_per_round = 0: must leave some of the 0 parties".
        for protocol in [
            Aggregation::Plain,
            Aggregation::Additive,
            Aggregation::SecAgg,
        ] {
            assert_eq!(
                message(&spec(0, protocol)),
                "invalid parties = 0: must be at least 1"
            );
        }
    }

    #[test]
    fn one_party_is_plain_training_and_no_secure_aggregation() {
        let plain = spec(1, Aggregation::Plain);
        check(&plain).unwrap();
        let resolved = plain.1.clone().resolve(1).unwrap();
        assert_eq!((resolved.threshold, resolved.neighbours), (None, None));
        assert_eq!(resolved.params(1, 10).unwrap().parties(), 1);
        let mut drop = spec(1, Aggregation::Plain);
        drop.1.dropouts_per_round = 1;
        let m = message(&drop);
        assert!(!m.contains("secure"), "{m}");
        assert!(m.contains("must leave the one party"), "{m}");
        for protocol in [Aggregation::Additive, Aggregation::SecAgg] {
            let m = message(&spec(1, protocol));
            assert!(
                m.starts_with(&format!(
                    "invalid parties = 1: aggregation = {} with a single party hides nothing",
                    protocol.as_str()
                )),
                "{m}"
            );
        }
    }

    #[test]
    fn the_protocol_values_used_are_the_ones_recorded() {
        // All pairs: t = ⌊n/2⌋ + 1 and k = n − 1.
        let (_, given) = spec(4, Aggregation::SecAgg);
        let secagg = given.clone().resolve(4).unwrap();
        assert_eq!((secagg.threshold, secagg.neighbours), (Some(3), Some(3)));
        // The resolved spec validates again and gives the same parameters.
        secagg.validate(4).unwrap();
        let params = secagg.params(4, 10).unwrap();
        assert_eq!((params.threshold(), params.neighbours()), (3, None));
        assert_eq!(params, given.params(4, 10).unwrap());
        // SecAgg+ with k = 2 of 6: 3 holders, t = 2.
        let sparse = AggregationSpec {
            neighbours: Some(2),
            ..given.clone()
        }
        .resolve(6)
        .unwrap();
        assert_eq!((sparse.threshold, sparse.neighbours), (Some(2), Some(2)));
        assert_eq!(sparse.params(6, 10).unwrap().neighbours(), Some(2));
        // n − 1 odd is all pairs, not a refused odd SecAgg+ k.
        AggregationSpec {
            neighbours: Some(3),
            ..given.clone()
        }
        .validate(4)
        .unwrap();
        // Additive sharing needs every party; plain has no threshold. A given t is ignored.
        let additive = AggregationSpec {
            protocol: Aggregation::Additive,
            threshold: Some(2),
            neighbours: Some(2),
            ..given.clone()
        }
        .resolve(3)
        .unwrap();
        assert_eq!((additive.threshold, additive.neighbours), (Some(3), None));
        let plain = AggregationSpec {
            protocol: Aggregation::Plain,
            threshold: Some(2),
            ..given
        };
        assert_eq!(plain.resolve(3).unwrap().threshold, None);
    }

    #[test]
    fn bad_neighbour_counts_name_the_allowed_ones() {
        let with = |n, k| {
            let (f, a) = spec(n, Aggregation::SecAgg);
            (
                f,
                AggregationSpec {
                    neighbours: Some(k),
                    ..a
                },
            )
        };
        assert!(
            message(&with(6, 3))
                .contains("n − 1 = 5 (all pairs, the default) or an even number from 2 to 4")
        );
        assert!(message(&with(3, 1)).contains("must be n − 1 = 2 (all pairs)"));
        // A huge k is refused, not an overflow.
        assert!(message(&with(6, usize::MAX)).starts_with("invalid neighbours"));
        // Plain has no graph, so a k it cannot use is not an error.
        AggregationSpec {
            protocol: Aggregation::Plain,
            neighbours: Some(usize::MAX),
            threshold: Some(usize::MAX),
            ..AggregationSpec::default()
        }
        .validate(3)
        .unwrap();
    }

    #[test]
    fn partition_and_clip_range_errors_name_their_keys() {
        let with_partition = |partition| {
            let (f, a) = spec(3, Aggregation::SecAgg);
            (FederationSpec { partition, ..f }, a)
        };
        let shards = with_partition(Partition::Shards { per_party: 0 });
        assert!(message(&shards).starts_with("invalid partition.per_party = 0"));
        let alpha = with_partition(Partition::Dirichlet { alpha: f64::NAN });
        assert!(message(&alpha).starts_with("invalid partition.alpha = NaN"));
        for (range, expect) in [(1e-300, "too small"), (1e300, "too large")] {
            let (f, a) = spec(3, Aggregation::SecAgg);
            let m = message(&(
                f,
                AggregationSpec {
                    clip_range: range,
                    ..a
                },
            ));
            assert!(
                m.starts_with(&format!("clip_range = {range:e} is {expect}")),
                "{m}"
            );
        }
    }

    #[test]
    fn a_batch_must_fit_the_smallest_shard() {
        let with = |batch_size| FederationSpec {
            batch_size,
            ..FederationSpec::default()
        };
        assert!(with(666).check_batch_fits(&[667, 667, 666]).is_ok());
        assert_eq!(
            with(667)
                .check_batch_fits(&[667, 667, 666])
                .unwrap_err()
                .to_string(),
            "invalid batch_size = 667: larger than party 2's shard (666 examples, the smallest of \
             the 3 shards); pick batch_size ≤ 666"
        );
        let m = with(10)
            .check_batch_fits(&[5, 3, 3])
            .unwrap_err()
            .to_string();
        assert!(m.contains("party 1's shard (3 examples"), "{m}");
    }
}
