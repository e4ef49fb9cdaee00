//! The CNN's memory-bound steps as plain loops over host memory, for the CPU backends.
//!
//! Written by hand because burn 0.22's CPU kernels for them are far from the machine's speed,
//! measured at batch 256 on 2 cores (`[256, 16, 14, 14]`, 800 K values): its max-pool with
//! indices takes 8.4 ms (a generic 3-D kernel that recomputes the window bounds for every
//! output), tanh 8.3 ms and the sigmoid 3.3 ms (scalar, one thread), a max of two shifted views
//! 3.6 ms and any copy of a permuted tensor about 9 ms per 3 M values (a strided iterator),
//! where a contiguous multiply takes 0.2 ms. The matmuls stay burn's.
//!
//! Every map here is channels-last (`[batch, h, w, c]`, "NHWC"): a convolution written as
//! im2col + matmul produces that layout, and so nothing is ever permuted. The loops run in
//! parallel over examples. Each kernel is tested against burn's own operation in f64
//! (`host.rs` and the tests below).

use std::mem::MaybeUninit;
use std::ops::{Add, Mul, Sub};

use multiversion::multiversion;
use rayon::prelude::*;

use crate::model::Activation;

/// The two float types ppml computes in (f32 for runs, f64 for the exactness tests).
pub(super) trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + burn::tensor::Element
{
    /// 1.
    const ONE: Self;
    /// eˣ.
    fn exp(self) -> Self;
    /// 1 / x.
    fn recip(self) -> Self;
}

impl Real for f32 {
    const ONE: Self = 1.0;
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn recip(self) -> Self {
        f32::recip(self)
    }
}

impl Real for f64 {
    const ONE: Self = 1.0;
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn recip(self) -> Self {
        f64::recip(self)
    }
}

/// `f(z)` and `f'(z)` written from `y = f(z)`, the functions of [`Activation::apply`] and
/// [`Activation::derivative_from_output`] (tanh as `2σ(2z) − 1`, the same identity).
fn activate<T: Real>(act: Activation, z: T) -> (T, T) {
    let zero = T::default();
    let two = T::ONE + T::ONE;
    match act {
        Activation::Tanh => {
            // 1 − 2/(e^{2z} + 1): saturates to ±1 without overflow trouble (e^{2z} = ∞ gives 1).
            let y = T::ONE - two * ((two * z).exp() + T::ONE).recip();
            (y, T::ONE - y * y)
        }
        Activation::Sigmoid => {
            let y = ((zero - z).exp() + T::ONE).recip();
            (y, y * (T::ONE - y))
        }
        Activation::Relu => {
            if z > zero {
                (z, T::ONE)
            } else {
                (zero, zero)
            }
        }
    }
}

/// `y = f(z + bias)` and, when asked, `d = f'(z + bias)`, pixel by pixel (`bias` per channel).
/// The activation is a type parameter here, so that each loop is compiled for one function.
fn activate_all<T: Real>(
    z: &[T],
    bias: &[T],
    y: &mut [T],
    d: Option<&mut [T]>,
    f: impl Fn(T) -> (T, T),
) {
    let c = bias.len();
    match d {
        Some(d) => {
            let pixels = y.chunks_exact_mut(c).zip(d.chunks_exact_mut(c));
            for ((y, d), z) in pixels.zip(z.chunks_exact(c)) {
                for (((y, d), &z), &b) in y.iter_mut().zip(d).zip(z).zip(bias) {
                    (*y, *d) = f(z + b);
                }
            }
        }
        None => {
            for (y, z) in y.chunks_exact_mut(c).zip(z.chunks_exact(c)) {
                for ((y, &z), &b) in y.iter_mut().zip(z).zip(bias) {
                    *y = f(z + b).0;
                }
            }
        }
    }
}

/// Marks a padding entry of an index table: it reads zero, and a scatter drops it.
pub(super) const PAD: u32 = u32::MAX;

