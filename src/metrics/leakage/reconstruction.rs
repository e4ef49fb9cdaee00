//! How much of a party's batch a reconstruction attack recovered, measured as the
//! gradient-inversion literature does: reconstructions matched one-to-one to the originals
//! (`assignment.rs`), then per image SSIM, PSNR, MSE and RDLV, and the count recovered at an
//! SSIM threshold (`recovery.rs`).
//!
//! Reconstructions and the prior are clipped to [0, 1] before measuring, as breaching's report
//! does: an optimiser's output may stray outside the pixel range, and PSNR and SSIM assume data
//! range 1. Originals outside [0, 1] are refused instead, since they mean standardized images
//! were passed where pixel values belong.

use serde::Serialize;

use super::LeakageError;
use super::assignment::min_cost_assignment;
use super::pixels::{mse, psnr_from_mse, psnr_of_mean_mse};
use super::recovery::{SsimThreshold, rdlv, recovered_count};
use super::ssim::Prepared;
use crate::data::Truth;

/// Everything measured about one batch's reconstruction. Per-image vectors are in the order of
/// the originals: entry `i` is about original `i` and reconstruction `matched[i]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconstructionMetrics {
    /// Images in the batch.
    pub images: usize,
    /// `matched[i]`: the reconstruction paired with original `i` (minimum total 1 − SSIM).
    pub matched: Vec<usize>,
    /// SSIM of each original with its reconstruction.
    pub ssim: Vec<f64>,
    /// PSNR in dB; infinite for an exact recovery, which JSON writes as the string `"inf"`
    /// (as every infinity ppml writes: `null` would read as "not measured").
    #[serde(serialize_with = "serialize_psnrs")]
    pub psnr: Vec<f64>,
    /// Mean squared error per image.
    pub mse: Vec<f64>,
    /// SSIM of each original with the prior: what the attacker had before the attack.
    pub prior_ssim: Vec<f64>,
    /// RDLV per image; `null` where the prior's SSIM is not positive.
    pub rdlv: Vec<Option<f64>>,
    /// The recovery threshold applied.
    pub threshold: SsimThreshold,
    /// Originals whose reconstruction reaches `threshold`.
    pub recovered: usize,
    /// Mean of `ssim`.
    pub mean_ssim: f64,
    /// Mean of `mse`.
    pub mean_mse: f64,
    /// The PSNR of `mean_mse`: the summary one exact image cannot break (see [`psnr_of_mean_mse`]).
    #[serde(serialize_with = "crate::privacy::serialize_epsilon")]
    pub psnr_of_mean_mse: f64,
    /// Mean of the defined `rdlv` values; `null` when none is.
    pub mean_rdlv: Option<f64>,
}

/// The pictures behind a figure: original `i` with the reconstruction matched to it, captioned
/// with their SSIM. The one way the originals' pixels leave `metrics`, for `report` to draw
/// once the attack has run.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedImages {
    /// The originals, in their order.
    pub originals: Vec<Vec<f32>>,
    /// The reconstructions, reordered so that entry `i` is the one matched to original `i`.
    pub reconstructions: Vec<Vec<f32>>,
    /// "SSIM 0.87" for each pair.
    pub captions: Vec<String>,
}

/// PSNRs with infinities as `"inf"`, like [`crate::privacy::serialize_epsilon`].
fn serialize_psnrs<S: serde::Serializer>(psnrs: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(psnrs.len()))?;
    for p in psnrs {
        if p.is_finite() {
            seq.serialize_element(p)?;
        } else {
            seq.serialize_element(&p.to_string())?;
        }
    }
    seq.end()
}

/// `image` clipped to [0, 1]; an infinite or NaN pixel is refused first, since clipping would
/// turn a diverged attack's ±∞ into a plausible 0 or 1.
fn clipped(image: &[f32]) -> Result<Vec<f32>, LeakageError> {
    image
        .iter()
        .map(|p| {
            p.is_finite()
                .then(|| p.clamp(0.0, 1.0))
                .ok_or(LeakageError::NonFinite)
        })
        .collect()
}

