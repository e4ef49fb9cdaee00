//! Fixed-point encoding of float updates into Z_{2^32} or Z_{2^64}, and decoding of their sum.
//!
//! Secure aggregation sums ring elements, so each party maps its update x ∈ R^d to integers:
//! clip every coordinate to [−range, range], multiply by `scale`, and round *stochastically*
//! (⌊v⌋ + Bernoulli(v − ⌊v⌋)), which is unbiased, E[round(v)] = v, as in Bonawitz et al. 2017
//! §2 and Kairouz, Liu & Steinke 2021 ("The Distributed Discrete Gaussian Mechanism for
//! Federated Learning with Secure Aggregation", §4, randomized rounding). Negative values are
//! stored as centred two's complement, so the ring sum of n encodings equals the integer sum as
//! long as n · ⌈range · scale⌉ < 2^(k−1): that headroom is checked up front. The quantisation
//! step is 1/scale; one party's error is below one step, the decoded sum's below n steps.

use chacha20::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use zeroize::Zeroize;

use crate::fl::ring::RingWord;
use crate::fl::{ProtocolAbort, SecAggError};

/// Largest encoded magnitude at which an f64 still resolves the rounding fraction finely
/// (2^52: the product `x · scale` keeps one bit below the integer part).
const MAX_EXACT: u64 = 1 << 52;

/// Coordinates per parallel rounding task (one ChaCha20 stream each).
const ENCODE_CHUNK: usize = 4096;

/// The coarsest quantisation step (1/scale) accepted for model updates
/// ([`FixedPoint::for_updates`]).
///
/// The step is clip_range / units, where units ≈ 2^(k−1)/n is what one party may use so that
/// the sum of n encodings does not wrap. A large clip_range therefore coarsens the step,
/// whatever the updates are. The coordinates of a gradient or a FedAvg model change are far
/// below 1 (typically 1e-4 to 1e-1 for weights of order 1). Once the step is above 1e-2,
/// stochastic rounding sends almost every such coordinate to 0 or ±step. That is still unbiased,
/// but the rounding noise (a standard deviation of about √(|x|·step) per coordinate) then
/// swamps the update, and the run learns nothing: with clip_range = 1e300 every update decodes
/// to 0. Note that 1e-2 is far coarser than any sensible setting: for 3 parties in Z_2^32 it
/// allows clip_range up to ≈ 7·10^6, and the default 1.0 gives a step of ≈ 1.4·10^-9.
pub const MAX_UPDATE_STEP: f64 = 1e-2;

/// The finest quantisation step accepted for model updates: the smallest normal f32. Updates
/// come in as f32 and the decoded sum goes back as f32, so a finer step resolves nothing they
/// can hold. Going to the extreme, a clip_range of 1e-300 makes the scale units / range
/// overflow to infinity.
pub const MIN_UPDATE_STEP: f64 = f32::MIN_POSITIVE as f64;

/// A checked fixed-point code: clipping range and scale (units per 1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPoint {
    range: f64,
    scale: f64,
}

impl FixedPoint {
    /// Clip to [−range, range] and encode with `scale` integer units per 1.0.
    pub fn new(range: f64, scale: f64) -> Result<Self, SecAggError> {
        if !(range.is_finite() && range > 0.0) {
            return Err(SecAggError::BadEncoding {
                what: "range",
                value: range,
            });
        }
        if !(scale.is_finite() && scale > 0.0) || (range * scale).ceil() as u64 > MAX_EXACT {
            return Err(SecAggError::BadEncoding {
                what: "scale",
                value: scale,
            });
        }
        Ok(FixedPoint { range, scale })
    }

    /// The finest scale for which the sum of `parties` encodings (plus `noise_margin` integer
    /// units of DP noise) fits the ring `W` without wrapping.
    pub fn finest<W: RingWord>(
        range: f64,
        parties: usize,
        noise_margin: u64,
    ) -> Result<Self, SecAggError> {
        let budget = Self::units::<W>(parties, noise_margin)?;
        if budget == 0 {
            return Err(SecAggError::Headroom {
                parties,
                max_abs: noise_margin,
                bits: W::BITS,
                limit: W::max_signed(),
            });
        }
        let code = Self::new(range, budget as f64 / range)?;
        code.check_headroom::<W>(parties, noise_margin)?;
        Ok(code)
    }

