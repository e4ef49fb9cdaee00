//! The malicious server's half of the attack: before the round it plants the imprint block in
//! front of the global model and keeps, as typed secrets, what it planted (the statistic and
//! the cut-offs). Only [`ImprintView`](super::ImprintView) carries those secrets on to the
//! attack.

use burn::module::Module;

use super::bins::Cutoffs;
use super::statistic::Statistic;
use crate::fl::federated::Server;
use crate::model::imprint::ImprintBlock;
use crate::model::{Classifier, Honest, Imprinted};

/// What planting leaves the server knowing: which statistic every imprint row measures and
/// where its cut-offs lie. The rows themselves are the model's
/// [`IMPRINT_WEIGHT`](crate::model::IMPRINT_WEIGHT) and
/// [`IMPRINT_BIAS`](crate::model::IMPRINT_BIAS).
#[derive(Debug, Clone)]
pub struct ImprintSecrets {
    /// What the rows measure.
    pub statistic: Statistic,
    /// Its direction s, one value per pixel.
    pub direction: Vec<f64>,
    /// The cut-offs, one per row, ascending.
    pub cutoffs: Cutoffs,
}

/// A server that broadcasts the global model with an imprint block in front of it.
#[derive(Debug, Clone)]
pub struct ImprintServer {
    secrets: ImprintSecrets,
}

impl ImprintServer {
    /// The server that plants rows measuring `statistic` (direction `direction`) with
    /// `cutoffs`.
    pub fn new(statistic: Statistic, direction: Vec<f64>, cutoffs: Cutoffs) -> Self {
        Self {
            secrets: ImprintSecrets {
                statistic,
                direction,
                cutoffs,
            },
        }
    }
}

impl Server for ImprintServer {
    type Secrets = ImprintSecrets;

    /// # Panics
    /// When `global` is already imprinted: the server plants into the federation's honest
    /// model, once.
    fn vet_model(&mut self, global: Classifier) -> (Classifier, ImprintSecrets) {
        let device = global
            .devices()
            .into_iter()
            .next()
            .expect("a classifier has parameters on a device");
        let s = &self.secrets;
        let block = ImprintBlock::planted(&s.direction, s.cutoffs.values(), &device);
        let honest = Honest::of(global).expect("the server plants into an honest model");
        (
            Classifier::Imprinted(Imprinted::on_pixels(block, honest)),
            self.secrets.clone(),
        )
    }
}
