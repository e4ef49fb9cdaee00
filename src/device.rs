//! The compute backend, chosen at run time with `--backend` rather than at compile time.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Which burn backend runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn's pure-Rust CPU backend (SIMD + threads).
    #[default]
    Flex,
    /// The ndarray CPU backend (deprecated upstream, kept because the original design named it).
    Ndarray,
    /// GPUs through wgpu; needs a build with `--features wgpu`.
    Wgpu,
}

impl Backend {
    /// The plain (non-autodiff) device for this backend.
    pub fn device(self) -> Result<Device, ConfigError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            // Deprecated upstream in favour of flex; kept for comparison runs.
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
        }
    }

    /// The name used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }
}

/// Whether `device` is one of the CPU backends (flex, ndarray), whose tensors host code can read
/// and write without a transfer.
pub fn on_host(device: &Device) -> bool {
    #[allow(deprecated)] // ndarray: deprecated upstream, still one of ppml's backends
    let ndarray = Device::ndarray();
    *device == Device::flex() || *device == ndarray
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, ConfigError> {
    Ok(Device::wgpu(Default::default()))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, ConfigError> {
    Err(ConfigError::Backend(
        "wgpu".into(),
        "rebuild with `cargo build --release --features wgpu`".into(),
    ))
}
