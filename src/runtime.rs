//! What a stage of a run computes with: the device, its own random stream and where its
//! progress goes. Passed as one value so that training, fitting an attacker's model and
//! training shadows take the same three things in the same way.

use burn::tensor::Device;
use rand::rngs::StdRng;

use crate::progress::Progress;

/// A stage's device, random stream and progress bars.
pub struct Runtime<'a> {
    /// The plain (non-autodiff) device; training derives its autodiff device from it.
    pub device: &'a Device,
    /// The stage's random stream: weights, shuffles, Poisson batches and noise draw from it.
    pub rng: &'a mut StdRng,
    /// Where progress bars go.
    pub progress: &'a Progress,
}

impl<'a> Runtime<'a> {
    /// A runtime of these three.
    pub fn new(device: &'a Device, rng: &'a mut StdRng, progress: &'a Progress) -> Self {
        Self {
            device,
            rng,
            progress,
        }
    }

    /// The same device and progress with another random stream (a stage of its own).
    pub fn with_rng<'b>(&'b self, rng: &'b mut StdRng) -> Runtime<'b> {
        Runtime {
            device: self.device,
            rng,
            progress: self.progress,
        }
    }
}