/// Measures `reconstructions` against the sealed `originals` (`side`×`side` images, row-major,
/// in [0, 1]) and the attacker's `prior`.
pub fn measure_reconstruction(
    originals: &Truth<Vec<Vec<f32>>>,
    reconstructions: &[Vec<f32>],
    prior: &[f32],
    side: usize,
    threshold: SsimThreshold,
) -> Result<ReconstructionMetrics, LeakageError> {
    let originals = originals.unseal();
    let n = originals.len();
    if n == 0 {
        return Err(LeakageError::NoImages);
    }
    if reconstructions.len() != n {
        return Err(LeakageError::CountMismatch {
            originals: n,
            reconstructions: reconstructions.len(),
        });
    }
    for (index, image) in originals.iter().enumerate() {
        if let Some(&p) = image.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(if p.is_finite() {
                LeakageError::OriginalOutOfRange {
                    index,
                    value: f64::from(p),
                }
            } else {
                LeakageError::NonFinite
            });
        }
    }
    let recs = reconstructions
        .iter()
        .map(|r| clipped(r))
        .collect::<Result<Vec<_>, _>>()?;
    let prepare = |image: &[f32]| Prepared::new(image, side);
    let orig_p = originals
        .iter()
        .map(|o| prepare(o))
        .collect::<Result<Vec<_>, _>>()?;
    let rec_p = recs
        .iter()
        .map(|r| prepare(r))
        .collect::<Result<Vec<_>, _>>()?;
    let prior_p = prepare(&clipped(prior)?)?;

    let ssim_matrix: Vec<f64> = orig_p
        .iter()
        .flat_map(|o| rec_p.iter().map(move |r| o.ssim(r)))
        .collect();
    let cost: Vec<f64> = ssim_matrix.iter().map(|s| 1.0 - s).collect();
    let matched = min_cost_assignment(&cost, n);

    let ssim: Vec<f64> = matched
        .iter()
        .enumerate()
        .map(|(i, &j)| ssim_matrix[i * n + j])
        .collect();
    let mse = matched
        .iter()
        .enumerate()
        .map(|(i, &j)| mse(&originals[i], &recs[j]))
        .collect::<Result<Vec<_>, _>>()?;
    let psnr = mse.iter().map(|&m| psnr_from_mse(m)).collect();
    let prior_ssim: Vec<f64> = orig_p.iter().map(|o| o.ssim(&prior_p)).collect();
    let rdlv: Vec<Option<f64>> = ssim
        .iter()
        .zip(&prior_ssim)
        .map(|(&s, &p)| rdlv(s, p))
        .collect();
    let defined: Vec<f64> = rdlv.iter().flatten().copied().collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(ReconstructionMetrics {
        images: n,
        recovered: recovered_count(&ssim, threshold),
        mean_ssim: mean(&ssim),
        mean_mse: mean(&mse),
        psnr_of_mean_mse: psnr_of_mean_mse(&mse).expect("n > 0 images were measured"),
        mean_rdlv: (!defined.is_empty()).then(|| mean(&defined)),
        matched,
        ssim,
        psnr,
        mse,
        prior_ssim,
        rdlv,
        threshold,
    })
}

