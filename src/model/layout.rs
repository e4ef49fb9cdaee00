//! What each number of a flat parameter vector is: the name, offset and shape of every
//! parameter, in the order of `flat.rs`'s [`to_flat`].
//!
//! Federated learning moves models and updates as flat vectors (McMahan et al. 2017: a party
//! sends `w_{t+1} − w_t` or `∇ℓ`, the server adds them). The attacks on it read one layer of
//! such a vector: gradient inversion matches the gradient of a named layer (Geiping et al. 2020,
//! "Inverting Gradients", §4), and the imprint attack of Fowl et al. 2022 reads the aggregate
//! gradient of the layer it planted. [`ParamLayout`] names the slices; [`ModelSnapshot`] (a
//! model's weights) and [`ModelDelta`] (an update or a gradient) carry a vector with its layout,
//! shared through an [`Arc`] since every update of a round has the same one.
//!
//! Names are burn's module paths (the field names `#[derive(Module)]` visits, joined by dots,
//! with the index of a `Vec` element): `layers.0.weight` for the MLP, `conv1.weight`,
//! `conv2.bias`, `fc1.weight`, `fc2.bias` for the CNN, `conv1.weight` … `conv3.bias`,
//! `fc.weight`, `fc.bias` for LeNet. The [`Classifier`] variant (`Mlp`, `Cnn`, `Lenet`) is left
//! out: a layout belongs to one model, so the variant adds nothing but length.

use std::ops::Range;
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use super::Classifier;
use super::flat::{from_flat, to_flat};

/// One parameter: its name, where its values start in the flat vector, and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    name: String,
    offset: usize,
    shape: Vec<usize>,
}

impl ParamSpec {
    /// The module path, e.g. `fc2.bias`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Index of its first value in the flat vector.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Its tensor shape, e.g. `[32, 10]` (a `Linear` weight is `[d_in, d_out]`).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of values, the product of the shape.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds no values (never, for the classifiers here).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its slice of the flat vector.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Every parameter of a model, in visiting order, with contiguous offsets from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamLayout {
    params: Vec<ParamSpec>,
    len: usize,
}

impl ParamLayout {
    /// The layout of `model`, visited as [`to_flat`] visits it.
    pub fn of(model: &Classifier) -> Arc<Self> {
        struct Collect {
            /// Path components; `None` for an enum variant, which is left out of names.
            path: Vec<Option<String>>,
            params: Vec<ParamSpec>,
            offset: usize,
        }
        impl ModuleVisitor for Collect {
            fn enter_module(&mut self, name: &str, container_type: &str) {
                let variant = container_type.starts_with("Enum:");
                self.path.push((!variant).then(|| name.to_string()));
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let name: Vec<&str> = self.path.iter().flatten().map(String::as_str).collect();
                let shape = param.val().dims().to_vec();
                let spec = ParamSpec {
                    name: name.join("."),
                    offset: self.offset,
                    shape,
                };
                self.offset += spec.len();
                self.params.push(spec);
            }
        }
        let mut c = Collect {
            path: Vec::new(),
            params: Vec::new(),
            offset: 0,
        };
        model.visit(&mut c);
        Arc::new(Self {
            params: c.params,
            len: c.offset,
        })
    }

    /// The parameters, in flat-vector order.
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// The parameter called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Values in the whole flat vector ([`Module::num_params`] of the model).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the model has no parameters (never, for the classifiers here).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A flat vector with its layout: the shared body of [`ModelSnapshot`] and [`ModelDelta`].
#[derive(Clone, PartialEq)]
struct Flat {
    layout: Arc<ParamLayout>,
    values: Vec<f32>,
}

impl Flat {
    fn new(layout: Arc<ParamLayout>, values: Vec<f32>) -> Self {
        assert_eq!(
            values.len(),
            layout.len(),
            "a flat vector must have one value per parameter of its layout"
        );
        Self { layout, values }
    }

    fn param(&self, name: &str) -> Option<&[f32]> {
        self.layout.get(name).map(|p| &self.values[p.range()])
    }

