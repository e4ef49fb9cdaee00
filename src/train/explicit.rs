//! A model's parameter gradient for any loss of its logits, through the model's explicit
//! backward pass where it has one (the CNN on a CPU backend, `model/cnn/host.rs`).

use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::dp::weighted_sum;
use crate::model::Classifier;

/// The gradient of `loss(select(model(images)))` for `model`'s parameters through the model's
/// explicit backward pass (the CNN on a CPU: `Classifier::backprop_with`), `None` where the
/// model has none. Only ∂loss/∂logits is taken by autodiff, on the small logits tensor.
pub(crate) fn explicit_gradient(
    model: &Classifier,
    images: Tensor<4>,
    select: impl Fn(Tensor<2>) -> Tensor<2>,
    loss: impl Fn(Tensor<2>) -> Tensor<1>,
) -> Option<GradientsParams> {
    let ad_device = images.device();
    let (layers, _) = model.backprop_with(images, |logits| {
        let logits = Tensor::<2>::from_data(logits.into_data(), &ad_device).require_grad();
        let grads = loss(select(logits.clone())).backward();
        logits
            .grad(&grads)
            .expect("the logits are a leaf of the loss")
    })?;
    // δ is the gradient of the batch's whole loss (a mean or a sum, as `loss` says): every
    // example enters with weight 1.
    let batch = layers[0].input.dims()[0];
    let ones = Tensor::<1>::ones([batch], &layers[0].input.device());
    Some(weighted_sum(&layers, ones).into_gradients_params(model))
}
