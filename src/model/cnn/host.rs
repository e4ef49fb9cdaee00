//! The CNN's forward and backward passes written out for the CPU backends: burn's matmuls for
//! the arithmetic, `kernels.rs` for the memory-bound steps between them, no autodiff tape.
//!
//! Both convolutions run as im2col + one matmul, channels-last, so a convolution's output
//! `[batch·positions, c]` is already the next step's input. The backward pass is the chain rule
//! written out, layer by layer, with δ the gradient of the *summed* loss at a layer's output
//! (pre-activation) for each example:
//!
//! - fc2: δ₄ = ∂L/∂logits, given (for the cross-entropy, softmax(logits) − onehot(y));
//! - fc1: δ₃ = δ₄ W₄ᵀ ⊙ f'(z₃);
//! - conv2: the gradient at the pooled map, δ₃ W₃ᵀ, unflattened, sent to each window's maximum,
//!   times f'(z₂);
//! - conv1: δ₂ W₂ (the gradient at conv2's im2col columns), col2im, through the first pool, times
//!   f'(z₁).
//!
//! Every layer is a dense map over positions, `z[b, p] = a[b, p] · W + bias`, so each comes back
//! as a [`LayerGrads`] `(a, δ)`: from there `train::dp` takes per-example norms and clipped
//! sums, and a plain step the batch gradient `Σ aᵀδ / B`, exactly as from the autodiff taps.

use std::marker::PhantomData;
use std::ops::Deref;

use burn::tensor::{DType, Device, Element, Tensor, TensorData};

use super::kernels::{self, Nhwc, PAD, Pooled, Real};
use super::{Cnn, K1, K2, P1, S1, S2, out_side, patch_indices};
use crate::model::{LayerGrads, WeightLayout};

/// The forward pass's outputs, and what the backward pass reads.
struct Trace<T> {
    /// conv1's im2col input, `[batch, s1², 64]`.
    patches1: Tensor<3>,
    pool1: Pooled<T>,
    shape1: Nhwc,
    /// conv2's im2col input, `[batch, s2², c1·16]`, columns in the weight's `(c, kh, kw)` order.
    patches2: Tensor<3>,
    pool2: Pooled<T>,
    shape2: Nhwc,
    /// The pooled conv2 map flattened in `(c, h, w)` order: fc1's input, `[batch, c2·f²]`.
    flat: Tensor<2>,
    /// fc1's activation, fc2's input, `[batch, dense]`.
    a3: Tensor<2>,
    logits: Tensor<2>,
    tables: Tables,
}

/// Index tables of the three fixed rearrangements.
struct Tables {
    /// conv1's im2col over a `side × side` image: `[s1² · 64]`.
    conv1: Vec<u32>,
    /// conv2's im2col over the pooled `[p1, p1, c1]` map, columns `(c, kh, kw)`.
    conv2: Vec<u32>,
    /// The pooled `[f, f, c2]` map in `(c, h, w)` order, as `flatten(1, 3)` of an NCHW map.
    flatten: Vec<u32>,
}

impl Tables {
    fn new(side: usize, c1: usize, c2: usize) -> Self {
        let pad = (side * side) as i64;
        let conv1 = patch_indices(side, K1, S1, P1)
            .into_iter()
            .map(|i| if i == pad { PAD } else { i as u32 })
            .collect();
        let p1 = out_side(side, K1, S1, P1) - 1;
        let s2 = out_side(p1, K2, S2, 0);
        let mut conv2 = Vec::with_capacity(s2 * s2 * c1 * K2 * K2);
        for oh in 0..s2 {
            for ow in 0..s2 {
                for c in 0..c1 {
                    for kh in 0..K2 {
                        for kw in 0..K2 {
                            let (r, col) = (oh * S2 + kh, ow * S2 + kw);
                            conv2.push(((r * p1 + col) * c1 + c) as u32);
                        }
                    }
                }
            }
        }
        let f = s2 - 1;
        let mut flatten = Vec::with_capacity(c2 * f * f);
        for c in 0..c2 {
            for h in 0..f {
                for w in 0..f {
                    flatten.push(((h * f + w) * c2 + c) as u32);
                }
            }
        }
        Self {
            conv1,
            conv2,
            flatten,
        }
    }
}