/// `out[b][j] = src[b][table[j]]` (0 where the table says [`PAD`]): im2col, or any fixed
/// permutation of an example's values.
///
/// The table is first cut into runs of consecutive source indices, each then one copy: conv1's
/// im2col reads 8 neighbouring pixels per kernel row, and copying them as a run instead of value
/// by value halves the time of its 12.8 MB of patches. A table of mostly single values (conv2's
/// im2col, whose columns are in the weight's `(c, kh, kw)` order over a channels-last map) is
/// read value by value instead, a loop without a branch per run.
///
/// - `src`: `batch` rows of `src.len() / batch` values; output: `batch` rows of `table.len()`
pub(super) fn gather<T: Real>(src: &[T], batch: usize, table: &[u32]) -> Vec<T> {
    let row = src.len() / batch;
    let runs = runs(table);
    let pads: Vec<usize> = (0..table.len()).filter(|&j| table[j] == PAD).collect();
    // Every output value is written below (a run's copy or a padding zero, or in the
    // value-by-value loop), so the output is not zeroed first: on a 12.8 MB im2col that memset,
    // one thread, was a twentieth of the CNN step. Runs and padding are disjoint positions.
    let covered = pads.len() + runs.iter().map(|&(_, _, len)| len).sum::<usize>();
    assert_eq!(covered, table.len(), "runs and padding cover the table");
    let mut out = Vec::with_capacity(batch * table.len());
    let examples = out.spare_capacity_mut()[..batch * table.len()]
        .par_chunks_mut(table.len())
        .zip(src.par_chunks(row));
    if runs.len() * 2 > table.len() {
        examples.for_each(|(o, s)| {
            for (o, &i) in o.iter_mut().zip(table) {
                o.write(if i == PAD {
                    T::default()
                } else {
                    s[i as usize]
                });
            }
        });
    } else {
        examples.for_each(|(o, s)| {
            for &(at, from, len) in &runs {
                copy_run(&mut o[at..at + len], &s[from..from + len]);
            }
            for &j in &pads {
                o[j].write(T::default());
            }
        });
    }
    // SAFETY: each example's `table.len()` values were all written above: the value-by-value
    // loop writes every position, and otherwise the runs and the padding positions, disjoint
    // sets of table positions, cover all of them (asserted above).
    unsafe { out.set_len(batch * table.len()) };
    out
}

/// `o.copy_from_slice(s)`, with short runs as fixed-size moves: a `copy_from_slice` of a length
/// known only at run time is a call to `memmove`, and conv1's im2col (rows of 8 pixels) made
/// 400 K such calls per batch of 256 (with conv2's, then also run by run, a fifth of the CNN
/// step by `perf`).
#[inline(always)]
fn copy_run<T: Copy>(o: &mut [MaybeUninit<T>], s: &[T]) {
    fn fixed<T: Copy, const N: usize>(o: &mut [MaybeUninit<T>], s: &[T]) {
        let (o, s): (&mut [MaybeUninit<T>; N], &[T; N]) =
            (o.try_into().unwrap(), s.try_into().unwrap());
        *o = s.map(MaybeUninit::new);
    }
    match o.len() {
        1 => _ = o[0].write(s[0]),
        2 => fixed::<T, 2>(o, s),
        4 => fixed::<T, 4>(o, s),
        8 => fixed::<T, 8>(o, s),
        16 => fixed::<T, 16>(o, s),
        _ => {
            for (o, &v) in o.iter_mut().zip(s) {
                o.write(v);
            }
        }
    }
}

/// `(output index, source index, length)` of every maximal run of consecutive source indices
/// in `table`, padding left out ([`gather`] writes its zeros).
fn runs(table: &[u32]) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (at, &i) in table.iter().enumerate() {
        if i == PAD {
            continue;
        }
        match runs.last_mut() {
            Some((start, from, len)) if *start + *len == at && *from + *len == i as usize => {
                *len += 1
            }
            _ => runs.push((at, i as usize, 1)),
        }
    }
    runs
}

