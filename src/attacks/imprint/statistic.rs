//! The statistic every imprint row measures: one linear function s·x of the image. Breaching
//! offers the mean brightness, a random direction and a DCT mode; so does ppml.

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// What the imprint rows measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Statistic {
    /// The mean pixel value: s = (1/d, …, 1/d).
    MeanBrightness,
    /// A random unit direction, N(0, 1) per pixel then normalised, drawn from the attacker's
    /// stream.
    RandomDirection,
    /// The lowest non-constant 2-D DCT-II mode along the rows: s_(r,c) = cos(π(r + ½)/side),
    /// normalised to unit length (bright top against bright bottom).
    Dct,
}

impl Statistic {
    /// The direction s for `side × side` images, unit length except the mean brightness (whose
    /// value stays in the pixel range).
    pub fn direction(self, side: usize, rng: &mut StdRng) -> Vec<f64> {
        let d = side * side;
        let raw: Vec<f64> = match self {
            Statistic::MeanBrightness => return vec![1.0 / d as f64; d],
            Statistic::RandomDirection => (0..d)
                .map(|_| rand_distr::Distribution::<f64>::sample(&rand_distr::StandardNormal, rng))
                .collect(),
            Statistic::Dct => (0..d)
                .map(|i| {
                    let r = (i / side) as f64;
                    (std::f64::consts::PI * (r + 0.5) / side as f64).cos()
                })
                .collect(),
        };
        let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
        raw.into_iter().map(|v| v / norm).collect()
    }
}

impl Statistic {
    /// The direction over a latent code of `width` coordinates (Scale-MIA): the mean
    /// activation, or a random unit direction; `None` for the DCT mode, which needs an image.
    pub fn latent_direction(self, width: usize, rng: &mut StdRng) -> Option<Vec<f64>> {
        match self {
            Statistic::MeanBrightness => Some(vec![1.0 / width as f64; width]),
            Statistic::RandomDirection => {
                let raw: Vec<f64> = (0..width)
                    .map(|_| {
                        rand_distr::Distribution::<f64>::sample(&rand_distr::StandardNormal, rng)
                    })
                    .collect();
                let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
                Some(raw.into_iter().map(|v| v / norm).collect())
            }
            Statistic::Dct => None,
        }
    }
}

/// s·x for one image.
pub fn measure(direction: &[f64], image: &[f32]) -> f64 {
    direction
        .iter()
        .zip(image)
        .map(|(s, &x)| s * f64::from(x))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_mean_brightness_of_a_flat_image_is_its_value() {
        let s = Statistic::MeanBrightness.direction(4, &mut StdRng::seed_from_u64(0));
        assert!((measure(&s, &[0.25; 16]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn random_and_dct_directions_have_unit_length() {
        for stat in [Statistic::RandomDirection, Statistic::Dct] {
            let s = stat.direction(5, &mut StdRng::seed_from_u64(1));
            let norm: f64 = s.iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-12, "{stat:?}: {norm}");
        }
        // The DCT mode is bright-top minus bright-bottom: zero on a flat image.
        let s = Statistic::Dct.direction(6, &mut StdRng::seed_from_u64(0));
        assert!(measure(&s, &[0.7; 36]).abs() < 1e-12);
    }
}
