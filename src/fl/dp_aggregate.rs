//! DP-SGD applied to the aggregate (Abadi et al. 2016 on the sum of a federated round;
//! McMahan, Ramage, Talwar & Zhang 2018, DP-FedAvg): each party clips every example's gradient
//! to L2 norm C and Poisson-samples its batch of expected size B
//! ([`BatchSampling::Poisson`](crate::fl::federated::BatchSampling::Poisson)), so one example
//! moves its party's update Σ clipped / B by at most C/B. The revealed sum then needs Gaussian
//! noise of standard deviation σ · C/B per coordinate for noise multiplier σ.
//!
//! Where that noise is added is the [`NoisePlacement`]:
//! - central: a trusted aggregator adds N(0, (σC/B)²) to the decoded sum
//!   ([`SumNoise::Central`]); an attacker in the server's seat then sees only the released
//!   sum ([`ObservedRound::released`](crate::fl::federated::ObservedRound::released));
//! - distributed: each party adds its discrete Gaussian share inside SecAgg (Kairouz, Liu &
//!   Steinke 2021), sized for all parties surviving, so no one, the server included, ever
//!   sees a sum without it ([`DistributedGaussian::calibrated`]). Its sensitivity in integer
//!   units, C/B · scale + √d, is a little above C/B · scale (stochastic rounding), so the
//!   float noise is σ · (C/B + √d / scale) ≥ σ · C/B.

use serde::{Deserialize, Serialize};

use crate::fl::SecAggError;
use crate::fl::dp::DistributedGaussian;
use crate::fl::sum::SumNoise;

/// Who adds the DP noise of the aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NoisePlacement {
    /// A trusted aggregator adds Gaussian noise once, to the decoded sum.
    #[default]
    Central,
    /// Each party adds its share of discrete Gaussian noise before SecAgg.
    Distributed,
}

impl NoisePlacement {
    /// The name configs and result folders use.
    pub fn as_str(self) -> &'static str {
        match self {
            NoisePlacement::Central => "central",
            NoisePlacement::Distributed => "distributed",
        }
    }
}