/// The adjoint of [`gather`]: `out[b][table[j]] += cols[b][j]`, padding dropped (col2im: the
/// input gradient of an im2col convolution, overlapping windows adding up).
///
/// - `cols`: `batch` rows of `table.len()` values; output: `batch` rows of `row` values
pub(super) fn scatter_add<T: Real>(cols: &[T], batch: usize, table: &[u32], row: usize) -> Vec<T> {
    let mut out = vec![T::default(); batch * row];
    out.par_chunks_mut(row)
        .zip(cols.par_chunks(table.len()))
        .for_each(|(o, c)| {
            for (&v, &i) in c.iter().zip(table) {
                if i != PAD {
                    o[i as usize] = o[i as usize] + v;
                }
            }
        });
    out
}

/// A channels-last map's sizes: `[batch, h, w, c]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Nhwc {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Nhwc {
    /// Values per example.
    fn per_example(self) -> usize {
        self.h * self.w * self.c
    }

    /// The map after a 2×2, stride-1 max-pool.
    pub fn pooled(self) -> Self {
        Self {
            h: self.h - 1,
            w: self.w - 1,
            ..self
        }
    }
}

/// What [`bias_act_pool`] hands back.
pub(super) struct Pooled<T> {
    /// `[batch, h − 1, w − 1, c]`.
    pub pooled: Vec<T>,
    /// For every pooled value, which of its window's four inputs was the maximum: 0 (top
    /// left), 1 (top right), 2 (bottom left) or 3, the first in row-major order on a tie, as
    /// burn's `max_pool2d` (its CPU kernels keep a candidate only when strictly larger).
    pub argmax: Vec<u8>,
    /// `f'(z)` at every input position, `[batch, h, w, c]`: present when asked for.
    pub derivative: Option<Vec<T>>,
}

/// `maxpool₂ₓ₂(f(z + bias))` in one pass per example: a convolution's bias, activation and
/// max-pool (stride 1), keeping what the backward pass needs when `keep_derivative`.
///
/// - `z`: `shape`, channels-last; `bias`: `[c]`
pub(super) fn bias_act_pool<T: Real>(
    z: &[T],
    bias: &[T],
    act: Activation,
    shape: Nhwc,
    keep_derivative: bool,
) -> Pooled<T> {
    let batch = shape.batch;
    let (n_in, n_out) = (shape.per_example(), shape.pooled().per_example());
    let mut pooled = vec![T::default(); batch * n_out];
    let mut argmax = vec![0u8; batch * n_out];
    let mut derivative = vec![T::default(); if keep_derivative { batch * n_in } else { 0 }];
    let example = |p: &mut [T], a: &mut [u8], z: &[T], d: Option<&mut [T]>| {
        pool_example(p, a, z, d, bias, act, shape)
    };
    let examples = pooled
        .par_chunks_mut(n_out)
        .zip(argmax.par_chunks_mut(n_out))
        .zip(z.par_chunks(n_in));
    if keep_derivative {
        examples
            .zip(derivative.par_chunks_mut(n_in))
            .for_each(|(((p, a), z), d)| example(p, a, z, Some(d)));
    } else {
        examples.for_each(|((p, a), z)| example(p, a, z, None));
    }
    Pooled {
        pooled,
        argmax,
        derivative: keep_derivative.then_some(derivative),
    }
}

