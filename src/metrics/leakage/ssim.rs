//! The structural similarity index of Wang, Bovik, Sheikh & Simoncelli 2004, "Image Quality
//! Assessment: From Error Visibility to Structural Similarity": per pixel, Eq. 13,
//!
//! SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//!
//! with μ, σ² and σxy weighted by an 11×11 circular Gaussian of σ = 1.5 (Eqs. 14–16), C1 =
//! (K1 L)², C2 = (K2 L)², K1 = 0.01, K2 = 0.03 and data range L = 1; the image's score is the
//! mean of that map (MSSIM, Eq. 17).
//!
//! The details follow scikit-image's `structural_similarity(a, b, gaussian_weights=True,
//! sigma=1.5, use_sample_covariance=False, data_range=1.0)`, the value papers report, and the
//! tests match it to 1e-12 on vectors it produced (`tests/fixtures/ssim_vectors.json`):
//! - the Gaussian is `scipy.ndimage.gaussian_filter` with `truncate=3.5`: radius
//!   int(3.5 · 1.5 + 0.5) = 5, so 11 taps, exp(−k² / 2σ²) normalised to sum 1, applied along
//!   rows then columns;
//! - the border is extended in `mode='reflect'` (d c b a | a b c d | d c b a);
//! - variances are population ones, E[x²] − μ², as Wang et al. define them;
//! - the mean skips a 5-pixel border (the filter's radius), where the window leaves the image:
//!   a 28×28 image is scored on its central 18×18 pixels.

use super::LeakageError;
use super::pixels::finite;

/// Wang et al.'s Gaussian window σ.
const SIGMA: f64 = 1.5;
/// The window's radius: scikit-image truncates at 3.5 σ to get Wang et al.'s 11 taps.
const RADIUS: usize = 5;
/// The window's side, 11: images must be at least this large.
pub const WINDOW: usize = 2 * RADIUS + 1;
/// (K1 L)² with K1 = 0.01, L = 1: keeps the luminance term finite where both means are 0.
const C1: f64 = 0.01 * 0.01;
/// (K2 L)² with K2 = 0.03, L = 1: keeps the contrast-structure term finite on flat patches.
const C2: f64 = 0.03 * 0.03;

/// The 1-D Gaussian taps, as `scipy.ndimage._gaussian_kernel1d` computes them.
fn taps() -> [f64; WINDOW] {
    let mut w = [0.0; WINDOW];
    for (k, t) in w.iter_mut().enumerate() {
        let x = k as f64 - RADIUS as f64;
        *t = (-0.5 / (SIGMA * SIGMA) * x * x).exp();
    }
    let sum: f64 = w.iter().sum();
    w.map(|t| t / sum)
}

/// scipy's `mode='reflect'`: the edge pixel is repeated, then the image mirrored. One
/// reflection suffices because the radius (5) is less than the side (≥ 11).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if i < 0 {
        -i - 1
    } else if i >= n {
        2 * n - i - 1
    } else {
        i
    };
    r as usize
}

/// The Gaussian-weighted local mean of every pixel: one 1-D pass down the columns (axis 0),
/// then one along the rows (axis 1), in scipy's order.
fn blur(image: &[f64], side: usize, w: &[f64; WINDOW]) -> Vec<f64> {
    let at = |r: usize, c: usize| r * side + c;
    let mut down = vec![0.0; image.len()];
    for r in 0..side {
        for c in 0..side {
            down[at(r, c)] = (0..WINDOW)
                .map(|k| {
                    w[k] * image[at(reflect(r as isize + k as isize - RADIUS as isize, side), c)]
                })
                .sum();
        }
    }
    let mut out = vec![0.0; image.len()];
    for r in 0..side {
        for c in 0..side {
            out[at(r, c)] = (0..WINDOW)
                .map(|k| {
                    w[k] * down[at(r, reflect(c as isize + k as isize - RADIUS as isize, side))]
                })
                .sum();
        }
    }
    out
}

/// One image with the local statistics that depend on it alone, so that an n×n matrix of
/// SSIMs filters each image once and only the cross term per pair.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    side: usize,
    pixels: Vec<f64>,
    /// μ, per pixel.
    mean: Vec<f64>,
    /// σ² = E[x²] − μ², per pixel.
    var: Vec<f64>,
}

impl Prepared {
    /// Checks `image` (side² finite pixels, side ≥ 11) and filters it.
    pub(super) fn new<P: Copy + Into<f64>>(image: &[P], side: usize) -> Result<Self, LeakageError> {
        if side < WINDOW {
            return Err(LeakageError::TooSmall { side });
        }
        if image.len() != side * side {
            return Err(LeakageError::WrongLength {
                side,
                found: image.len(),
            });
        }
        let pixels = finite(image)?;
        let w = taps();
        let mean = blur(&pixels, side, &w);
        let squares: Vec<f64> = pixels.iter().map(|x| x * x).collect();
        let var = blur(&squares, side, &w)
            .iter()
            .zip(&mean)
            .map(|(sq, m)| sq - m * m)
            .collect();
        Ok(Self {
            side,
            pixels,
            mean,
            var,
        })
    }

