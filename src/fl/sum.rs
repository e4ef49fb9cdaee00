//! Float updates in, decoded float sum out: each party encodes its update ([`FixedPoint`]),
//! the chosen protocol sums the encodings ([`aggregate`]), and the server decodes the sum,
//! with differentially private noise where the run asks for it ([`SumNoise`]).
//!
//! Where the noise is added decides whom it protects:
//! - [`SumNoise::Distributed`]: each party adds its share of discrete Gaussian noise to its
//!   *encoded* update before it leaves (Kairouz, Liu & Steinke 2021, "The Distributed Discrete
//!   Gaussian Mechanism for Federated Learning with Secure Aggregation"), so under SecAgg even
//!   the server only ever sees a noisy sum;
//! - [`SumNoise::Central`]: the server adds Gaussian noise to the decoded sum, in float units,
//!   before it moves the model (DP-FedAvg, McMahan, Ramage, Talwar & Zhang 2018, "Learning
//!   Differentially Private Recurrent Language Models"). It protects the released models, not
//!   the parties from the server, which saw the sum before it added the noise.

use rand_distr::StandardNormal;
use serde::Serialize;

use crate::fl::SecAggError;
use crate::fl::aggregation::{Aggregation, Dropouts, Purpose, RoundOutcome, aggregate, party_rng};
use crate::fl::dp::DistributedGaussian;
use crate::fl::encoding::FixedPoint;
use crate::fl::ring::RingWord;
use crate::fl::secagg::{SecAggParams, Session};
use rand::RngExt;

/// Differentially private noise in the sum a round reveals.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SumNoise {
    /// No noise: the decoded sum is the parties' sum up to the fixed-point rounding.
    #[default]
    None,
    /// Each party adds N_Z(0, σ²/t) to its encoded update (σ in integer units of the code).
    Distributed(DistributedGaussian),
    /// The server adds N(0, std²) to every coordinate of the decoded sum (float units).
    Central {
        /// Standard deviation per coordinate.
        std: f64,
    },
}

impl SumNoise {
    /// Integer units of ring headroom the noise needs for `parties` encodings (only the
    /// distributed noise lives in the ring).
    pub fn margin(&self, parties: usize) -> u64 {
        match self {
            SumNoise::Distributed(g) => g.margin(parties),
            SumNoise::None | SumNoise::Central { .. } => 0,
        }
    }

