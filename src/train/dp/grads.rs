//! Gradients keyed by parameter, each flattened to one dimension, so clipping, noise and
//! comparisons treat a `[64, 16]` weight and a `[16]` bias alike.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

use crate::model::Classifier;

/// One flattened gradient per parameter.
#[derive(Debug, Clone, Default)]
pub struct ParamGrads {
    entries: Vec<(ParamId, Tensor<1>)>,
}

impl ParamGrads {
    /// Adds (or replaces) the gradient of `id`.
    pub fn insert(&mut self, id: ParamId, grad: Tensor<1>) {
        match self.entries.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = grad,
            None => self.entries.push((id, grad)),
        }
    }

    /// The gradient of `id`.
    pub fn get(&self, id: ParamId) -> Option<&Tensor<1>> {
        self.entries.iter().find(|(i, _)| *i == id).map(|(_, g)| g)
    }

    /// Parameters and their gradients, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &(ParamId, Tensor<1>)> {
        self.entries.iter()
    }

    /// Applies `f` to every gradient.
    pub fn map(self, mut f: impl FnMut(Tensor<1>) -> Tensor<1>) -> Self {
        Self {
            entries: self.entries.into_iter().map(|(id, g)| (id, f(g))).collect(),
        }
    }

    /// `Σ ‖g‖²` over all parameters, as a one-element tensor (no device round trip).
    pub fn squared_norm(&self) -> Tensor<1> {
        let mut parts = self.entries.iter().map(|(_, g)| g.clone().square().sum());
        let first = parts.next().expect("a classifier has parameters");
        parts.fold(first, |acc, p| acc + p)
    }

    /// Adds `other` parameter by parameter (a parameter missing on one side counts as zero).
    pub fn accumulate(mut self, other: ParamGrads) -> Self {
        for (id, g) in other.entries {
            match self.entries.iter_mut().find(|(i, _)| *i == id) {
                Some(slot) => slot.1 = slot.1.clone() + g,
                None => self.entries.push((id, g)),
            }
        }
        self
    }

    /// The same gradients in `model`'s visiting order (`model::flat`'s layout), with zeros for
    /// parameters that had none: so that a flat coordinate means the same parameter entry
    /// whichever order the gradients were computed in.
    pub fn in_model_order(self, model: &Classifier) -> Self {
        Self::from_autodiff(model, &GradientsParams::new()).accumulate(self)
    }

    /// Adds `value` at each of the flat coordinates `coordinates` ([`ParamGrads::to_flat`]'s
    /// order; a coordinate listed twice gets `value` twice). Coordinates past the end are an
    /// invariant violation of the caller.
    pub fn add_at_flat(self, coordinates: &[usize], value: f32) -> Self {
        let mut offset = 0;
        let entries = self
            .entries
            .into_iter()
            .map(|(id, g)| {
                let n = g.dims()[0];
                let hits: Vec<usize> = coordinates
                    .iter()
                    .filter(|&&c| (offset..offset + n).contains(&c))
                    .map(|&c| c - offset)
                    .collect();
                offset += n;
                if hits.is_empty() {
                    return (id, g);
                }
                let mut delta = vec![0.0f32; n];
                hits.iter().for_each(|&i| delta[i] += value);
                let delta = Tensor::<1>::from_data(TensorData::new(delta, [n]), &g.device());
                (id, g + delta)
            })
            .collect();
        assert!(
            coordinates.iter().all(|&c| c < offset),
            "a flat coordinate beyond the model's {offset} parameters"
        );
        Self { entries }
    }

    /// All gradients concatenated, in insertion order (the model's visiting order for
    /// [`ParamGrads::from_autodiff`], which is `model::flat`'s layout).
    pub fn to_flat(&self) -> Vec<f32> {
        let mut out = Vec::new();
        for (_, g) in &self.entries {
            let data = g.clone().into_data().convert::<f32>();
            out.extend(data.try_to_vec::<f32>().expect("converted to f32"));
        }
        out
    }

    /// The largest `|a − b|` over all coordinates, and the largest `|b|`, read back as f64: for
    /// comparing a fast computation `a` with an oracle `b`. A parameter present on one side
    /// only makes the difference infinite.
    pub fn max_abs_difference(&self, oracle: &ParamGrads) -> (f64, f64) {
        let (mut diff, mut scale) = (0.0_f64, 0.0_f64);
        for (id, b) in &oracle.entries {
            let Some(a) = self.get(*id) else {
                return (f64::INFINITY, scale);
            };
            diff = diff.max((a.clone() - b.clone()).abs().max().into_scalar::<f64>());
            scale = scale.max(b.clone().abs().max().into_scalar::<f64>());
        }
        if self.entries.len() != oracle.entries.len() {
            diff = f64::INFINITY;
        }
        (diff, scale)
    }

    /// The gradients burn's autodiff computed for `model`'s parameters (zeros where none).
    pub fn from_autodiff(model: &Classifier, grads: &GradientsParams) -> Self {
        struct Collect<'a> {
            grads: &'a GradientsParams,
            out: ParamGrads,
        }
        impl ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let value = param.val();
                let g = match self.grads.get::<D>(param.id) {
                    Some(g) => g.flatten::<1>(0, D - 1),
                    None => value.inner().zeros_like().flatten::<1>(0, D - 1),
                };
                self.out.insert(param.id, g);
            }
        }
        let mut visitor = Collect {
            grads,
            out: ParamGrads::default(),
        };
        model.visit(&mut visitor);
        visitor.out
    }

    /// burn's form, each gradient reshaped to its parameter, for an optimizer step on `model`.
    pub fn into_gradients_params(self, model: &Classifier) -> GradientsParams {
        struct Register {
            flat: ParamGrads,
            out: GradientsParams,
        }
        impl ModuleVisitor for Register {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = self.flat.get(param.id) {
                    let shape: [usize; D] = param.val().dims();
                    self.out.register::<D>(param.id, g.clone().reshape(shape));
                }
            }
        }
        let mut visitor = Register {
            flat: self,
            out: GradientsParams::new(),
        };
        model.visit(&mut visitor);
        visitor.out
    }
}