/// A tensor's values on the host, read in place as `T` (converted first only if the tensor
/// holds the other float type): a conversion into a `Vec` would copy them, since burn's
/// buffers are aligned for SIMD beyond what a `Vec<f32>` may own.
struct HostValues<T> {
    data: TensorData,
    element: PhantomData<T>,
}

impl<T: Real> Deref for HostValues<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.data
            .as_slice::<T>()
            .expect("converted to the element type")
    }
}

/// The values of `t` on the host.
fn host<T: Real, const D: usize>(t: Tensor<D>) -> HostValues<T> {
    let data = t.into_data();
    let data = if data.dtype() == <T as Element>::dtype() {
        data
    } else {
        data.convert::<T>()
    };
    HostValues {
        data,
        element: PhantomData,
    }
}

/// A layer's bias, without autodiff (every layer of the CNN has one).
fn bias(bias: &Option<burn::module::Param<Tensor<1>>>) -> Tensor<1> {
    let bias = bias.as_ref().expect("the CNN's layers have biases");
    bias.val().inner()
}

/// A host buffer as a tensor on `device`.
fn tensor<T: Real, const D: usize>(
    values: Vec<T>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

impl Cnn {
    /// The CNN's weights as plain tensors (no autodiff).
    fn matrices(&self) -> [Tensor<2>; 4] {
        let [c2, c1, kh, kw] = self.conv2.weight.dims();
        [
            self.conv1.weight.val().inner(),
            self.conv2.weight.val().inner().reshape([c2, c1 * kh * kw]),
            self.fc1.weight.val().inner(),
            self.fc2.weight.val().inner(),
        ]
    }

    fn trace<T: Real>(&self, images: Tensor<4>, keep: bool) -> Trace<T> {
        let act = self.activation;
        let images = images.inner();
        let device = images.device();
        let [batch, _, side, _] = images.dims();
        let [w1, w2, w3, w4] = self.matrices();
        let (c1, c2) = (w1.dims()[1], w2.dims()[0]);
        let tables = Tables::new(side, c1, c2);

        let s1 = out_side(side, K1, S1, P1);
        let patches1 =
            gather_tensor::<T, 3>(images, batch, &tables.conv1, [batch, s1 * s1, K1 * K1]);
        let (pool1, shape1) = self.conv_act_pool::<T>(&patches1, w1, &self.conv1.bias, s1, keep);

        let s2 = out_side(s1 - 1, K2, S2, 0);
        let cols = kernels::gather(&pool1.pooled, batch, &tables.conv2);
        let patches2 = tensor(cols, [batch, s2 * s2, c1 * K2 * K2], &device);
        let w2 = w2.transpose(); // [c1·16, c2]
        let (pool2, shape2) = self.conv_act_pool::<T>(&patches2, w2, &self.conv2.bias, s2, keep);

        let flat = kernels::gather(&pool2.pooled, batch, &tables.flatten);
        let flat = tensor(flat, [batch, tables.flatten.len()], &device);
        let a3 = act.apply(flat.clone().matmul(w3) + bias(&self.fc1.bias).unsqueeze_dim(0));
        let logits = a3.clone().matmul(w4) + bias(&self.fc2.bias).unsqueeze_dim(0);
        Trace {
            patches1,
            pool1,
            shape1,
            patches2,
            pool2,
            shape2,
            flat,
            a3,
            logits,
            tables,
        }
    }

    /// One convolution as its im2col matmul, then its bias, activation and pooling
    /// (`kernels::bias_act_pool`): `patches` `[batch, side², fan_in]`, `weight` `[fan_in, c]`.
    /// Returns the pooled map and the shape of the unpooled one, channels-last.
    fn conv_act_pool<T: Real>(
        &self,
        patches: &Tensor<3>,
        weight: Tensor<2>,
        conv_bias: &Option<burn::module::Param<Tensor<1>>>,
        side: usize,
        keep: bool,
    ) -> (Pooled<T>, Nhwc) {
        let [batch, positions, fan_in] = patches.dims();
        let c = weight.dims()[1];
        let z = patches
            .clone()
            .reshape([batch * positions, fan_in])
            .matmul(weight); // [batch·side², c], channels-last
        let shape = Nhwc {
            batch,
            h: side,
            w: side,
            c,
        };
        let bias = host(bias(conv_bias));
        (
            kernels::bias_act_pool(&host(z), &bias, self.activation, shape, keep),
            shape,
        )
    }

    /// [`Cnn::forward`] on a CPU backend without autodiff: same logits, no tape.
    pub(super) fn host_forward(&self, images: Tensor<4>) -> Tensor<2> {
        match images.dtype() {
            DType::F64 => self.trace::<f64>(images, false).logits,
            _ => self.trace::<f32>(images, false).logits,
        }
    }

    /// Every layer's input and its output gradient δ, in forward order, and the logits (plain
    /// tensors): δ at the logits is `output_grad(logits)`, and the pass carries it back.
    pub(super) fn host_backprop(
        &self,
        images: Tensor<4>,
        output_grad: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> (Vec<LayerGrads>, Tensor<2>) {
        match images.dtype() {
            DType::F64 => self.backprop_as::<f64>(images, output_grad),
            _ => self.backprop_as::<f32>(images, output_grad),
        }
    }

    fn backprop_as<T: Real>(
        &self,
        images: Tensor<4>,
        output_grad: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> (Vec<LayerGrads>, Tensor<2>) {
        let act = self.activation;
        let device = images.device().inner();
        let [batch, ..] = images.dims();
        let t = self.trace::<T>(images, true);
        let [_, w2, w3, w4] = self.matrices();
        let (c1, c2) = (t.shape1.c, t.shape2.c);
        let tables = &t.tables;
        let delta4 = output_grad(t.logits.clone()); // [batch, classes]
        let delta3 =
            delta4.clone().matmul(w4.transpose()) * act.derivative_from_output(t.a3.clone());

        let at_pool2 = host::<T, 2>(delta3.clone().matmul(w3.transpose())); // (c, h, w) order
        let at_pool2 = kernels::scatter_add(
            &at_pool2,
            batch,
            &tables.flatten,
            t.shape2.pooled().h * t.shape2.pooled().w * c2,
        );
        let derivative2 = t.pool2.derivative.as_deref().expect("kept");
        let delta2 = kernels::pool_act_backward(&at_pool2, &t.pool2.argmax, derivative2, t.shape2);
        let positions2 = t.shape2.h * t.shape2.w;
        let delta2 = tensor(delta2, [batch, positions2, c2], &device);

        let at_cols = delta2.clone().reshape([batch * positions2, c2]).matmul(w2);
        let pooled1 = t.shape1.pooled();
        let at_pool1 = kernels::scatter_add(
            &host::<T, 2>(at_cols),
            batch,
            &tables.conv2,
            pooled1.h * pooled1.w * c1,
        );
        let derivative1 = t.pool1.derivative.as_deref().expect("kept");
        let delta1 = kernels::pool_act_backward(&at_pool1, &t.pool1.argmax, derivative1, t.shape1);
        let delta1 = tensor(delta1, [batch, t.shape1.h * t.shape1.w, c1], &device);

        let layer = |input: Tensor<3>, delta: Tensor<3>, linear: &burn::nn::Linear| LayerGrads {
            input,
            delta,
            weight: (linear.weight.id, WeightLayout::InOut),
            bias: linear.bias.as_ref().map(|b| b.id),
        };
        let layers = vec![
            layer(t.patches1, delta1, &self.conv1),
            LayerGrads {
                input: t.patches2,
                delta: delta2,
                weight: (self.conv2.weight.id, WeightLayout::OutIn),
                bias: self.conv2.bias.as_ref().map(|b| b.id),
            },
            layer(t.flat.unsqueeze_dim(1), delta3.unsqueeze_dim(1), &self.fc1),
            layer(t.a3.unsqueeze_dim(1), delta4.unsqueeze_dim(1), &self.fc2),
        ];
        (layers, t.logits)
    }
}

/// `kernels::gather` of a tensor's examples, back as a tensor of `shape`.
fn gather_tensor<T: Real, const D: usize>(
    source: Tensor<4>,
    batch: usize,
    table: &[u32],
    shape: [usize; D],
) -> Tensor<D> {
    let device = source.device();
    let values = kernels::gather(&host::<T, 4>(source), batch, table);
    tensor(values, shape, &device)
}