    fn check(&self) -> Result<(), SecAggError> {
        match *self {
            SumNoise::Central { std } if !(std.is_finite() && std > 0.0) => {
                Err(SecAggError::BadNoise {
                    what: "central noise standard deviation",
                    value: std,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Everything a secure sum needs besides the updates: the protocol and its parameters, the
/// code, the noise, who drops out, and the seed of every party's (and the server's)
/// randomness in this simulation.
#[derive(Debug, Clone, Copy)]
pub struct SecureSum<'a> {
    /// The protocol.
    pub aggregation: Aggregation,
    /// n, t, the vector length and the neighbour graph.
    pub params: &'a SecAggParams,
    /// The run and round, bound into every key and ciphertext.
    pub session: Session,
    /// How each party encodes its floats.
    pub code: &'a FixedPoint,
    /// DP noise in the sum.
    pub noise: &'a SumNoise,
    /// Who goes silent when.
    pub dropouts: &'a Dropouts,
    /// Seeds each party's streams (encoding, protocol secrets) and the server's noise.
    pub seed: [u8; 32],
}

/// Each party encodes its own update with `sum.code` (stochastic rounding from its own random
/// stream) and, with [`SumNoise::Distributed`], adds its share of noise; then [`aggregate`]
/// runs, and the server decodes the sum and, with [`SumNoise::Central`], adds its noise. The
/// decoded sum covers `outcome.contributors` only; `outcome.sum` is the ring sum before any
/// central noise.
pub fn secure_sum<W: RingWord>(
    sum: &SecureSum<'_>,
    updates: &[Vec<f32>],
) -> Result<(Vec<f32>, RoundOutcome<W>), SecAggError> {
    let parties = sum.params.parties();
    sum.noise.check()?;
    sum.code
        .check_headroom::<W>(parties, sum.noise.margin(parties))?;
    let inputs = updates
        .iter()
        .enumerate()
        .map(|(party, update)| {
            let mut rng = party_rng(&sum.seed, Purpose::Encoding, party);
            let mut encoded = sum.code.encode::<W, _>(update, &mut rng)?;
            if let SumNoise::Distributed(g) = sum.noise {
                g.add_noise(&mut encoded, &mut rng);
            }
            Ok(encoded)
        })
        .collect::<Result<Vec<_>, SecAggError>>()?;
    let outcome = aggregate(
        sum.aggregation,
        sum.params,
        sum.session,
        inputs,
        sum.dropouts,
        sum.seed,
    )?;
    let mut decoded = sum.code.decode(&outcome.sum);
    if let SumNoise::Central { std } = *sum.noise {
        // The server's own stream: no party's randomness is reused, and without central
        // noise nothing is drawn, so the other streams are as they were.
        let mut rng = party_rng(&sum.seed, Purpose::ServerNoise, 0);
        for v in &mut decoded {
            *v = (*v as f64 + std * rng.sample::<f64, _>(StandardNormal)) as f32;
        }
    }
    Ok((decoded, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN: usize = 20_000;

    /// Integer-valued updates under a code of one unit per 1.0: without noise the decoded sum
    /// is exact, so whatever differs from it is the noise.
    fn errors(noise: SumNoise, aggregation: Aggregation) -> Vec<f64> {
        let n = 4;
        let params = SecAggParams::new(n, 3, LEN).unwrap();
        let code = FixedPoint::new(64.0, 1.0).unwrap();
        let updates: Vec<Vec<f32>> = (0..n)
            .map(|u| (0..LEN).map(|i| ((u + i) % 7) as f32 - 3.0).collect())
            .collect();
        let setup = SecureSum {
            aggregation,
            params: &params,
            session: Session::new([9; 16], 1),
            code: &code,
            noise: &noise,
            dropouts: &Dropouts::none(),
            seed: [5; 32],
        };
        let (sum, out) = secure_sum::<u32>(&setup, &updates).unwrap();
        assert_eq!(out.contributors.len(), n);
        (0..LEN)
            .map(|i| sum[i] as f64 - updates.iter().map(|u| u[i] as f64).sum::<f64>())
            .collect()
    }

    fn moments(x: &[f64]) -> (f64, f64) {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / x.len() as f64;
        (mean, var)
    }

    #[test]
    fn without_noise_the_revealed_sum_is_exact() {
        for aggregation in [
            Aggregation::Plain,
            Aggregation::Additive,
            Aggregation::SecAgg,
        ] {
            let e = errors(SumNoise::None, aggregation);
            assert!(e.iter().all(|e| *e == 0.0), "{aggregation:?}");
        }
    }

    #[test]
    fn the_revealed_sum_carries_the_configured_noise_variance() {
        // Central: N(0, 2.5²) per coordinate, in float units. 20,000 coordinates estimate the
        // variance to about ±1% (one standard error); 5% is a wide margin.
        let (mean, var) = moments(&errors(SumNoise::Central { std: 2.5 }, Aggregation::SecAgg));
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((var / 6.25 - 1.0).abs() < 0.05, "variance {var}");
        // Distributed, σ = 6 units sized for t = 3 survivors: all 4 contribute, so the sum
        // carries 4 · σ²/3 = 48 units², one unit per 1.0 here.
        let g = DistributedGaussian::new(6.0, 3).unwrap();
        let (mean, var) = moments(&errors(SumNoise::Distributed(g), Aggregation::SecAgg));
        assert!(mean.abs() < 0.2, "mean {mean}");
        assert!((var / 48.0 - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn central_noise_needs_a_positive_standard_deviation() {
        let params = SecAggParams::every_party(2, 3).unwrap();
        let code = FixedPoint::new(1.0, 10.0).unwrap();
        for std in [0.0, -1.0, f64::NAN] {
            let noise = SumNoise::Central { std };
            let setup = SecureSum {
                aggregation: Aggregation::Plain,
                params: &params,
                session: Session::new([0; 16], 0),
                code: &code,
                noise: &noise,
                dropouts: &Dropouts::none(),
                seed: [0; 32],
            };
            let err = secure_sum::<u32>(&setup, &[vec![0.0; 3], vec![0.0; 3]]).unwrap_err();
            assert!(matches!(err, SecAggError::BadNoise { .. }), "{err}");
        }
    }
}