    /// The SSIM map of `self` against `other`, border included. Both share `self.side`.
    fn map(&self, other: &Prepared) -> Vec<f64> {
        let products: Vec<f64> = self
            .pixels
            .iter()
            .zip(&other.pixels)
            .map(|(x, y)| x * y)
            .collect();
        let cross = blur(&products, self.side, &taps());
        (0..products.len())
            .map(|i| {
                let (mx, my) = (self.mean[i], other.mean[i]);
                let cov = cross[i] - mx * my;
                (2.0 * mx * my + C1) * (2.0 * cov + C2)
                    / ((mx * mx + my * my + C1) * (self.var[i] + other.var[i] + C2))
            })
            .collect()
    }

    /// Mean SSIM against `other`, over the pixels at least [`RADIUS`] from the border.
    pub(super) fn ssim(&self, other: &Prepared) -> f64 {
        debug_assert_eq!(self.side, other.side, "callers check both sides");
        let map = self.map(other);
        let inner = self.side - 2 * RADIUS;
        let sum: f64 = (RADIUS..self.side - RADIUS)
            .flat_map(|r| (RADIUS..self.side - RADIUS).map(move |c| (r, c)))
            .map(|(r, c)| map[r * self.side + c])
            .sum();
        sum / (inner * inner) as f64
    }
}

/// Mean SSIM of two `side`×`side` images (row-major, data range 1): 1 for identical images,
/// near 0 for unrelated ones, negative when anti-correlated.
pub fn ssim<P: Copy + Into<f64>>(a: &[P], b: &[P], side: usize) -> Result<f64, LeakageError> {
    Ok(Prepared::new(a, side)?.ssim(&Prepared::new(b, side)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        side: usize,
        pairs: Vec<Pair>,
    }

    #[derive(serde::Deserialize)]
    struct Pair {
        name: String,
        a: Vec<u8>,
        b: Vec<u8>,
        ssim: f64,
        full_mean: f64,
    }

    /// Pairs scikit-image scored (`tests/fixtures/ssim_vectors.py` regenerates them).
    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../../tests/fixtures/ssim_vectors.json"))
            .expect("the committed fixture is valid JSON")
    }

    fn scaled(pixels: &[u8]) -> Vec<f64> {
        pixels.iter().map(|&p| f64::from(p) / 255.0).collect()
    }

    #[test]
    fn ssim_matches_scikit_image_on_every_reference_pair() {
        let v = vectors();
        assert!(v.pairs.len() >= 8);
        for p in &v.pairs {
            let got = ssim(&scaled(&p.a), &scaled(&p.b), v.side).unwrap();
            assert!(
                (got - p.ssim).abs() < 1e-12,
                "{}: {got} vs {}",
                p.name,
                p.ssim
            );
        }
    }

    #[test]
    fn the_border_is_filtered_in_reflect_mode_as_scipy_does() {
        // The cropped mean never sees the border; the whole map's mean does, and it differs by
        // ~1e-3 between scipy's boundary modes for these pairs.
        let v = vectors();
        for p in &v.pairs {
            let (a, b) = (scaled(&p.a), scaled(&p.b));
            let map = Prepared::new(&a, v.side)
                .unwrap()
                .map(&Prepared::new(&b, v.side).unwrap());
            let mean = map.iter().sum::<f64>() / map.len() as f64;
            assert!(
                (mean - p.full_mean).abs() < 1e-12,
                "{}: {mean} vs {}",
                p.name,
                p.full_mean
            );
        }
    }

    #[test]
    fn f32_images_score_as_their_f64_values() {
        let v = vectors();
        let p = &v.pairs[2];
        let to_f32 = |x: &[u8]| x.iter().map(|&q| q as f32 / 255.0).collect::<Vec<f32>>();
        let got = ssim(&to_f32(&p.a), &to_f32(&p.b), v.side).unwrap();
        assert!((got - p.ssim).abs() < 1e-6, "{got} vs {}", p.ssim);
    }

    #[test]
    fn ssim_is_symmetric_and_one_only_for_identical_images() {
        let v = vectors();
        let p = &v.pairs[3];
        let (a, b) = (scaled(&p.a), scaled(&p.b));
        let (ab, ba) = (ssim(&a, &b, 28).unwrap(), ssim(&b, &a, 28).unwrap());
        assert!((ab - ba).abs() < 1e-12);
        assert!(ab < 1.0);
        assert_eq!(ssim(&a, &a, 28).unwrap(), 1.0);
    }

    #[test]
    fn the_window_taps_sum_to_one_and_peak_in_the_middle() {
        let w = taps();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(w.iter().all(|&t| t <= w[RADIUS]));
        assert_eq!(w[0], w[WINDOW - 1]);
    }

    #[test]
    fn reflect_mode_repeats_the_edge_pixel() {
        // d c b a | a b c d | d c b a
        let got: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
    }

    #[test]
    fn images_smaller_than_the_window_or_of_the_wrong_size_are_refused() {
        let small = vec![0.5f32; 100];
        assert_eq!(
            ssim(&small, &small, 10),
            Err(LeakageError::TooSmall { side: 10 })
        );
        let odd = vec![0.5f32; 783];
        assert_eq!(
            ssim(&odd, &odd, 28),
            Err(LeakageError::WrongLength {
                side: 28,
                found: 783
            })
        );
        let mut nan = vec![0.5f32; 121];
        nan[60] = f32::NAN;
        assert_eq!(
            ssim(&nan, &vec![0.5f32; 121], 11),
            Err(LeakageError::NonFinite)
        );
        // 11×11, the smallest: one window, one pixel scored.
        assert_eq!(ssim(&vec![0.5f32; 121], &vec![0.5f32; 121], 11), Ok(1.0));
    }
}
