//! Keep freed memory in the process instead of handing it back to the kernel at once.
//!
//! burn's CPU backend allocates a fresh buffer for the output of almost every tensor operation
//! and frees it soon after. With glibc's default settings a buffer of more than 128 KiB (for
//! example one gradient of the 784×256 layer, 800 KB) comes from its own `mmap` or from the top
//! of the heap, which is trimmed as soon as it is freed, so the next buffer of that size faults
//! its pages in again, zeroed by the kernel: a third of the time of a gradient-inversion
//! evaluation went to page faults (`perf record` on `ppml bench dlg`), and raising the two
//! thresholds made it 3× faster (1.5 → 0.5 ms at batch 1). The cost is that the process keeps
//! its peak heap until it exits, which for a command-line run is what it needs anyway.
//! Nothing numeric changes. Other platforms and allocators are left as they are.

/// Serve allocations up to 256 MiB from the heap and never trim it below 1 GiB of free space.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    // SAFETY: `mallopt` only sets allocator parameters; it is called once, at the start of
    // `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Nothing to tune outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}
