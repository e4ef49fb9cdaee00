//! f64 checks, in a test binary of their own: a device's float type is process-wide state in
//! burn, so switching flex to f64 must not leak into the f32 tests.

#[path = "dp_oracle.rs"]
mod dp_oracle;

use burn::tensor::{Device, FloatDType};
use ppml::model::ModelKind;

fn f64_device() -> Device {
    let mut device = Device::flex();
    device
        .configure(FloatDType::F64)
        .expect("flex supports f64");
    device
}

#[test]
fn ghost_clipped_sum_equals_the_per_example_loop_in_f64() {
    let device = f64_device();
    for (kind, seed) in [(ModelKind::Mlp, 3), (ModelKind::Cnn, 4)] {
        let worst = dp_oracle::fast_clipped_sum_matches_the_loop(kind, &device, seed);
        eprintln!("{kind:?}: worst relative difference {worst:e}");
        assert!(worst < 1e-10, "{kind:?}: relative difference {worst}");
    }
}