    fn l2_norm(&self) -> f64 {
        self.values
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// Shape and size, not the values: a million floats help no one reading a log.
    fn debug(&self, f: &mut std::fmt::Formatter<'_>, what: &str) -> std::fmt::Result {
        f.debug_struct(what)
            .field("params", &self.layout.params.len())
            .field("len", &self.values.len())
            .field("l2_norm", &self.l2_norm())
            .finish_non_exhaustive()
    }
}

/// A model's weights as a flat vector, with its layout: what the server broadcasts.
#[derive(Clone, PartialEq)]
pub struct ModelSnapshot(Flat);

impl ModelSnapshot {
    /// The weights of `model`.
    pub fn of(model: &Classifier) -> Self {
        Self(Flat::new(ParamLayout::of(model), to_flat(model)))
    }

    /// Weights `values` laid out as `layout` says.
    ///
    /// # Panics
    /// If `values` does not have [`ParamLayout::len`] values (an invariant of the caller).
    pub fn new(layout: Arc<ParamLayout>, values: Vec<f32>) -> Self {
        Self(Flat::new(layout, values))
    }

    /// `model` with these weights; ids, devices and gradient requirements are kept.
    ///
    /// # Panics
    /// If `model`'s layout is not this snapshot's (another architecture: a caller's bug).
    pub fn load_into(&self, model: Classifier) -> Classifier {
        assert!(
            *ParamLayout::of(&model) == *self.0.layout,
            "a snapshot loads only into a model of its own layout"
        );
        from_flat(model, &self.0.values)
    }

    /// The weights of parameter `name` (flattened, row-major), if the model has it.
    pub fn param(&self, name: &str) -> Option<&[f32]> {
        self.0.param(name)
    }

    /// Every weight, in layout order.
    pub fn values(&self) -> &[f32] {
        &self.0.values
    }

    /// The layout.
    pub fn layout(&self) -> &Arc<ParamLayout> {
        &self.0.layout
    }
}

impl std::fmt::Debug for ModelSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug(f, "ModelSnapshot")
    }
}

/// An update or a gradient, laid out as the model it belongs to: what a party sends.
#[derive(Clone, PartialEq)]
pub struct ModelDelta(Flat);

impl ModelDelta {
    /// `values` laid out as `layout` says.
    ///
    /// # Panics
    /// If `values` does not have [`ParamLayout::len`] values (an invariant of the caller).
    pub fn new(layout: Arc<ParamLayout>, values: Vec<f32>) -> Self {
        Self(Flat::new(layout, values))
    }

    /// The part of parameter `name` (flattened, row-major), if the model has it.
    pub fn param(&self, name: &str) -> Option<&[f32]> {
        self.0.param(name)
    }

    /// Every value, in layout order.
    pub fn values(&self) -> &[f32] {
        &self.0.values
    }

    /// The values, taken out.
    pub fn into_values(self) -> Vec<f32> {
        self.0.values
    }

    /// The layout.
    pub fn layout(&self) -> &Arc<ParamLayout> {
        &self.0.layout
    }

    /// `‖Δ‖₂` over all parameters, summed in f64.
    pub fn l2_norm(&self) -> f64 {
        self.0.l2_norm()
    }
}