    /// The integer units one party's code may give the whole clipping range so that the sum of
    /// `parties` encodings plus `noise_margin` fits W without wrapping (0: no room at all).
    fn units<W: RingWord>(parties: usize, noise_margin: u64) -> Result<u64, SecAggError> {
        if parties == 0 {
            return Err(SecAggError::NoParties);
        }
        Ok(
            (W::max_signed().saturating_sub(noise_margin) / parties as u64)
                .min(MAX_EXACT)
                .saturating_sub(1),
        )
    }

    /// The clipping ranges [min, max] whose finest code for `parties` parties in W can carry
    /// model updates: the step range/units must lie within [`MIN_UPDATE_STEP`] and
    /// [`MAX_UPDATE_STEP`].
    pub fn update_ranges<W: RingWord>(parties: usize) -> Result<(f64, f64), SecAggError> {
        let units = Self::units::<W>(parties, 0)? as f64;
        Ok((MIN_UPDATE_STEP * units, MAX_UPDATE_STEP * units))
    }

    /// [`FixedPoint::finest`] for model updates (no DP noise): it refuses a `range` that gives
    /// a step outside [`MIN_UPDATE_STEP`]..=[`MAX_UPDATE_STEP`]. Those ranges still make a valid
    /// code, but one that cannot represent an update.
    pub fn for_updates<W: RingWord>(range: f64, parties: usize) -> Result<Self, SecAggError> {
        Self::for_noisy_updates::<W>(range, parties, 0)
    }

    /// [`FixedPoint::for_updates`] leaving `noise_margin` integer units of the ring for the
    /// distributed DP noise of the sum ([`DistributedGaussian::margin`]): the finest code whose
    /// sum of `parties` encodings plus that noise does not wrap.
    ///
    /// [`DistributedGaussian::margin`]: crate::fl::DistributedGaussian::margin
    pub fn for_noisy_updates<W: RingWord>(
        range: f64,
        parties: usize,
        noise_margin: u64,
    ) -> Result<Self, SecAggError> {
        if !(range.is_finite() && range > 0.0) {
            return Err(SecAggError::BadEncoding {
                what: "range",
                value: range,
            });
        }
        let units = Self::units::<W>(parties, noise_margin)?;
        // No units at all (n ≥ 2^(k−1)) is a headroom problem, whatever the range.
        if units > 0 {
            // Compared as ranges, not steps, so that the bounds `update_ranges` reports are
            // themselves accepted (range / units need not round back to the step exactly).
            let (min, max) = (
                MIN_UPDATE_STEP * units as f64,
                MAX_UPDATE_STEP * units as f64,
            );
            if range < min {
                return Err(SecAggError::ClipRangeTooSmall {
                    range,
                    parties,
                    bits: W::BITS,
                    units,
                });
            }
            if range > max {
                return Err(SecAggError::ClipRangeTooLarge {
                    range,
                    parties,
                    bits: W::BITS,
                    units,
                });
            }
        }
        Self::finest::<W>(range, parties, noise_margin)
    }

    /// The clipping range.
    pub fn range(&self) -> f64 {
        self.range
    }

    /// Integer units per 1.0.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// One quantisation step, 1/scale.
    pub fn step(&self) -> f64 {
        1.0 / self.scale
    }

    /// The largest |encoded coordinate| of one party, ⌈range · scale⌉.
    pub fn max_abs(&self) -> u64 {
        (self.range * self.scale).ceil() as u64
    }

    /// Errors unless n · max_abs + noise_margin < 2^(k−1) (no wrap-around in the sum).
    pub fn check_headroom<W: RingWord>(
        &self,
        parties: usize,
        noise_margin: u64,
    ) -> Result<(), SecAggError> {
        let worst = (parties as u128) * (self.max_abs() as u128) + noise_margin as u128;
        if worst > W::max_signed() as u128 {
            return Err(SecAggError::Headroom {
                parties,
                max_abs: self
                    .max_abs()
                    .saturating_add(noise_margin / parties.max(1) as u64),
                bits: W::BITS,
                limit: W::max_signed(),
            });
        }
        Ok(())
    }

