//! What can make a reconstruction unmeasurable. Only a bad threshold is the user's to fix; the
//! rest are bugs or a diverged attack upstream, and say which.

/// Images or settings the leakage measures cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum LeakageError {
    /// A recovery threshold outside (0, 1]: SSIM cannot exceed 1, and 0 or less would count
    /// an unrelated image as recovered.
    #[error(
        "SSIM threshold {value} is outside (0, 1]: give the SSIM a reconstruction must reach to count as recovered (the field uses 0.6)"
    )]
    Threshold { value: f64 },
    /// Images smaller than the 11×11 SSIM window (scikit-image refuses them too).
    #[error("{side}×{side} images are smaller than the 11×11 SSIM window")]
    TooSmall { side: usize },
    /// An image whose pixel count is not side².
    #[error("an image holds {found} pixels, but {side}×{side} images hold {}", side * side)]
    WrongLength { side: usize, found: usize },
    /// Two images of different sizes compared pixel by pixel.
    #[error("cannot compare an image of {left} pixels with one of {right}")]
    LengthMismatch { left: usize, right: usize },
    /// An image with no pixels.
    #[error("an image with no pixels has no error to measure")]
    Empty,
    /// A NaN or infinite pixel: the attack diverged, and its output measures nothing.
    #[error("a pixel is NaN or infinite (did the reconstruction diverge?)")]
    NonFinite,
    /// An original outside [0, 1]: the data range L = 1 of PSNR and SSIM would be wrong.
    #[error(
        "original image {index} has a pixel of {value}, outside [0, 1]: pass images scaled to [0, 1], not standardized ones"
    )]
    OriginalOutOfRange { index: usize, value: f64 },
    /// As many reconstructions as originals are needed for a one-to-one matching.
    #[error(
        "{reconstructions} reconstructions cannot be matched one-to-one with {originals} originals"
    )]
    CountMismatch {
        originals: usize,
        reconstructions: usize,
    },
    /// Nothing to measure.
    #[error("no images to measure")]
    NoImages,
}

impl LeakageError {
    /// True for a setting the user chose (exit code 2); false for a bug or a diverged attack.
    pub fn is_bad_setting(&self) -> bool {
        matches!(self, LeakageError::Threshold { .. })
    }
}
