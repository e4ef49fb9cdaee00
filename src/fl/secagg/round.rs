//! One SecAgg round over a simulated network: clients and server exchange message values,
//! parties drop out as [`Dropouts`] says, and every message is counted in [`Traffic`].
//!
//! Clients run one after another, each using all cores for its own work (as on its own
//! device), so the client time of a phase is the sum of the clients' times; the server's time
//! is measured separately. A client error (a refused server message) aborts the round.

use std::time::Instant;

use crate::fl::aggregation::{
    Dropouts, Phase, Purpose, RoundOutcome, ServerView, Timings, party_rng,
};
use crate::fl::ring::RingWord;
use crate::fl::secagg::client::SecAggClient;
use crate::fl::secagg::graph::NeighbourGraph;
use crate::fl::secagg::messages::WireSize;
use crate::fl::secagg::server::SecAggServer;
use crate::fl::secagg::{SecAggParams, Session};
use crate::fl::traffic::Traffic;
use crate::fl::{PartyId, SecAggError};

/// Runs one SecAgg round. `inputs[u]` is party u's encoded vector; `seed` drives all the
/// parties' secrets and the server's graph (simulation only).
pub fn run_round<W: RingWord>(
    params: &SecAggParams,
    session: Session,
    inputs: Vec<Vec<W>>,
    dropouts: &Dropouts,
    seed: [u8; 32],
) -> Result<RoundOutcome<W>, SecAggError> {
    let n = params.parties();
    if inputs.len() != n {
        return Err(SecAggError::InputCount {
            expected: n,
            found: inputs.len(),
        });
    }
    let mut traffic = Traffic::new(n);
    let mut timings = Timings::default();
    let graph = match params.neighbours() {
        None => NeighbourGraph::complete(n),
        Some(k) => NeighbourGraph::harary(n, k, &mut party_rng(&seed, Purpose::Graph, 0)),
    };
    let mut clients: Vec<SecAggClient<W>> = inputs
        .into_iter()
        .enumerate()
        .map(|(u, x)| {
            SecAggClient::new(
                u,
                *params,
                session,
                x,
                party_rng(&seed, Purpose::SecAggClient, u),
            )
        })
        .collect::<Result<_, _>>()?;
    let mut server = SecAggServer::new(*params, session, graph);

    // Round 0: advertise keys.
    let phase = Phase::AdvertiseKeys;
    let mut keys = Vec::new();
    for c in active(&mut clients, dropouts, phase) {
        let start = Instant::now();
        let m = c.advertise_keys()?;
        timings.client[phase.index()] += start.elapsed();
        traffic.upload(c.id(), phase, m.wire_bytes());
        keys.push(m);
    }
    let start = Instant::now();
    let rosters = server.collect_keys(keys);
    timings.server[phase.index()] += start.elapsed();

    // Round 1: share keys.
    let phase = Phase::ShareKeys;
    let mut shares = Vec::new();
    for (u, roster) in rosters? {
        if !dropouts.active(u, phase) {
            continue;
        }
        traffic.download(u, phase, roster.wire_bytes());
        let start = Instant::now();
        let out = clients[u].share_keys(&roster)?;
        timings.client[phase.index()] += start.elapsed();
        traffic.upload(u, phase, out.as_slice().wire_bytes());
        shares.push((u, out));
    }
    let start = Instant::now();
    let inboxes = server.route_shares(shares);
    timings.server[phase.index()] += start.elapsed();

    // Round 2: masked input.
    let phase = Phase::MaskedInput;
    let mut masked = Vec::new();
    for (u, inbox) in inboxes? {
        if !dropouts.active(u, phase) {
            continue;
        }
        traffic.download(u, phase, inbox.as_slice().wire_bytes());
        let start = Instant::now();
        let m = clients[u].masked_input(&inbox)?;
        timings.client[phase.index()] += start.elapsed();
        traffic.upload(u, phase, m.wire_bytes());
        masked.push(m);
    }
    let start = Instant::now();
    let requests = server.collect_masked(masked);
    timings.server[phase.index()] += start.elapsed();

    // Round 3: unmask.
    let phase = Phase::Unmask;
    let mut responses = Vec::new();
    for (u, request) in requests? {
        if !dropouts.active(u, phase) {
            continue;
        }
        traffic.download(u, phase, request.wire_bytes());
        let start = Instant::now();
        let r = clients[u].unmask(&request)?;
        timings.client[phase.index()] += start.elapsed();
        traffic.upload(u, phase, r.wire_bytes());
        responses.push(r);
    }
    drop(clients);
    let start = Instant::now();
    let sum = server.unmask(responses)?;
    timings.server[phase.index()] += start.elapsed();

    let contributors: Vec<PartyId> = server.contributors().to_vec();
    Ok(RoundOutcome {
        sum,
        contributors,
        view: ServerView::SecAgg(server.into_view()),
        traffic,
        timings,
    })
}

fn active<'a, W>(
    clients: &'a mut [SecAggClient<W>],
    dropouts: &'a Dropouts,
    phase: Phase,
) -> impl Iterator<Item = &'a mut SecAggClient<W>> + 'a
where
    W: RingWord,
{
    clients
        .iter_mut()
        .filter(move |c| dropouts.active(c.id(), phase))
}
