//! Splitting a dataset among n parties, IID or label-skewed, with a seeded RNG.
//!
//! - [`Partition::Iid`]: a uniform shuffle cut into n near-equal parts.
//! - [`Partition::Shards`]: the "pathological non-IID" split of McMahan et al. 2017
//!   ("Communication-Efficient Learning of Deep Networks from Decentralized Data", §3): sort
//!   by label, cut into n · s shards, give each party s random shards (so ≈ s labels each).
//! - [`Partition::Dirichlet`]: per class, proportions p ~ Dir(α·1_n) across parties (Hsu, Qi &
//!   Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for Federated
//!   Visual Classification"); small α gives few labels per party, large α tends to IID.
//!
//! Only `Dataset`'s public API is used (`len`, `label`, `classes`, `subset`).

use rand::Rng;
use rand::RngExt;
use rand::distr::Distribution;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::fl::SecAggError;

/// How examples are dealt to parties.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Partition {
    /// Uniformly at random, near-equal sizes.
    #[default]
    Iid,
    /// McMahan et al. 2017: `per_party` label-sorted shards per party.
    Shards {
        /// Shards per party (2 in the paper).
        per_party: usize,
    },
    /// Hsu et al. 2019: per-class Dirichlet(α) proportions.
    Dirichlet {
        /// Concentration α > 0.
        alpha: f64,
    },
}

impl Partition {
    /// Checks the parameters that need no data: `per_party` ≥ 1, α finite and above 0. Errors
    /// name the config keys (`partition.per_party`, `partition.alpha`).
    pub fn check(&self) -> Result<(), SecAggError> {
        match *self {
            Partition::Iid => Ok(()),
            Partition::Shards { per_party } if per_party == 0 => Err(SecAggError::BadPartition {
                what: "partition.per_party",
                value: per_party.to_string(),
                reason: "must be at least 1 (the label shards each party gets)",
            }),
            Partition::Shards { .. } => Ok(()),
            Partition::Dirichlet { alpha } if !(alpha.is_finite() && alpha > 0.0) => {
                Err(SecAggError::BadPartition {
                    what: "partition.alpha",
                    value: alpha.to_string(),
                    reason: "the Dirichlet concentration must be a finite number above 0",
                })
            }
            Partition::Dirichlet { .. } => Ok(()),
        }
    }
}

/// Example indices per party (each sorted), for labels `labels` (values < `classes`).
pub fn partition_indices<R: Rng + ?Sized>(
    labels: &[usize],
    classes: usize,
    parties: usize,
    partition: Partition,
    rng: &mut R,
) -> Result<Vec<Vec<usize>>, SecAggError> {
    if parties == 0 {
        return Err(SecAggError::NoParties);
    }
    partition.check()?;
    let examples = labels.len();
    let too_few = SecAggError::TooFewExamples { examples, parties };
    let mut parts = match partition {
        Partition::Iid => {
            if examples < parties {
                return Err(too_few);
            }
            let mut order: Vec<usize> = (0..examples).collect();
            order.shuffle(rng);
            split_evenly(&order, parties)
        }
        Partition::Shards { per_party } => {
            // Every shard needs an example, so there must be parties × per_party of them (in
            // u128: a huge per_party must be refused, not overflow).
            if (examples as u128) < (parties as u128) * (per_party as u128) {
                return Err(SecAggError::TooFewForShards {
                    examples,
                    parties,
                    per_party,
                });
            }
            let shards = parties * per_party;
            let mut order: Vec<usize> = (0..examples).collect();
            order.shuffle(rng);
            order.sort_by_key(|&i| labels[i]);
            let mut shard_ids: Vec<usize> = (0..shards).collect();
            shard_ids.shuffle(rng);
            let pieces = split_evenly(&order, shards);
            shard_ids
                .chunks(per_party)
                .map(|ids| {
                    ids.iter()
                        .flat_map(|&s| pieces[s].iter().copied())
                        .collect()
                })
                .collect()
        }
        Partition::Dirichlet { alpha } => dirichlet(labels, classes, parties, alpha, rng)?,
    };
    for p in &mut parts {
        p.sort_unstable();
    }
    Ok(parts)
}