    /// Clips, scales and stochastically rounds each coordinate. NaN is an error (±∞ clip).
    ///
    /// The rounding coins come from a ChaCha20 stream seeded by `rng`, one stream per chunk of
    /// 4096 coordinates so that chunks are rounded in parallel. A coin is a uniform u32 U and
    /// rounds up when U < frac · 2^32, so P(up) is within 2^−32 of frac.
    pub fn encode<W: RingWord, R: Rng + ?Sized>(
        &self,
        x: &[f32],
        rng: &mut R,
    ) -> Result<Vec<W>, SecAggError> {
        if let Some(index) = x.iter().position(|v| v.is_nan()) {
            return Err(ProtocolAbort::NonFinite { index }.into());
        }
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let (range, scale) = (self.range, self.scale);
        let mut out = vec![W::ZERO; x.len()];
        out.par_chunks_mut(ENCODE_CHUNK)
            .zip(x.par_chunks(ENCODE_CHUNK))
            .enumerate()
            .for_each(|(c, (words, xs))| {
                let mut coins = ChaCha20Rng::from_seed(seed);
                coins.set_stream(c as u64);
                for (w, &xi) in words.iter_mut().zip(xs) {
                    let v = (xi as f64).clamp(-range, range) * scale;
                    // ⌊v⌋ without a libm call: truncate, then step down for negative fractions.
                    let t = v as i64;
                    let floor = if (t as f64) > v { t - 1 } else { t };
                    let frac = v - floor as f64;
                    let up = (coins.next_u32() as f64) < frac * 4_294_967_296.0;
                    *w = W::from_signed(floor + up as i64);
                }
            });
        seed.zeroize();
        Ok(out)
    }

    /// Reads a (summed) vector back as floats: centred representative / scale.
    pub fn decode<W: RingWord>(&self, sum: &[W]) -> Vec<f32> {
        sum.iter()
            .map(|w| (w.to_signed() as f64 / self.scale) as f32)
            .collect()
    }