/// One example of [`bias_act_pool`]: activate into `y` (and its slopes into `d`), then pool
/// `y`. Pixel by pixel, channels innermost, so that the loops run over plain slices the compiler
/// can vectorise: compiled once per instruction set and chosen at run time (`multiversion`),
/// since a release build otherwise targets baseline x86-64 (SSE2, 4 lanes) where this machine
/// kind has AVX-512 (16: one conv1 pixel's channels). The arithmetic is the same in every
/// version (no fused multiply-adds), so are the results.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl", "x86_64+avx2+fma"))]
fn pool_example<T: Real>(
    p: &mut [T],
    a: &mut [u8],
    z: &[T],
    d: Option<&mut [T]>,
    bias: &[T],
    act: Activation,
    shape: Nhwc,
) {
    let Nhwc { h, w, c, .. } = shape;
    let n_in = shape.per_example();
    let mut y = vec![T::default(); n_in];
    match act {
        Activation::Tanh => activate_all(z, bias, &mut y, d, |z| activate(Activation::Tanh, z)),
        Activation::Sigmoid => {
            activate_all(z, bias, &mut y, d, |z| activate(Activation::Sigmoid, z))
        }
        Activation::Relu => activate_all(z, bias, &mut y, d, |z| activate(Activation::Relu, z)),
    }
    for i in 0..h - 1 {
        for j in 0..w - 1 {
            // The window's top row (columns j, j + 1) and bottom row, each 2c values.
            let top = &y[(i * w + j) * c..][..2 * c];
            let bottom = &y[((i + 1) * w + j) * c..][..2 * c];
            let o = (i * (w - 1) + j) * c;
            let (p, a) = (&mut p[o..o + c], &mut a[o..o + c]);
            let corners = top[..c]
                .iter()
                .zip(&top[c..])
                .zip(bottom[..c].iter().zip(&bottom[c..]));
            for ((p, a), ((&v0, &v1), (&v2, &v3))) in p.iter_mut().zip(a).zip(corners) {
                // A knock-out of the two rows, then the two winners, the later one
                // taking over only when strictly larger: the first maximum in
                // row-major order wins. Selects, not branches, so the channels vectorise
                // (the comparisons of random activations defeat a branch predictor).
                let (m01, i01) = if v1 > v0 { (v1, 1u8) } else { (v0, 0) };
                let (m23, i23) = if v3 > v2 { (v3, 3u8) } else { (v2, 2) };
                (*p, *a) = if m23 > m01 { (m23, i23) } else { (m01, i01) };
            }
        }
    }
}

/// The backward pass of [`bias_act_pool`]: each pooled value's gradient goes to its window's
/// maximum (overlapping windows add up), then times `f'(z)`. Gives `∂L/∂z`, `shape`.
///
/// - `grad`: `[batch, h − 1, w − 1, c]`; `argmax` as [`Pooled::argmax`]; `derivative`: `shape`
pub(super) fn pool_act_backward<T: Real>(
    grad: &[T],
    argmax: &[u8],
    derivative: &[T],
    shape: Nhwc,
) -> Vec<T> {
    let (n_in, n_out) = (shape.per_example(), shape.pooled().per_example());
    let mut out = vec![T::default(); derivative.len()];
    out.par_chunks_mut(n_in)
        .zip(grad.par_chunks(n_out))
        .zip(argmax.par_chunks(n_out))
        .zip(derivative.par_chunks(n_in))
        .for_each(|(((o, g), a), d)| unpool_example(o, g, a, d, shape));
    out
}