/// Splits `data` among `parties` parties (see [`Partition`]).
pub fn split_among_parties<R: Rng + ?Sized>(
    data: &Dataset,
    parties: usize,
    partition: Partition,
    rng: &mut R,
) -> Result<Vec<Dataset>, SecAggError> {
    let labels: Vec<usize> = (0..data.len()).map(|i| data.label(i)).collect();
    let parts = partition_indices(&labels, data.classes(), parties, partition, rng)?;
    Ok(parts.iter().map(|idx| data.subset(idx)).collect())
}

fn split_evenly(order: &[usize], parts: usize) -> Vec<Vec<usize>> {
    let (base, extra) = (order.len() / parts, order.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 0..parts {
        let len = base + usize::from(p < extra);
        out.push(order[start..start + len].to_vec());
        start += len;
    }
    out
}

fn dirichlet<R: Rng + ?Sized>(
    labels: &[usize],
    classes: usize,
    parties: usize,
    alpha: f64,
    rng: &mut R,
) -> Result<Vec<Vec<usize>>, SecAggError> {
    if labels.len() < parties {
        return Err(SecAggError::TooFewExamples {
            examples: labels.len(),
            parties,
        });
    }
    let dist = rand_distr::multi::Dirichlet::new(&vec![alpha; parties]).map_err(|_| {
        SecAggError::BadPartition {
            what: "partition.alpha",
            value: alpha.to_string(),
            reason: "the Dirichlet distribution refuses it",
        }
    })?;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes.max(1)];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y.min(classes.max(1) - 1)].push(i);
    }
    // Redraw (as Hsu et al.'s reference code does) until no party is left empty.
    for _ in 0..100 {
        let mut parts = vec![Vec::new(); parties];
        for members in &mut by_class {
            members.shuffle(rng);
            let p: Vec<f64> = dist.sample(rng);
            let mut start = 0;
            let mut cumulative = 0.0;
            for (party, share) in p.iter().enumerate() {
                cumulative += share;
                let end = if party + 1 == parties {
                    members.len()
                } else {
                    ((cumulative * members.len() as f64).round() as usize).min(members.len())
                };
                parts[party].extend_from_slice(&members[start..end.max(start)]);
                start = end.max(start);
            }
        }
        if parts.iter().all(|p| !p.is_empty()) {
            return Ok(parts);
        }
        let _ = rng.random::<u32>();
    }
    Err(SecAggError::TooFewExamples {
        examples: labels.len(),
        parties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn labels(n: usize, classes: usize) -> Vec<usize> {
        (0..n).map(|i| i % classes).collect()
    }

    fn covers_every_index_once(parts: &[Vec<usize>], n: usize) {
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn an_iid_split_is_a_near_equal_partition_and_is_reproducible() {
        let y = labels(103, 10);
        let parts =
            partition_indices(&y, 10, 5, Partition::Iid, &mut StdRng::seed_from_u64(1)).unwrap();
        covers_every_index_once(&parts, 103);
        assert!(parts.iter().all(|p| p.len() == 20 || p.len() == 21));
        let again =
            partition_indices(&y, 10, 5, Partition::Iid, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(parts, again);
    }

    #[test]
    fn shards_give_each_party_few_labels() {
        let y = labels(1000, 10);
        let split = Partition::Shards { per_party: 2 };
        let parts = partition_indices(&y, 10, 10, split, &mut StdRng::seed_from_u64(2)).unwrap();
        covers_every_index_once(&parts, 1000);
        for p in &parts {
            let mut seen: Vec<usize> = p.iter().map(|&i| y[i]).collect();
            seen.sort_unstable();
            seen.dedup();
            assert!(seen.len() <= 2, "labels {seen:?}");
        }
    }

    #[test]
    fn a_small_dirichlet_alpha_skews_labels() {
        let y = labels(2000, 10);
        let split = Partition::Dirichlet { alpha: 0.1 };
        let parts = partition_indices(&y, 10, 5, split, &mut StdRng::seed_from_u64(3)).unwrap();
        covers_every_index_once(&parts, 2000);
        // With α = 0.1 most of a class lands in one party: the largest class share of a
        // party is far above the IID 1/10.
        let skew = parts
            .iter()
            .map(|p| {
                let mut counts = [0usize; 10];
                p.iter().for_each(|&i| counts[y[i]] += 1);
                *counts.iter().max().unwrap() as f64 / p.len() as f64
            })
            .fold(0.0, f64::max);
        assert!(skew > 0.3, "max class share {skew}");
    }

    #[test]
    fn too_few_examples_or_no_parties_are_errors() {
        let y = labels(3, 2);
        let mut rng = StdRng::seed_from_u64(4);
        assert_eq!(
            partition_indices(&y, 2, 4, Partition::Iid, &mut rng),
            Err(SecAggError::TooFewExamples {
                examples: 3,
                parties: 4
            })
        );
        assert_eq!(
            partition_indices(&y, 2, 0, Partition::Iid, &mut rng),
            Err(SecAggError::NoParties)
        );
        assert!(
            partition_indices(&y, 2, 2, Partition::Dirichlet { alpha: -1.0 }, &mut rng).is_err()
        );
    }

    #[test]
    fn bad_partition_parameters_name_their_config_keys() {
        let y = labels(100, 10);
        let mut rng = StdRng::seed_from_u64(6);
        let msg = |p: Partition, parties: usize| {
            partition_indices(&y, 10, parties, p, &mut StdRng::seed_from_u64(6))
                .unwrap_err()
                .to_string()
        };
        // per_party = 0 used to read "cannot split 100 examples among 3 parties".
        assert_eq!(
            msg(Partition::Shards { per_party: 0 }, 3),
            "invalid partition.per_party = 0: must be at least 1 (the label shards each party gets)"
        );
        assert_eq!(
            msg(Partition::Shards { per_party: 40 }, 3),
            "3 parties × partition.per_party = 40 = 120 label shards, but only 100 training \
             examples to cut them from; lower partition.per_party or parties"
        );
        assert!(
            msg(Partition::Shards { per_party: 101 }, 1).starts_with("1 party × "),
            "singular"
        );
        // A per_party so large that parties × per_party overflows is refused, not a panic.
        assert!(matches!(
            partition_indices(
                &y,
                10,
                2,
                Partition::Shards {
                    per_party: usize::MAX
                },
                &mut rng
            ),
            Err(SecAggError::TooFewForShards { .. })
        ));
        // 100 examples make 2 × 50 shards exactly.
        assert!(
            partition_indices(&y, 10, 2, Partition::Shards { per_party: 50 }, &mut rng).is_ok()
        );
        for alpha in [0.0, -1.5, f64::NAN, f64::INFINITY] {
            let m = msg(Partition::Dirichlet { alpha }, 3);
            assert!(
                m.starts_with(&format!("invalid partition.alpha = {alpha}: ")),
                "{m}"
            );
        }
        assert!(Partition::Dirichlet { alpha: 0.5 }.check().is_ok());
        assert!(Partition::Iid.check().is_ok());
        assert_eq!(
            partition_indices(&labels(1, 1), 1, 2, Partition::Iid, &mut rng)
                .unwrap_err()
                .to_string(),
            "cannot split 1 example among 2 parties"
        );
    }

    #[test]
    fn a_dataset_is_split_into_subsets() {
        let data =
            Dataset::new((0..40).collect(), (0..10).map(|i| i % 2).collect(), 2, 2, 2).unwrap();
        let parts =
            split_among_parties(&data, 3, Partition::Iid, &mut StdRng::seed_from_u64(5)).unwrap();
        assert_eq!(parts.iter().map(Dataset::len).sum::<usize>(), 10);
    }
}
