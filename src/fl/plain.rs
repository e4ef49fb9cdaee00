//! Plain aggregation: each party uploads its encoded update and the server adds them up
//! (FedSGD / FedAvg of McMahan et al. 2017 without protection). The baseline the other
//! protocols are measured against, and the view a gradient-inversion attack starts from.

use std::time::Instant;

use crate::fl::aggregation::{Dropouts, Phase, RoundOutcome, ServerView, Timings};
use crate::fl::ring::{RingWord, plain_sum};
use crate::fl::secagg::SecAggParams;
use crate::fl::secagg::messages::{MaskedInput, WireSize};
use crate::fl::traffic::Traffic;
use crate::fl::{ProtocolAbort, SecAggError};

/// What the server received: every surviving party's encoded update, in the clear.
#[derive(Debug, Clone)]
pub struct PlainView<W> {
    /// One upload per party that sent one, sorted by party (the `masked` field is the raw
    /// encoded input: nothing masks it).
    pub uploads: Vec<MaskedInput<W>>,
}

/// Every party still active at [`Phase::MaskedInput`] uploads its input; the sum covers them.
pub(crate) fn run_round<W: RingWord>(
    params: &SecAggParams,
    inputs: Vec<Vec<W>>,
    dropouts: &Dropouts,
) -> Result<RoundOutcome<W>, SecAggError> {
    let mut traffic = Traffic::new(params.parties());
    let mut timings = Timings::default();
    let uploads: Vec<MaskedInput<W>> = inputs
        .into_iter()
        .enumerate()
        .filter(|(party, _)| dropouts.active(*party, Phase::MaskedInput))
        .map(|(from, masked)| MaskedInput { from, masked })
        .collect();
    if uploads.is_empty() {
        return Err(ProtocolAbort::TooFewSurvivors {
            phase: Phase::MaskedInput,
            alive: 0,
            threshold: 1,
        }
        .into());
    }
    for u in &uploads {
        traffic.upload(u.from, Phase::MaskedInput, u.wire_bytes());
    }
    let start = Instant::now();
    let vectors: Vec<&[W]> = uploads.iter().map(|u| u.masked.as_slice()).collect();
    let sum = plain_sum(&vectors);
    timings.server[Phase::MaskedInput.index()] = start.elapsed();
    Ok(RoundOutcome {
        sum,
        contributors: uploads.iter().map(|u| u.from).collect(),
        view: ServerView::Plain(PlainView { uploads }),
        traffic,
        timings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_sees_each_input_and_sums_the_survivors() {
        let params = SecAggParams::new(3, 2, 2).unwrap();
        let inputs = vec![vec![1u32, 2], vec![10, 20], vec![100, 200]];
        let dropouts = Dropouts::none().silent_from(1, Phase::MaskedInput);
        let out = run_round(&params, inputs, &dropouts).unwrap();
        assert_eq!(out.sum, vec![101, 202]);
        assert_eq!(out.contributors, vec![0, 2]);
        let ServerView::Plain(view) = out.view else {
            panic!("plain view")
        };
        assert_eq!(view.uploads[1].masked, vec![100, 200]);
        assert_eq!(out.traffic.sent(0, Phase::MaskedInput), 16);
    }
}