impl ReconstructionMetrics {
    /// The matched pairs of this measurement, for a figure: `originals` and `reconstructions`
    /// must be those it measured. Reconstructions are clipped to [0, 1], as they were measured.
    pub fn matched_images(
        &self,
        originals: &Truth<Vec<Vec<f32>>>,
        reconstructions: &[Vec<f32>],
    ) -> Result<MatchedImages, LeakageError> {
        let originals = originals.unseal();
        if originals.len() != self.images || reconstructions.len() != self.images {
            return Err(LeakageError::CountMismatch {
                originals: originals.len(),
                reconstructions: reconstructions.len(),
            });
        }
        Ok(MatchedImages {
            originals: originals.clone(),
            reconstructions: self
                .matched
                .iter()
                .map(|&j| clipped(&reconstructions[j]))
                .collect::<Result<_, _>>()?,
            captions: self.ssim.iter().map(|s| format!("SSIM {s:.2}")).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::leakage::{psnr, ssim};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    const SIDE: usize = 28;

    /// The first `n` Fashion-MNIST training images of the test fixture, scaled to [0, 1].
    fn fashion(n: usize) -> Vec<Vec<f32>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fashion-mnist/train-images-idx3-ubyte.gz");
        let idx = crate::data::idx::read_idx(&path, 3).expect("the committed fixture reads");
        idx.values
            .chunks(SIDE * SIDE)
            .take(n)
            .map(|img| img.iter().map(|&p| f32::from(p) / 255.0).collect())
            .collect()
    }

    fn noisy(image: &[f32], amplitude: f32, rng: &mut StdRng) -> Vec<f32> {
        image
            .iter()
            .map(|p| (p + rng.random_range(-amplitude..amplitude)).clamp(0.0, 1.0))
            .collect()
    }

    fn mean_image(images: &[Vec<f32>]) -> Vec<f32> {
        (0..SIDE * SIDE)
            .map(|k| images.iter().map(|i| i[k]).sum::<f32>() / images.len() as f32)
            .collect()
    }

    #[test]
    fn shuffled_reconstructions_are_matched_back_to_their_originals() {
        let mut rng = StdRng::seed_from_u64(1);
        let originals = fashion(8);
        let order = [5, 2, 7, 0, 3, 6, 1, 4]; // reconstruction k is of original order[k]
        let recs: Vec<Vec<f32>> = order
            .iter()
            .map(|&i| noisy(&originals[i], 0.15, &mut rng))
            .collect();
        let prior = mean_image(&fashion(100));
        let truth = Truth::new(originals.clone());
        let m =
            measure_reconstruction(&truth, &recs, &prior, SIDE, SsimThreshold::DEFAULT).unwrap();
        for (i, &j) in m.matched.iter().enumerate() {
            assert_eq!(order[j], i, "original {i} got reconstruction {j}");
            let want_ssim = ssim(&originals[i], &recs[j], SIDE).unwrap();
            assert!((m.ssim[i] - want_ssim).abs() < 1e-12);
            assert!((m.psnr[i] - psnr(&originals[i], &recs[j]).unwrap()).abs() < 1e-9);
            assert!((m.prior_ssim[i] - ssim(&originals[i], &prior, SIDE).unwrap()).abs() < 1e-12);
            assert_eq!(m.rdlv[i], rdlv(m.ssim[i], m.prior_ssim[i]));
        }
        assert_eq!(m.images, 8);
        assert_eq!(m.recovered, m.ssim.iter().filter(|&&s| s >= 0.6).count());
        assert!((m.mean_ssim - m.ssim.iter().sum::<f64>() / 8.0).abs() < 1e-12);
        assert_eq!(m.psnr_of_mean_mse, psnr_of_mean_mse(&m.mse).unwrap());
        // Noisy copies are far closer to their originals than the mean image is.
        assert!(m.rdlv.iter().all(|r| r.unwrap() > 0.0), "{:?}", m.rdlv);
    }

    #[test]
    fn an_exact_recovery_counts_and_keeps_the_summaries_finite() {
        let mut rng = StdRng::seed_from_u64(2);
        let originals = fashion(3);
        let recs = vec![
            originals[0].clone(),
            noisy(&originals[1], 0.1, &mut rng),
            noisy(&originals[2], 0.5, &mut rng),
        ];
        let prior = vec![0.5f32; SIDE * SIDE];
        let truth = Truth::new(originals);
        let m =
            measure_reconstruction(&truth, &recs, &prior, SIDE, SsimThreshold::DEFAULT).unwrap();
        assert_eq!(m.matched, [0, 1, 2]);
        assert_eq!((m.ssim[0], m.psnr[0], m.mse[0]), (1.0, f64::INFINITY, 0.0));
        assert!(m.psnr_of_mean_mse.is_finite());
        assert!(m.mean_ssim < 1.0 && m.recovered >= 1);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["psnr"][0], "inf",
            "an infinite PSNR is written as \"inf\""
        );
        assert!(json["psnr"][1].is_f64());
        assert_eq!(json["threshold"], 0.6);
    }

    #[test]
    fn a_reconstruction_equal_to_the_prior_leaks_nothing() {
        let originals = fashion(2);
        let prior = mean_image(&fashion(50));
        let recs = vec![prior.clone(), prior.clone()];
        let truth = Truth::new(originals);
        let m =
            measure_reconstruction(&truth, &recs, &prior, SIDE, SsimThreshold::DEFAULT).unwrap();
        assert!(
            m.rdlv.iter().all(|r| r.unwrap().abs() < 1e-12),
            "{:?}",
            m.rdlv
        );
        assert_eq!(m.recovered, 0);
    }

    #[test]
    fn reconstructions_are_clipped_to_the_pixel_range_before_measuring() {
        let originals = fashion(1);
        let wild: Vec<f32> = originals[0]
            .iter()
            .map(|&p| if p > 0.5 { 3.0 } else { -2.0 })
            .collect();
        let clipped: Vec<f32> = wild.iter().map(|p| p.clamp(0.0, 1.0)).collect();
        let truth = Truth::new(originals.clone());
        let prior = vec![0.0f32; SIDE * SIDE];
        let m =
            measure_reconstruction(&truth, &[wild], &prior, SIDE, SsimThreshold::DEFAULT).unwrap();
        assert_eq!(m.mse[0], mse(&originals[0], &clipped).unwrap());
    }

    #[test]
    fn mismatched_counts_bad_originals_and_nan_are_refused() {
        let originals = fashion(2);
        let prior = vec![0.5f32; SIDE * SIDE];
        let t = SsimThreshold::DEFAULT;
        let truth = Truth::new(originals.clone());
        let one = vec![originals[0].clone()];
        assert_eq!(
            measure_reconstruction(&truth, &one, &prior, SIDE, t),
            Err(LeakageError::CountMismatch {
                originals: 2,
                reconstructions: 1
            })
        );
        let empty = Truth::new(Vec::new());
        assert_eq!(
            measure_reconstruction(&empty, &[], &prior, SIDE, t),
            Err(LeakageError::NoImages)
        );
        let standardized = Truth::new(vec![
            originals[0].iter().map(|p| (p - 0.29) / 0.35).collect(),
        ]);
        let err = measure_reconstruction(&standardized, &one, &prior, SIDE, t).unwrap_err();
        assert!(
            matches!(err, LeakageError::OriginalOutOfRange { index: 0, .. }),
            "{err}"
        );
        assert!(!err.is_bad_setting());
        let mut nan = originals[1].clone();
        nan[100] = f32::NAN;
        let recs = vec![originals[0].clone(), nan];
        let mut inf = originals[1].clone();
        inf[7] = f32::NEG_INFINITY;
        let with_inf = vec![originals[0].clone(), inf];
        assert_eq!(
            measure_reconstruction(&truth, &with_inf, &prior, SIDE, t),
            Err(LeakageError::NonFinite),
            "−∞ is refused, not clipped to 0"
        );
        assert_eq!(
            measure_reconstruction(&truth, &recs, &prior, SIDE, t),
            Err(LeakageError::NonFinite)
        );
        assert_eq!(
            measure_reconstruction(&truth, &originals, &prior[1..], SIDE, t),
            Err(LeakageError::WrongLength {
                side: SIDE,
                found: SIDE * SIDE - 1
            })
        );
    }

    #[test]
    fn matched_images_put_each_reconstruction_under_its_original() {
        let mut rng = StdRng::seed_from_u64(4);
        let originals = fashion(3);
        let recs = vec![
            noisy(&originals[2], 0.1, &mut rng),
            noisy(&originals[0], 0.1, &mut rng),
            noisy(&originals[1], 0.1, &mut rng),
        ];
        let truth = Truth::new(originals.clone());
        let prior = vec![0.5f32; SIDE * SIDE];
        let m =
            measure_reconstruction(&truth, &recs, &prior, SIDE, SsimThreshold::DEFAULT).unwrap();
        let pics = m.matched_images(&truth, &recs).unwrap();
        assert_eq!(pics.originals, originals);
        assert_eq!(
            pics.reconstructions,
            vec![recs[1].clone(), recs[2].clone(), recs[0].clone()]
        );
        assert_eq!(pics.captions[0], format!("SSIM {:.2}", m.ssim[0]));
        assert!(m.matched_images(&truth, &recs[..2]).is_err());
    }
}
