//! How much of a party's training images a gradient-inversion attack recovered (Zhu et al.
//! 2019, "Deep Leakage from Gradients"; Geiping et al. 2020, "Inverting Gradients"), measured
//! as that literature does: reconstructions matched one-to-one to the originals, then SSIM
//! (Wang et al. 2004, Eq. 13 with Gaussian windows), PSNR = 10·log10(1 / MSE), the number
//! recovered at an SSIM threshold, and NVIDIA's RDLV (Hatamizadeh et al. 2023).
//!
//! Split by concern: `pixels.rs` (MSE, PSNR and their summary), `ssim.rs`, `assignment.rs`
//! (matching), `recovery.rs` (the threshold and RDLV), and `reconstruction.rs`, the entry point
//! an experiment calls.

mod assignment;
mod error;
mod pixels;
mod reconstruction;
mod recovery;
mod ssim;

pub use error::LeakageError;
pub use pixels::{mse, psnr, psnr_from_mse, psnr_of_mean_mse};
pub use reconstruction::{MatchedImages, ReconstructionMetrics, measure_reconstruction};
pub use recovery::{SsimThreshold, rdlv, recovered_count};
pub use ssim::{WINDOW, ssim};