/// The noise of DP-SGD on the aggregate: σ · C/B per coordinate of the sum, for
/// `noise_multiplier` σ, per-example clipping bound `clip_norm` C and expected batch
/// `batch_size` B, placed as `placement` says. Distributed noise is calibrated on the
/// fixed-point code for `clip_range` and `parties` in Z_2^32 (the code
/// [`FederatedOptions::code`](crate::fl::federated::FederatedOptions::code) then uses), for
/// updates of `dim` coordinates, and sized for every party surviving (t = `parties`): with
/// dropouts the sum carries less, (survivors / parties) · σ².
pub fn dp_sum_noise(
    placement: NoisePlacement,
    noise_multiplier: f64,
    clip_norm: f64,
    batch_size: usize,
    clip_range: f64,
    parties: usize,
    dim: usize,
) -> Result<SumNoise, SecAggError> {
    if !(noise_multiplier.is_finite() && noise_multiplier > 0.0) {
        return Err(SecAggError::BadNoise {
            what: "noise multiplier",
            value: noise_multiplier,
        });
    }
    if !(clip_norm.is_finite() && clip_norm > 0.0) {
        return Err(SecAggError::BadMaxGradNorm { value: clip_norm });
    }
    if batch_size == 0 {
        return Err(SecAggError::PoissonZeroBatch);
    }
    // One example's most influence on the sum: its clipped gradient, over the expected batch.
    let sensitivity = clip_norm / batch_size as f64;
    Ok(match placement {
        NoisePlacement::Central => SumNoise::Central {
            std: noise_multiplier * sensitivity,
        },
        NoisePlacement::Distributed => {
            SumNoise::Distributed(DistributedGaussian::calibrated::<u32>(
                noise_multiplier,
                sensitivity,
                clip_range,
                parties,
                dim,
                parties,
            )?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::aggregation::{Aggregation, Dropouts};
    use crate::fl::encoding::FixedPoint;
    use crate::fl::federated::{Algorithm, BatchSampling, FederatedOptions};
    use crate::fl::secagg::{SecAggParams, Session};
    use crate::fl::sum::{SecureSum, secure_sum};

    const DIM: usize = 20_000;

    fn options(noise: SumNoise, clip_range: f64, parties: usize) -> FederatedOptions {
        FederatedOptions {
            algorithm: Algorithm::FedSgd,
            local_steps: 1,
            batch_size: 64,
            sampling: BatchSampling::Poisson,
            lr: 0.1,
            aggregation: Aggregation::Plain,
            params: SecAggParams::every_party(parties, DIM).unwrap(),
            clip_range,
            dropouts_per_round: 0,
            noise,
            max_grad_norm: Some(1.0),
            local_noise: None,
        }
    }

    #[test]
    fn central_noise_is_the_multiplier_times_the_clip_over_the_expected_batch() {
        let noise = dp_sum_noise(NoisePlacement::Central, 1.1, 2.0, 64, 1.0, 3, DIM).unwrap();
        assert_eq!(
            noise,
            SumNoise::Central {
                std: 1.1 * 2.0 / 64.0
            }
        );
        // Central noise lives outside the ring: the code is the noiseless one.
        let code = options(noise, 1.0, 3).code().unwrap();
        assert_eq!(code, FixedPoint::for_updates::<u32>(1.0, 3).unwrap());
    }

    #[test]
    fn the_options_code_is_the_code_distributed_noise_was_calibrated_on() {
        let (mult, c, b, range, n) = (1.0, 1.0, 64, 1.0, 3);
        let noise = dp_sum_noise(NoisePlacement::Distributed, mult, c, b, range, n, DIM).unwrap();
        let SumNoise::Distributed(g) = noise else {
            panic!("distributed placement gives distributed noise: {noise:?}")
        };
        let code = options(noise, range, n).code().unwrap();
        // σ is noise_multiplier · Δ₂ on exactly this code, for t = n survivors.
        let on_code =
            DistributedGaussian::for_noise_multiplier(mult, c / b as f64, &code, DIM, n).unwrap();
        assert_eq!(g.sigma(), on_code.sigma());
        assert_eq!(g.party_sigma(), on_code.party_sigma());
        code.check_headroom::<u32>(n, g.margin(n)).unwrap();
        // Not the noiseless code: the noise took part of the ring.
        assert!(code.scale() < FixedPoint::for_updates::<u32>(range, n).unwrap().scale());
    }

    #[test]
    fn distributed_noise_in_the_decoded_sum_is_the_multiplier_times_clip_plus_rounding() {
        // A wide clip range makes the code coarse (scale ≈ 7,000 units per 1.0), so the
        // rounding term √d / scale ≈ 0.02 is as large as C/B = 0.01 and the test sees both.
        let (mult, c, b, range, n) = (2.0, 0.64, 64, 1e5, 3);
        let noise = dp_sum_noise(NoisePlacement::Distributed, mult, c, b, range, n, DIM).unwrap();
        let opts = options(noise, range, n);
        let code = opts.code().unwrap();
        let setup = SecureSum {
            aggregation: Aggregation::Plain,
            params: &opts.params,
            session: Session::new([3; 16], 1),
            code: &code,
            noise: &noise,
            dropouts: &Dropouts::none(),
            seed: [7; 32],
        };
        // Zero updates encode to exact zeros: the decoded sum is the noise alone.
        let (sum, outcome) = secure_sum::<u32>(&setup, &vec![vec![0.0; DIM]; n]).unwrap();
        assert_eq!(outcome.contributors.len(), n);
        let mean = sum.iter().map(|v| f64::from(*v)).sum::<f64>() / DIM as f64;
        let var = sum
            .iter()
            .map(|v| (f64::from(*v) - mean).powi(2))
            .sum::<f64>()
            / DIM as f64;
        let expected = mult * (c / b as f64 + (DIM as f64).sqrt() / code.scale());
        // 20,000 coordinates: the standard deviation is known to about ±0.5%.
        let std = var.sqrt();
        assert!((std / expected - 1.0).abs() < 0.03, "{std} vs {expected}");
        assert!(std > 2.5 * mult * c / b as f64, "{std}");
        assert!(
            mean.abs() < 4.0 * expected / (DIM as f64).sqrt(),
            "mean {mean}"
        );
    }

    #[test]
    fn bad_dp_parameters_are_refused() {
        let noise = |mult, c, b| dp_sum_noise(NoisePlacement::Central, mult, c, b, 1.0, 3, 10);
        assert!(matches!(
            noise(0.0, 1.0, 8),
            Err(SecAggError::BadNoise { .. })
        ));
        assert!(matches!(
            noise(f64::NAN, 1.0, 8),
            Err(SecAggError::BadNoise { .. })
        ));
        assert!(matches!(
            noise(1.0, -1.0, 8),
            Err(SecAggError::BadMaxGradNorm { .. })
        ));
        assert_eq!(noise(1.0, 1.0, 0), Err(SecAggError::PoissonZeroBatch));
    }

    #[test]
    fn placements_read_and_write_as_kebab_case() {
        for (p, s) in [
            (NoisePlacement::Central, "\"central\""),
            (NoisePlacement::Distributed, "\"distributed\""),
        ] {
            assert_eq!(serde_json::to_string(&p).unwrap(), s);
            assert_eq!(serde_json::from_str::<NoisePlacement>(s).unwrap(), p);
        }
        use clap::ValueEnum;
        let parsed = NoisePlacement::from_str("distributed", false).unwrap();
        assert_eq!(parsed, NoisePlacement::Distributed);
    }
}
