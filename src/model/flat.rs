//! A model's parameters as one flat `f32` vector, in the module's visiting order: what a
//! federated-learning party sends (an update), and what the server adds back. `layout.rs` says
//! which slice is which parameter.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use super::Classifier;

/// All parameters of `model`, flattened and concatenated.
pub fn to_flat(model: &Classifier) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0
                .extend(data.try_to_vec::<f32>().expect("converted to f32"));
        }
    }
    let mut c = Collect(Vec::with_capacity(model.num_params()));
    model.visit(&mut c);
    c.0
}

/// `model` with its parameters replaced by `flat` (as [`to_flat`] lays them out); the
/// parameters keep their ids, devices and gradient requirements.
///
/// # Panics
/// If `flat` does not have exactly [`Module::num_params`] values (an invariant of the caller).
pub fn from_flat(model: Classifier, flat: &[f32]) -> Classifier {
    struct Replace<'a> {
        flat: &'a [f32],
        at: usize,
    }
    impl ModuleMapper for Replace<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let shape: [usize; D] = tensor.dims();
            let n: usize = shape.iter().product();
            let values = self.flat[self.at..self.at + n].to_vec();
            self.at += n;
            let require_grad = tensor.is_require_grad();
            let fresh = Tensor::<D>::from_data(TensorData::new(values, shape), &tensor.device())
                .set_require_grad(require_grad);
            Param::from_mapped_value(id, fresh, mapper)
        }
    }
    assert_eq!(
        flat.len(),
        model.num_params(),
        "flat vector of the wrong length"
    );
    let mut mapper = Replace { flat, at: 0 };
    model.map(&mut mapper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ModelConfig, ModelKind};
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn flattening_round_trips_and_replacing_changes_the_logits() {
        let device = Device::flex();
        let config = ModelConfig {
            kind: ModelKind::Cnn,
            activation: Activation::Tanh,
            mlp_hidden: vec![16],
            cnn_channels: [4, 8],
            cnn_dense: 8,
            side: 28,
            classes: 10,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let model = Classifier::new(&config, &device, &mut rng);
        let flat = to_flat(&model);
        assert_eq!(flat.len(), model.num_params());
        let same = from_flat(model.clone(), &flat);
        assert_eq!(to_flat(&same), flat);
        let doubled: Vec<f32> = flat.iter().map(|v| 2.0 * v).collect();
        let changed = from_flat(model.clone(), &doubled);
        assert_eq!(to_flat(&changed), doubled);
        let x = Tensor::<4>::ones([1, 1, 28, 28], &device);
        let diff = (model.forward(x.clone()) - changed.forward(x))
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(diff > 1e-3, "{diff}");
    }
}
