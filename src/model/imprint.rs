//! The imprint block a malicious server plants in front of the honest classifier ("Robbing the
//! Fed", Fowl et al. 2022; `attacks::imprint` reads its gradient back).
//!
//! A dense layer of k ReLU neurons whose weight columns are all one direction s (the statistic
//! the attacker measures: mean brightness, a random direction, a DCT mode) and whose biases are
//! minus the cut-offs c_0 < … < c_(k−1): neuron i fires for a sample x exactly when s·x > c_i.
//! The neurons' outputs are summed and added to every pixel (a residual connection: the honest
//! model keeps its input), so the gradient reaching neuron i from sample j is the same for
//! every neuron that sample fires: the sum over pixels of the honest model's input gradient.
//!
//! Two choices differ from breaching's `ImprintBlock` and are only about cost and precision:
//! - the map back to the image is a fixed sum, not a trainable dense `[k, d]` layer. The
//!   reference initialises that layer's rows all alike, which is all the attack needs, and a
//!   trainable one would double the parameters every party encodes and SecAgg masks (k·d each:
//!   2·32 M at k = 40,960);
//! - the layer is scaled by 1/k (columns s/k, biases −c/k), so that the block's output, x plus
//!   the mean of relu(s·x − c_i), stays in the pixel range for every k, while each neuron's
//!   gradient does not shrink with k (it would fall below the fixed-point code's step at large k
//!   if the map back divided by k instead). ΔW ÷ Δb is unchanged by the scale.
//!
//! # Shapes
//! - input and output: `[batch, d]`, `d = side²`

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use super::tape::{TappedLayer, tapped_linear};

/// The planted block: `x + Σ_i relu(imprint(x))_i`, added to every pixel.
#[derive(Module, Debug)]
pub struct ImprintBlock {
    /// `[d, k]`: every column the statistic's direction over k; bias `[k]`: minus the cut-offs
    /// over k.
    pub imprint: Linear,
}

impl ImprintBlock {
    /// The block measuring `direction` (length d) with `cutoffs` (ascending, one per neuron).
    pub fn planted(direction: &[f64], cutoffs: &[f64], device: &Device) -> Self {
        let (d, k) = (direction.len(), cutoffs.len());
        let scale = 1.0 / k as f64;
        let weight: Vec<f32> = (0..d)
            .flat_map(|p| std::iter::repeat_n((direction[p] * scale) as f32, k))
            .collect();
        let bias: Vec<f32> = cutoffs.iter().map(|&c| (-c * scale) as f32).collect();
        Self {
            imprint: Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(weight, [d, k]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(bias, [k]),
                    device,
                ))),
            },
        }
    }

    /// Number of imprint neurons (bins).
    pub fn bins(&self) -> usize {
        self.imprint.weight.dims()[1]
    }

    /// `x + Σ_i relu(imprint(x))_i`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let d = x.dims()[1];
        let offset = relu(self.imprint.forward(x.clone())).sum_dim(1); // [batch, 1]
        x + offset.repeat_dim(1, d)
    }

    /// [`ImprintBlock::forward`] on `[batch, 1, d]` with the imprint layer tapped (see
    /// `tape.rs`).
    pub fn forward_tapped(&self, x: Tensor<3>, tapes: &mut Vec<TappedLayer>) -> Tensor<3> {
        let d = x.dims()[2];
        let offset = relu(tapped_linear(x.clone(), &self.imprint, tapes)).sum_dim(2); // [b, 1, 1]
        x + offset.repeat_dim(2, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::GradientsParams;
    use burn::tensor::Int;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// Through burn's own autodiff, with an honest dense head and the mean cross-entropy behind
    /// the block: differencing adjacent neurons' gradients and dividing (the attack's rule,
    /// written out here) gives back every sample alone in its bin to f32 precision.
    #[test]
    fn a_sample_alone_between_two_cutoffs_is_its_gradient_difference_over_its_bias_difference() {
        let device = Device::flex().autodiff();
        let mut rng = StdRng::seed_from_u64(3);
        let (d, m) = (16, 6);
        let images: Vec<Vec<f32>> = (0..m)
            .map(|_| (0..d).map(|_| rng.random::<f32>()).collect())
            .collect();
        let direction = vec![1.0 / d as f64; d];
        let stats: Vec<f64> = images
            .iter()
            .map(|x| x.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64)
            .collect();
        // Cut-offs between the sorted statistics, except between the 3rd and 4th: those two share
        // a bin. The first lies below everything.
        let mut sorted = stats.clone();
        sorted.sort_by(f64::total_cmp);
        let mut cutoffs = vec![-1.0];
        for (i, w) in sorted.windows(2).enumerate() {
            if i != 2 {
                cutoffs.push((w[0] + w[1]) / 2.0);
            }
        }
        let block = ImprintBlock::planted(&direction, &cutoffs, &device);
        let head = crate::model::init::seeded_linear(d, 3, 0.5, &device, &mut rng);
        let x = Tensor::<2>::from_data(TensorData::new(images.concat(), [m, d]), &device);
        let labels: Vec<i64> = (0..m as i64).map(|i| i % 3).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [m]), &device);
        let logits = head.forward(block.forward(x));
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(logits, y);
        let grads = GradientsParams::from_grads(loss.backward(), &block);
        let to_vec = |t: Tensor<1>| -> Vec<f64> {
            t.into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .unwrap()
        };
        let gw: Tensor<2> = grads.get(block.imprint.weight.id).unwrap(); // [d, k]
        let gb: Tensor<1> = grads.get(block.imprint.bias.as_ref().unwrap().id).unwrap();
        let k = cutoffs.len();
        let gw = to_vec(gw.flatten(0, 1));
        let gb = to_vec(gb);
        let column = |i: usize| -> Vec<f64> {
            if i < k {
                (0..d).map(|p| gw[p * k + i]).collect()
            } else {
                vec![0.0; d]
            }
        };
        let bias = |i: usize| if i < k { gb[i] } else { 0.0 };
        let mut exact = 0;
        for (j, image) in images.iter().enumerate() {
            let bin = cutoffs.iter().rposition(|&c| stats[j] > c).unwrap();
            let alone = stats
                .iter()
                .filter(|&&s| cutoffs.iter().rposition(|&c| s > c) == Some(bin))
                .count()
                == 1;
            let (wi, wn) = (column(bin), column(bin + 1));
            let db = bias(bin) - bias(bin + 1);
            let got: Vec<f64> = wi.iter().zip(&wn).map(|(a, b)| (a - b) / db).collect();
            let error = got
                .iter()
                .zip(image)
                .map(|(g, &x)| (g - f64::from(x)).abs())
                .fold(0.0, f64::max);
            if alone {
                assert!(error < 1e-4, "sample {j} alone in bin {bin}: error {error}");
                exact += 1;
            } else {
                assert!(
                    error > 1e-3,
                    "sample {j} shares bin {bin} yet came back exactly"
                );
            }
        }
        assert_eq!(exact, m - 2);
        assert_eq!(block.bins(), m - 1);
        // The block keeps its output in range: x plus the mean of relu(s·x − c_i) ≤ s·x − c_0.
        let top = block.forward(Tensor::ones([1, d], &device)).max();
        assert!(top.into_scalar::<f32>() < 3.0);
    }
}