    /// The decoded sum divided by the number of parties in it (FedAvg's mean update).
    pub fn decode_mean<W: RingWord>(&self, sum: &[W], parties: usize) -> Vec<f32> {
        let div = self.scale * parties.max(1) as f64;
        sum.iter()
            .map(|w| (w.to_signed() as f64 / div) as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn a_round_trip_stays_within_one_quantisation_step() {
        let code = FixedPoint::new(2.0, 1000.0).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 200.0).collect();
        let back = code.decode(&code.encode::<u32, _>(&x, &mut rng).unwrap());
        for (a, b) in x.iter().zip(&back) {
            let clipped = a.clamp(-2.0, 2.0) as f64;
            assert!(
                (clipped - *b as f64).abs() <= code.step() * 1.0001,
                "{a} -> {b}"
            );
        }
    }

    #[test]
    fn values_outside_the_range_are_clipped_and_nan_is_refused() {
        let code = FixedPoint::new(1.0, 10.0).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let enc: Vec<u64> = code.encode(&[5.0, -f32::INFINITY], &mut rng).unwrap();
        assert_eq!(code.decode(&enc), vec![1.0, -1.0]);
        assert_eq!(
            code.encode::<u32, _>(&[0.0, f32::NAN], &mut rng),
            Err(SecAggError::Aborted(ProtocolAbort::NonFinite { index: 1 }))
        );
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let code = FixedPoint::new(4.0, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let x = vec![0.3f32; 200_000];
        let enc = code.encode::<u32, _>(&x, &mut rng).unwrap();
        let mean = enc.iter().map(|w| w.to_signed() as f64).sum::<f64>() / x.len() as f64;
        // Bernoulli(0.3): sd of the mean = sqrt(0.21 / 2e5) ≈ 0.001; allow 5 sd.
        assert!((mean - 0.3).abs() < 0.005, "mean {mean}");
        assert!(enc.iter().all(|w| *w == 0 || *w == 1));
        // Negative values round between ⌊v⌋ and ⌈v⌉ too: −2.3 → −3 or −2.
        let neg = vec![-2.3f32; 200_000];
        let enc = code.encode::<u64, _>(&neg, &mut rng).unwrap();
        let mean = enc.iter().map(|w| w.to_signed() as f64).sum::<f64>() / neg.len() as f64;
        assert!((mean + 2.3).abs() < 0.005, "mean {mean}");
        assert!(
            enc.iter()
                .all(|w| w.to_signed() == -3 || w.to_signed() == -2)
        );
        // Integers are exact.
        let ints = code.encode::<u32, _>(&[-1.0, 0.0, 1.0], &mut rng).unwrap();
        assert_eq!(code.decode(&ints), vec![-1.0, 0.0, 1.0]);
    }

    #[test]
    fn headroom_is_checked_for_the_number_of_parties() {
        let code = FixedPoint::new(1.0, (1u64 << 24) as f64).unwrap();
        assert!(code.check_headroom::<u32>(127, 0).is_ok());
        assert!(matches!(
            code.check_headroom::<u32>(128, 0),
            Err(SecAggError::Headroom {
                parties: 128,
                bits: 32,
                ..
            })
        ));
        assert!(code.check_headroom::<u64>(1 << 20, 0).is_ok());
    }

    #[test]
    fn the_finest_code_fills_the_ring_without_overflow() {
        let code = FixedPoint::finest::<u32>(4.0, 10, 0).unwrap();
        assert!(code.max_abs() * 10 <= u32::max_signed());
        assert!(code.max_abs() * 11 > u32::max_signed() / 2);
        let code64 = FixedPoint::finest::<u64>(4.0, 10, 0).unwrap();
        assert!(code64.scale() > code.scale());
    }

    #[test]
    fn update_codes_refuse_ranges_whose_step_cannot_carry_an_update() {
        // 3 parties in Z_2^32: (2^31 − 1) / 3 − 1 = 715,827,881 units per party.
        let (min, max) = FixedPoint::update_ranges::<u32>(3).unwrap();
        assert_eq!(max, MAX_UPDATE_STEP * 715_827_881.0);
        assert!((max - 7_158_278.81).abs() < 1e-6);
        assert_eq!(min, f32::MIN_POSITIVE as f64 * 715_827_881.0);
        let ok = FixedPoint::for_updates::<u32>(1.0, 3).unwrap();
        assert_eq!(ok, FixedPoint::finest::<u32>(1.0, 3, 0).unwrap());
        assert!(FixedPoint::for_updates::<u32>(max, 3).is_ok());
        assert!(FixedPoint::for_updates::<u32>(min, 3).is_ok());
        // 1e-300 made finest() fail with "scale (got inf)"; 1e300 made a code that encodes
        // every update to 0.
        let tiny = FixedPoint::for_updates::<u32>(1e-300, 3).unwrap_err();
        assert!(matches!(
            tiny,
            SecAggError::ClipRangeTooSmall {
                units: 715_827_881,
                ..
            }
        ));
        let msg = tiny.to_string();
        assert!(msg.starts_with("clip_range = 1e-300 is too small"), "{msg}");
        assert!(msg.contains("inf units per 1.0"), "{msg}");
        assert!(
            msg.contains("usable clip_range is 8.415e-30 to 7.158e6"),
            "{msg}"
        );
        let huge = FixedPoint::for_updates::<u32>(1e300, 3).unwrap_err();
        assert!(matches!(
            huge,
            SecAggError::ClipRangeTooLarge { parties: 3, .. }
        ));
        assert!(huge.to_string().contains("exceeds 0.01"), "{huge}");
        assert!(FixedPoint::for_updates::<u32>(max * 1.01, 3).is_err());
        // One party is singular, and more parties shrink the usable range.
        let one = FixedPoint::for_updates::<u32>(1e300, 1)
            .unwrap_err()
            .to_string();
        assert!(one.contains("headroom for 1 party:"), "{one}");
        let (_, max100) = FixedPoint::update_ranges::<u32>(100).unwrap();
        assert!(max100 < max / 30.0);
        assert!(FixedPoint::for_updates::<u32>(f64::NAN, 3).is_err());
        assert_eq!(
            FixedPoint::update_ranges::<u32>(0),
            Err(SecAggError::NoParties)
        );
    }

    #[test]
    fn bad_ranges_and_scales_are_refused() {
        assert!(FixedPoint::new(0.0, 1.0).is_err());
        assert!(FixedPoint::new(1.0, f64::NAN).is_err());
        assert!(FixedPoint::new(1.0, 1e300).is_err());
    }
}