impl std::fmt::Debug for ModelDelta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.debug(f, "ModelDelta")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ModelConfig, ModelKind};
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn config(kind: ModelKind) -> ModelConfig {
        ModelConfig {
            kind,
            activation: Activation::Tanh,
            mlp_hidden: vec![16, 12],
            cnn_channels: [4, 8],
            cnn_dense: 8,
            side: 28,
            classes: 10,
        }
    }

    fn model(kind: ModelKind, seed: u64) -> Classifier {
        let mut rng = StdRng::seed_from_u64(seed);
        Classifier::new(&config(kind), &Device::flex(), &mut rng)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn layouts_name_every_parameter_once_with_its_real_shape() {
        type Expected<'a> = &'a [(&'a str, &'a [usize])];
        let expected: [(ModelKind, Expected); 3] = [
            (
                ModelKind::Mlp,
                &[
                    ("layers.0.weight", &[784, 16]),
                    ("layers.0.bias", &[16]),
                    ("layers.1.weight", &[16, 12]),
                    ("layers.1.bias", &[12]),
                    ("layers.2.weight", &[12, 10]),
                    ("layers.2.bias", &[10]),
                ],
            ),
            (
                ModelKind::Cnn,
                &[
                    ("conv1.weight", &[64, 4]),
                    ("conv1.bias", &[4]),
                    ("conv2.weight", &[8, 4, 4, 4]),
                    ("conv2.bias", &[8]),
                    ("fc1.weight", &[8 * 4 * 4, 8]),
                    ("fc1.bias", &[8]),
                    ("fc2.weight", &[8, 10]),
                    ("fc2.bias", &[10]),
                ],
            ),
            (
                // burn visits a `Conv2d`'s weight before its bias, and the fields in order.
                ModelKind::Lenet,
                &[
                    ("conv1.weight", &[12, 1, 5, 5]),
                    ("conv1.bias", &[12]),
                    ("conv2.weight", &[12, 12, 5, 5]),
                    ("conv2.bias", &[12]),
                    ("conv3.weight", &[12, 12, 5, 5]),
                    ("conv3.bias", &[12]),
                    ("fc.weight", &[12 * 7 * 7, 10]),
                    ("fc.bias", &[10]),
                ],
            ),
        ];
        for (kind, params) in expected {
            let m = model(kind, 1);
            let layout = ParamLayout::of(&m);
            let got: Vec<(&str, &[usize])> = layout
                .params()
                .iter()
                .map(|p| (p.name(), p.shape()))
                .collect();
            assert_eq!(got, params, "{kind:?}");
            // Contiguous from 0 and as long as the model and its flat vector.
            let mut at = 0;
            for p in layout.params() {
                assert_eq!(p.offset(), at, "{}", p.name());
                at += p.len();
            }
            assert_eq!(layout.len(), m.num_params());
            assert_eq!(layout.len(), to_flat(&m).len());
            let mut names: Vec<&str> = layout.params().iter().map(|p| p.name()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), layout.params().len(), "names are unique");
        }
    }

    #[test]
    fn a_named_slice_is_what_burn_holds_for_that_parameter() {
        let m = model(ModelKind::Cnn, 2);
        let snapshot = ModelSnapshot::of(&m);
        let Classifier::Cnn(cnn) = &m else {
            panic!("a CNN")
        };
        let bias = cnn.fc2.bias.as_ref().expect("fc2 has a bias").val();
        assert_eq!(snapshot.param("fc2.bias").unwrap(), values(bias).as_slice());
        let conv = values(cnn.conv2.weight.val());
        assert_eq!(snapshot.param("conv2.weight").unwrap(), conv.as_slice());
        assert_eq!(snapshot.param("fc3.bias"), None);

        let m = model(ModelKind::Mlp, 3);
        let snapshot = ModelSnapshot::of(&m);
        let Classifier::Mlp(mlp) = &m else {
            panic!("an MLP")
        };
        let last = mlp.layers[2].bias.as_ref().expect("a bias").val();
        assert_eq!(
            snapshot.param("layers.2.bias").unwrap(),
            values(last).as_slice()
        );
    }

    #[test]
    fn a_snapshot_loaded_into_another_model_gives_back_the_same_weights() {
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
            let a = ModelSnapshot::of(&model(kind, 4));
            let b = model(kind, 5);
            assert_ne!(ModelSnapshot::of(&b), a);
            let loaded = a.load_into(b);
            assert_eq!(ModelSnapshot::of(&loaded), a);
            assert_eq!(a.values(), to_flat(&loaded).as_slice());
        }
    }

    #[test]
    #[should_panic(expected = "its own layout")]
    fn a_snapshot_refuses_a_model_of_another_architecture() {
        let mlp = ModelSnapshot::of(&model(ModelKind::Mlp, 6));
        mlp.load_into(model(ModelKind::Cnn, 6));
    }

    #[test]
    fn a_delta_reads_its_parameters_and_its_norm() {
        let layout = ParamLayout::of(&model(ModelKind::Mlp, 7));
        let mut values = vec![0.0; layout.len()];
        let bias = layout.get("layers.2.bias").unwrap().range();
        values[bias.start] = 3.0;
        values[bias.end - 1] = 4.0;
        let delta = ModelDelta::new(layout, values);
        assert_eq!(delta.l2_norm(), 5.0);
        let b = delta.param("layers.2.bias").unwrap();
        assert_eq!((b.len(), b[0], b[9]), (10, 3.0, 4.0));
        assert!(
            delta
                .param("layers.0.weight")
                .unwrap()
                .iter()
                .all(|v| *v == 0.0)
        );
        assert!(format!("{delta:?}").contains("l2_norm: 5.0"));
    }
}
