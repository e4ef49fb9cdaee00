//! The attacker's view of the target: query access only. It can ask for the logits on any
//! images it holds, and nothing else: no weights, no gradients, no training data.
//! [`MembershipView`] is what a membership attack receives: the target behind query access,
//! the attacker's own public records, and the candidates it must judge (with their labels, as
//! in every membership game, but without a word on which were members).

use burn::module::Module;
use burn::tensor::Device;

use crate::data::Dataset;
use crate::model::Classifier;
use crate::train::batch_tensors;

/// Examples per query batch.
const QUERY_BATCH: usize = 1000;

/// The logits of a model on a set of records, one row of `classes` values per record.
#[derive(Debug, Clone, PartialEq)]
pub struct Logits {
    values: Vec<f32>,
    classes: usize,
}

impl Logits {
    /// Wraps row-major logits.
    ///
    /// # Panics
    /// When `values` is not a whole number of rows (a programming error).
    pub fn new(values: Vec<f32>, classes: usize) -> Self {
        assert!(
            classes >= 2 && values.len().is_multiple_of(classes),
            "logits: ragged rows"
        );
        Self { values, classes }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.values.len() / self.classes
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The logits of record `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.classes..(i + 1) * self.classes]
    }
}

/// Black-box query access to a trained classifier.
pub struct QueryAccess {
    model: Classifier,
    device: Device,
}

impl QueryAccess {
    /// Query access to `model` (its gradients are dropped: the attacker never gets them).
    pub fn new(model: &Classifier, device: &Device) -> Self {
        Self {
            model: model.valid(),
            device: device.clone(),
        }
    }

    /// The model's logits on every image of `records` (labels are not sent).
    pub fn logits(&self, records: &Dataset) -> Logits {
        let mut values = Vec::with_capacity(records.len() * records.classes());
        let all: Vec<usize> = (0..records.len()).collect();
        for chunk in all.chunks(QUERY_BATCH) {
            let (images, _) = batch_tensors(records, chunk, &self.device);
            let out = self.model.forward(images).into_data();
            values.extend(
                out.try_into_vec::<f32>()
                    .expect("a float model returns float logits"),
            );
        }
        Logits::new(values, records.classes())
    }
}

/// What a membership attacker holds: query access to the target, public records from the same
/// distribution (never trained on), and the shuffled candidates, with the target's logits on
/// both sets already queried (every attack here needs them).
pub struct MembershipView {
    target: QueryAccess,
    public: Dataset,
    candidates: Dataset,
    public_logits: Logits,
    candidate_logits: Logits,
}

impl MembershipView {
    /// Queries `target` on the public records and the candidates.
    pub fn query(target: QueryAccess, public: Dataset, candidates: Dataset) -> Self {
        let public_logits = target.logits(&public);
        let candidate_logits = target.logits(&candidates);
        Self {
            target,
            public,
            candidates,
            public_logits,
            candidate_logits,
        }
    }

    /// Query access to the target, for anything else the attacker wants to ask.
    pub fn target(&self) -> &QueryAccess {
        &self.target
    }

    /// The attacker's public records.
    pub fn public(&self) -> &Dataset {
        &self.public
    }

    /// The records to judge.
    pub fn candidates(&self) -> &Dataset {
        &self.candidates
    }

    /// The target's logits on the public records.
    pub fn public_logits(&self) -> &Logits {
        &self.public_logits
    }

    /// The target's logits on the candidates.
    pub fn candidate_logits(&self) -> &Logits {
        &self.candidate_logits
    }
}
