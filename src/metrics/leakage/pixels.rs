//! Pixel-wise error of a reconstruction: the mean squared error, and the peak signal-to-noise
//! ratio PSNR = 10·log10(L² / MSE) with data range L = 1, as Zhu et al. 2019 (DLG) and Geiping
//! et al. 2020 (Inverting Gradients) report them.
//!
//! An exact recovery has MSE 0 and an infinite PSNR, which breaks the plain mean of per-image
//! PSNRs (breaching's `psnr_compute` returns ∞ for the whole batch then). The summary here is
//! therefore the PSNR of the mean MSE, [`psnr_of_mean_mse`]: it is infinite only when every
//! image is exact, it is what breaching calls the batched PSNR (so it compares with published
//! figures), and it can be recomputed from the per-image MSEs in `metrics.json`. By Jensen's
//! inequality it never exceeds the mean of the per-image PSNRs: a few poor reconstructions pull
//! it down, which is why the per-image values and the recovered count are reported beside it.

use super::LeakageError;

/// The pixels of `image` as `f64`, or [`LeakageError::NonFinite`].
pub(super) fn finite<P: Copy + Into<f64>>(image: &[P]) -> Result<Vec<f64>, LeakageError> {
    image
        .iter()
        .map(|&p| {
            let v: f64 = p.into();
            v.is_finite().then_some(v).ok_or(LeakageError::NonFinite)
        })
        .collect()
}

/// Mean squared error between two images of the same size: mean over pixels of (a − b)².
pub fn mse<P: Copy + Into<f64>>(a: &[P], b: &[P]) -> Result<f64, LeakageError> {
    if a.len() != b.len() {
        return Err(LeakageError::LengthMismatch {
            left: a.len(),
            right: b.len(),
        });
    }
    if a.is_empty() {
        return Err(LeakageError::Empty);
    }
    let (a, b) = (finite(a)?, finite(b)?);
    let sum: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    Ok(sum / a.len() as f64)
}

/// PSNR in dB for images in [0, 1] (data range 1): 10·log10(1 / MSE), `f64::INFINITY` for an
/// exact recovery.
pub fn psnr<P: Copy + Into<f64>>(a: &[P], b: &[P]) -> Result<f64, LeakageError> {
    Ok(psnr_from_mse(mse(a, b)?))
}

/// 10·log10(1 / `mse`): `f64::INFINITY` when `mse` is 0.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        -10.0 * mse.log10()
    }
}

/// The summary of many PSNRs that one exact recovery cannot break: the PSNR of the mean of
/// `mses` (see the module docs for why). `None` when `mses` is empty; infinite only when every
/// MSE is 0.
pub fn psnr_of_mean_mse(mses: &[f64]) -> Option<f64> {
    (!mses.is_empty()).then(|| psnr_from_mse(mses.iter().sum::<f64>() / mses.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_is_ten_log10_of_one_over_mse() {
        // Every pixel off by 0.1: MSE 0.01, PSNR 20 dB.
        let a = [0.2f32, 0.5, 0.9, 0.0];
        let b = [0.3f32, 0.4, 0.8, 0.1];
        assert!((mse(&a, &b).unwrap() - 0.01).abs() < 1e-7);
        assert!((psnr(&a, &b).unwrap() - 20.0).abs() < 1e-5);
        let (c, d) = ([0.0f64, 1.0], [1.0f64, 1.0]);
        assert_eq!(mse(&c, &d).unwrap(), 0.5);
        assert!((psnr(&c, &d).unwrap() - 10.0 * 2f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn an_exact_recovery_has_infinite_psnr() {
        let a = [0.25f32, 0.75, 1.0];
        assert_eq!(mse(&a, &a).unwrap(), 0.0);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
    }

    #[test]
    fn one_exact_recovery_does_not_break_the_summary() {
        let mses = [0.0, 0.01, 0.02];
        let summary = psnr_of_mean_mse(&mses).unwrap();
        assert!(
            (summary - 20.0).abs() < 1e-12,
            "mean MSE 0.01 is 20 dB: {summary}"
        );
        // The naive mean of the per-image PSNRs is infinite, and says nothing.
        let naive = mses.iter().map(|&m| psnr_from_mse(m)).sum::<f64>() / 3.0;
        assert_eq!(naive, f64::INFINITY);
    }

    #[test]
    fn the_summary_never_exceeds_the_mean_psnr_and_is_infinite_only_when_all_are_exact() {
        let mses = [0.001, 0.01, 0.1, 0.05];
        let mean_psnr = mses.iter().map(|&m| psnr_from_mse(m)).sum::<f64>() / 4.0;
        assert!(psnr_of_mean_mse(&mses).unwrap() < mean_psnr);
        let same = [0.02; 3];
        assert!((psnr_of_mean_mse(&same).unwrap() - psnr_from_mse(0.02)).abs() < 1e-12);
        assert_eq!(psnr_of_mean_mse(&[0.0, 0.0]), Some(f64::INFINITY));
        assert_eq!(psnr_of_mean_mse(&[]), None);
    }

    #[test]
    fn images_of_different_sizes_or_with_nan_are_refused() {
        assert_eq!(
            mse(&[0.0f32; 3], &[0.0f32; 4]),
            Err(LeakageError::LengthMismatch { left: 3, right: 4 })
        );
        assert_eq!(mse::<f32>(&[], &[]), Err(LeakageError::Empty));
        assert_eq!(
            psnr(&[0.0, f32::NAN], &[0.0, 0.0]),
            Err(LeakageError::NonFinite)
        );
        assert_eq!(
            mse(&[0.0, 1.0], &[f64::INFINITY, 0.0]),
            Err(LeakageError::NonFinite)
        );
    }
}