/// One example of [`pool_act_backward`], compiled per instruction set as [`pool_example`].
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl", "x86_64+avx2+fma"))]
fn unpool_example<T: Real>(o: &mut [T], g: &[T], a: &[u8], d: &[T], shape: Nhwc) {
    let Nhwc { h, w, c, .. } = shape;
    // Input by input, each written once: the sum over the (up to) four windows that
    // hold it, of the window's gradient where its maximum is this input. (Scattering
    // window by window instead adds into every input four times, a chain of
    // dependent stores that measured several times slower.)
    let window = |i: usize, j: usize| {
        let at = (i * (w - 1) + j) * c;
        (&g[at..at + c], &a[at..at + c])
    };
    for r in 0..h {
        for q in 0..w {
            // The windows holding (r, q), and which corner of each it is.
            let holding = [
                (r > 0 && q > 0).then(|| (window(r - 1, q - 1), 3u8)),
                (r > 0 && q < w - 1).then(|| (window(r - 1, q), 2)),
                (r < h - 1 && q > 0).then(|| (window(r, q - 1), 1)),
                (r < h - 1 && q < w - 1).then(|| (window(r, q), 0)),
            ];
            let at = (r * w + q) * c;
            let (o, d) = (&mut o[at..at + c], &d[at..at + c]);
            for ((g, a), corner) in holding.into_iter().flatten() {
                for ((o, &g), &a) in o.iter_mut().zip(g).zip(a) {
                    *o = *o + if a == corner { g } else { T::default() };
                }
            }
            for (o, &d) in o.iter_mut().zip(d) {
                *o = *o * d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_add_is_the_adjoint_of_gather() {
        // ⟨gather(x), y⟩ = ⟨x, scatter_add(y)⟩ for any x, y, repeated indices and padding
        // included.
        let table = [3, PAD, 0, 3, 1, PAD, 2];
        let x: Vec<f64> = (0..2 * 4).map(|i| (i as f64 * 0.7).sin()).collect();
        let y: Vec<f64> = (0..2 * table.len())
            .map(|i| (i as f64 * 1.3).cos())
            .collect();
        let gx = gather(&x, 2, &table);
        let sy = scatter_add(&y, 2, &table, 4);
        let lhs: f64 = gx.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&sy).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
        assert_eq!(gx[1], 0.0, "padding reads zero");
    }

    /// Pooling and its backward pass against burn's `max_pool2d` and its autodiff gradient, on
    /// plateaus and repeated values, so that most windows hold a tie. ReLU on positive values is
    /// the identity with slope 1, so the comparison is of the pooling alone.
    #[test]
    fn pooling_routes_ties_to_the_first_maximum_as_burns_max_pool2d_does() {
        use burn::tensor::module::max_pool2d;
        use burn::tensor::ops::MaxPoolOptions;
        use burn::tensor::{Device, Tensor, TensorData};
        let shape = Nhwc {
            batch: 2,
            h: 5,
            w: 6,
            c: 3,
        };
        let n = shape.batch * shape.per_example();
        // Value by 2×3 blocks of pixels: a window inside a block is one plateau.
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let (ch, pixel) = (i % shape.c, i / shape.c);
                let (row, col) = ((pixel / shape.w) % shape.h, pixel % shape.w);
                1.0 + ((row / 2 + col / 3 + ch) % 3) as f32
            })
            .collect();
        let bias = vec![0.0f32; shape.c];
        let out = bias_act_pool(&x, &bias, Activation::Relu, shape, true);
        let grad: Vec<f32> = (0..out.pooled.len()).map(|i| 1.0 + i as f32).collect();
        let ours = pool_act_backward(
            &grad,
            &out.argmax,
            out.derivative.as_deref().unwrap(),
            shape,
        );

        let ad = Device::flex().autodiff();
        let nchw = |v: Vec<f32>, s: Nhwc| {
            Tensor::<4>::from_data(TensorData::new(v, [s.batch, s.h, s.w, s.c]), &ad)
                .permute([0, 3, 1, 2])
        };
        let x_ad = nchw(x, shape).require_grad();
        let pooled = max_pool2d(
            x_ad.clone(),
            MaxPoolOptions::new([2, 2]).with_stride([1, 1]),
        );
        let weighted = pooled.clone() * nchw(grad, shape.pooled());
        let theirs = x_ad.grad(&weighted.sum().backward()).unwrap();
        let as_nhwc = |t: Tensor<4>| {
            t.permute([0, 2, 3, 1])
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(out.pooled, as_nhwc(pooled.inner()));
        assert_eq!(ours, as_nhwc(theirs));
    }

    #[test]
    fn activations_and_their_slopes_match_the_closed_forms() {
        for z in [-30.0f64, -2.0, -0.1, 0.0, 0.3, 4.0, 30.0] {
            let (y, d) = activate(Activation::Tanh, z);
            assert!((y - z.tanh()).abs() < 1e-15 && (d - (1.0 - z.tanh().powi(2))).abs() < 1e-14);
            let s = 1.0 / (1.0 + (-z).exp());
            let (y, d) = activate(Activation::Sigmoid, z);
            assert!((y - s).abs() < 1e-15 && (d - s * (1.0 - s)).abs() < 1e-15);
            let (y, d) = activate(Activation::Relu, z);
            assert_eq!((y, d), (z.max(0.0), if z > 0.0 { 1.0 } else { 0.0 }));
        }
    }
}
