//! Secure aggregation (src/fl): exact sums against plain summation for the three protocols,
//! every dropout pattern, tampered and replayed shares, refused server claims, the encoding,
//! and a statistical check that a masked upload looks uniform.

use chacha20::ChaCha20Rng;
use ppml::fl::ring::plain_sum;
use ppml::fl::secagg::keys::ShareableSecret;
use ppml::fl::secagg::{
    EncryptedShares, NeighbourGraph, SecAggClient, SecAggServer, UnmaskRequest, shamir,
};
use ppml::fl::{
    Aggregation, DistributedGaussian, Dropouts, FixedPoint, Phase, ProtocolAbort, RingWord,
    RoundOutcome, SecAggError, SecAggParams, SecureSum, ServerView, Session, SumNoise, aggregate,
    secure_sum,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const ALL: [Aggregation; 3] = [
    Aggregation::Plain,
    Aggregation::Additive,
    Aggregation::SecAgg,
];

fn session(round: u64) -> Session {
    Session::new(*b"ppml-test-run-01", round)
}

fn random_inputs<W: RingWord>(n: usize, len: usize, seed: u64) -> Vec<Vec<W>>
where
    rand::distr::StandardUniform: rand::distr::Distribution<W>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..len).map(|_| rng.random::<W>()).collect())
        .collect()
}

fn sum_of<W: RingWord>(inputs: &[Vec<W>], parties: &[usize]) -> Vec<W> {
    let refs: Vec<&[W]> = parties.iter().map(|&p| inputs[p].as_slice()).collect();
    plain_sum(&refs)
}

fn run<W: RingWord>(
    aggregation: Aggregation,
    params: &SecAggParams,
    inputs: &[Vec<W>],
    dropouts: &Dropouts,
) -> Result<RoundOutcome<W>, SecAggError> {
    aggregate(
        aggregation,
        params,
        session(0),
        inputs.to_vec(),
        dropouts,
        [7; 32],
    )
}

fn secagg_view<W>(outcome: &RoundOutcome<W>) -> &ppml::fl::SecAggView<W> {
    match &outcome.view {
        ServerView::SecAgg(v) => v,
        _ => panic!("expected a SecAgg view"),
    }
}

#[test]
fn all_three_protocols_reveal_exactly_the_plain_sum_in_both_rings() {
    let params = SecAggParams::new(6, 4, 3000).unwrap();
    let x32: Vec<Vec<u32>> = random_inputs(6, 3000, 1);
    let x64: Vec<Vec<u64>> = random_inputs(6, 3000, 2);
    let everyone: Vec<usize> = (0..6).collect();
    for aggregation in ALL {
        let out = run(aggregation, &params, &x32, &Dropouts::none()).unwrap();
        assert_eq!(out.sum, sum_of(&x32, &everyone), "{aggregation:?} u32");
        assert_eq!(out.contributors, everyone);
        let out = run(aggregation, &params, &x64, &Dropouts::none()).unwrap();
        assert_eq!(out.sum, sum_of(&x64, &everyone), "{aggregation:?} u64");
    }
}

#[test]
fn float_updates_decode_to_their_sum_within_n_quantisation_steps() {
    let (n, len) = (5, 2000);
    let params = SecAggParams::new(n, 3, len).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let updates: Vec<Vec<f32>> = (0..n)
        .map(|_| (0..len).map(|_| rng.random_range(-1.5f32..1.5)).collect())
        .collect();
    let code = FixedPoint::finest::<u32>(2.0, n, 0).unwrap();
    for aggregation in ALL {
        let (sum, out) = secure_sum::<u32>(
            &SecureSum {
                aggregation,
                params: &params,
                session: session(0),
                code: &code,
                noise: &SumNoise::None,
                dropouts: &Dropouts::none(),
                seed: [1; 32],
            },
            &updates,
        )
        .unwrap();
        assert_eq!(out.contributors.len(), n);
        for i in 0..len {
            let exact: f64 = updates.iter().map(|u| u[i] as f64).sum();
            let err = (sum[i] as f64 - exact).abs();
            assert!(
                err <= n as f64 * code.step() + 1e-6,
                "{aggregation:?} coord {i}: {err}"
            );
        }
    }
}

#[test]
fn integer_valued_floats_decode_exactly() {
    let params = SecAggParams::new(4, 3, 100).unwrap();
    let updates: Vec<Vec<f32>> = (0..4)
        .map(|u| (0..100).map(|i| ((u * 7 + i) % 11) as f32 - 5.0).collect())
        .collect();
    let code = FixedPoint::new(8.0, 1.0).unwrap();
    let (sum, _) = secure_sum::<u32>(
        &SecureSum {
            aggregation: Aggregation::SecAgg,
            params: &params,
            session: session(0),
            code: &code,
            noise: &SumNoise::None,
            dropouts: &Dropouts::none(),
            seed: [2; 32],
        },
        &updates,
    )
    .unwrap();
    for i in 0..100 {
        assert_eq!(sum[i], updates.iter().map(|u| u[i]).sum::<f32>());
    }
}

#[test]
fn masks_cancel_although_every_upload_is_masked() {
    // All inputs are zero: each upload is pure mask, yet the revealed sum is exactly zero.
    let params = SecAggParams::new(5, 3, 4096).unwrap();
    let zeros = vec![vec![0u32; 4096]; 5];
    let out = run(Aggregation::SecAgg, &params, &zeros, &Dropouts::none()).unwrap();
    assert!(out.sum.iter().all(|&w| w == 0));
    let view = secagg_view(&out);
    assert_eq!(view.masked.len(), 5);
    for m in &view.masked {
        let nonzero = m.masked.iter().filter(|&&w| w != 0).count();
        assert!(nonzero > 4000, "party {}: {nonzero} non-zero words", m.from);
    }
    // The server's raw sum of uploads still carries the self masks: it is not the answer.
    let refs: Vec<&[u32]> = view.masked.iter().map(|m| m.masked.as_slice()).collect();
    assert!(plain_sum(&refs).iter().filter(|&&w| w != 0).count() > 4000);
}

#[test]
fn every_round_uses_fresh_masks() {
    let params = SecAggParams::new(4, 3, 512).unwrap();
    let x: Vec<Vec<u32>> = random_inputs(4, 512, 4);
    let masked = |round: u64, seed: [u8; 32]| {
        let out = aggregate(
            Aggregation::SecAgg,
            &params,
            session(round),
            x.clone(),
            &Dropouts::none(),
            seed,
        )
        .unwrap();
        assert_eq!(out.sum, sum_of(&x, &[0, 1, 2, 3]));
        secagg_view(&out)
            .masked
            .iter()
            .map(|m| m.masked.clone())
            .collect::<Vec<_>>()
    };
    let r0 = masked(0, [1; 32]);
    // Same inputs and even the same party randomness: the round number alone changes every
    // derived mask seed.
    let r1 = masked(1, [1; 32]);
    let r0_fresh_keys = masked(0, [2; 32]);
    for u in 0..4 {
        assert_ne!(r0[u], r1[u], "party {u}: round 0 vs 1");
        assert_ne!(r0[u], r0_fresh_keys[u], "party {u}: fresh keys");
        let same = r0[u].iter().zip(&r1[u]).filter(|(a, b)| a == b).count();
        assert!(same < 5, "party {u}: {same} equal words across rounds");
    }
}

/// Parties silent from `phase`: the survivors' sum, or the abort, as the protocol requires.
fn check_dropouts(n: usize, t: usize, len: usize, seed: u64) {
    let params = SecAggParams::new(n, t, len).unwrap();
    let x: Vec<Vec<u32>> = random_inputs(n, len, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    for phase in Phase::ALL {
        for dropped in 0..=n - t + 1 {
            let mut order: Vec<usize> = (0..n).collect();
            rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
            let gone = &order[..dropped];
            let dropouts = Dropouts::none().all_silent_from(gone.iter().copied(), phase);
            let result = run(Aggregation::SecAgg, &params, &x, &dropouts);
            if dropped <= n - t {
                let out = result.unwrap_or_else(|e| panic!("{phase} × {dropped}: {e}"));
                // A party silent from Unmask already sent its masked input: it is in the sum.
                let mut expected: Vec<usize> = if phase == Phase::Unmask {
                    (0..n).collect()
                } else {
                    order[dropped..].to_vec()
                };
                expected.sort_unstable();
                assert_eq!(out.contributors, expected, "{phase} × {dropped}");
                assert_eq!(out.sum, sum_of(&x, &expected), "{phase} × {dropped}");
            } else {
                assert_eq!(
                    result.map(|o| o.sum),
                    Err(SecAggError::Aborted(ProtocolAbort::TooFewSurvivors {
                        phase,
                        alive: t - 1,
                        threshold: t
                    })),
                    "{phase} × {dropped}"
                );
            }
        }
    }
}

#[test]
fn every_dropout_count_and_phase_up_to_n_minus_t_recovers_the_survivors_sum() {
    check_dropouts(5, 3, 257, 11);
    check_dropouts(7, 4, 1000, 12);
}

#[test]
fn every_dropout_pattern_of_four_parties_either_recovers_or_aborts() {
    // Each of 4 parties stays or goes silent from one of the 4 phases: 5^4 patterns.
    let (n, t) = (4, 3);
    let params = SecAggParams::new(n, t, 33).unwrap();
    let x: Vec<Vec<u64>> = random_inputs(n, 33, 13);
    for pattern in 0..5usize.pow(n as u32) {
        let mut dropouts = Dropouts::none();
        let mut silent_from: Vec<Option<Phase>> = Vec::new();
        let mut code = pattern;
        for party in 0..n {
            let choice = code % 5;
            code /= 5;
            let phase = Phase::ALL.get(choice).copied();
            if let Some(phase) = phase {
                dropouts = dropouts.silent_from(party, phase);
            }
            silent_from.push(phase);
        }
        let alive_at = |phase: Phase| {
            silent_from
                .iter()
                .filter(|s| s.is_none_or(|f| phase < f))
                .count()
        };
        let first_short = Phase::ALL.into_iter().find(|&p| alive_at(p) < t);
        let result = run(Aggregation::SecAgg, &params, &x, &dropouts);
        match first_short {
            None => {
                let out = result.unwrap_or_else(|e| panic!("pattern {silent_from:?}: {e}"));
                let expected: Vec<usize> = (0..n)
                    .filter(|&p| dropouts.active(p, Phase::MaskedInput))
                    .collect();
                assert_eq!(out.contributors, expected, "{silent_from:?}");
                assert_eq!(out.sum, sum_of(&x, &expected), "{silent_from:?}");
            }
            Some(phase) => assert_eq!(
                result.map(|o| o.sum),
                Err(SecAggError::Aborted(ProtocolAbort::TooFewSurvivors {
                    phase,
                    alive: alive_at(phase),
                    threshold: t
                })),
                "{silent_from:?}"
            ),
        }
    }
}

#[test]
fn a_sparse_neighbour_graph_recovers_the_sum_with_less_traffic() {
    let (n, len) = (16, 2048);
    let x: Vec<Vec<u32>> = random_inputs(n, len, 14);
    let sparse = SecAggParams::sparse(n, 6, 4, len).unwrap();
    let full = SecAggParams::new(n, 9, len).unwrap();
    for dropouts in [
        Dropouts::none(),
        Dropouts::none()
            .silent_from(3, Phase::MaskedInput)
            .silent_from(9, Phase::Unmask),
    ] {
        let out = run(Aggregation::SecAgg, &sparse, &x, &dropouts).unwrap();
        assert_eq!(out.sum, sum_of(&x, &out.contributors));
        assert!(matches!(
            secagg_view(&out).graph,
            NeighbourGraph::Harary { .. }
        ));
    }
    let sparse_out = run(Aggregation::SecAgg, &sparse, &x, &Dropouts::none()).unwrap();
    let full_out = run(Aggregation::SecAgg, &full, &x, &Dropouts::none()).unwrap();
    let share_bytes = |o: &RoundOutcome<u32>| o.traffic.sent(0, Phase::ShareKeys);
    assert!(share_bytes(&sparse_out) * 2 < share_bytes(&full_out));
}

#[test]
fn a_sparse_round_aborts_cleanly_when_a_neighbourhood_falls_below_t() {
    let (n, len) = (10, 64);
    let params = SecAggParams::sparse(n, 2, 2, len).unwrap();
    let x: Vec<Vec<u32>> = random_inputs(n, len, 17);
    // The same seed gives the same graph: read party 0's neighbours from a clean round.
    let clean = run(Aggregation::SecAgg, &params, &x, &Dropouts::none()).unwrap();
    let hood = secagg_view(&clean).graph.closed_neighbourhood(0);
    let neighbours: Vec<usize> = hood.into_iter().filter(|&v| v != 0).collect();
    assert_eq!(neighbours.len(), 2);
    // Both neighbours leave after sharing keys: party 0 sees a single survivor in its
    // neighbourhood and refuses to unmask (its self-mask seed would have one share left).
    let dropouts = Dropouts::none().all_silent_from(neighbours, Phase::MaskedInput);
    let err = run(Aggregation::SecAgg, &params, &x, &dropouts).unwrap_err();
    assert_eq!(
        err,
        SecAggError::Aborted(ProtocolAbort::TooFewSurvivors {
            phase: Phase::Unmask,
            alive: 1,
            threshold: 2
        })
    );
}

#[test]
fn a_client_refuses_a_roster_that_misreports_its_keys() {
    let params = SecAggParams::new(3, 2, 8).unwrap();
    let mut clients: Vec<SecAggClient<u32>> = (0..3)
        .map(|u| {
            let rng = ChaCha20Rng::seed_from_u64(u as u64);
            SecAggClient::new(u, params, session(0), vec![0; 8], rng).unwrap()
        })
        .collect();
    let mut server = SecAggServer::<u32>::new(params, session(0), NeighbourGraph::complete(3));
    let keys = clients
        .iter_mut()
        .map(|c| c.advertise_keys().unwrap())
        .collect();
    let mut rosters = server.collect_keys(keys).unwrap();
    // The server swaps in party 1's keys for party 0's.
    let (_, roster) = &mut rosters[0];
    roster.entries[0].keys = roster.entries[1].keys;
    assert!(matches!(
        clients[0].share_keys(roster),
        Err(SecAggError::Aborted(ProtocolAbort::BadServerMessage {
            client: 0,
            phase: Phase::ShareKeys,
            ..
        }))
    ));
    // A roster of fewer than t parties is refused.
    let (_, roster) = &mut rosters[2];
    roster.entries.retain(|e| e.from == 2);
    assert_eq!(
        clients[2].share_keys(roster).unwrap_err(),
        SecAggError::Aborted(ProtocolAbort::TooFewSurvivors {
            phase: Phase::ShareKeys,
            alive: 1,
            threshold: 2
        })
    );
}

#[test]
fn additive_sharing_aborts_on_any_dropout_and_reveals_only_partial_sums() {
    let params = SecAggParams::new(5, 3, 64).unwrap();
    let x: Vec<Vec<u32>> = random_inputs(5, 64, 15);
    for phase in [Phase::AdvertiseKeys, Phase::ShareKeys, Phase::MaskedInput] {
        let dropouts = Dropouts::none().silent_from(2, phase);
        let err = run(Aggregation::Additive, &params, &x, &dropouts).unwrap_err();
        assert!(
            matches!(
                err,
                SecAggError::Aborted(ProtocolAbort::PartyMissing { party: 2, .. })
            ),
            "{phase}: {err}"
        );
        assert!(err.to_string().contains("party 2 dropped out"), "{err}");
    }
    let out = run(Aggregation::Additive, &params, &x, &Dropouts::none()).unwrap();
    let ServerView::Additive(view) = &out.view else {
        panic!("additive view")
    };
    assert_eq!(view.partial_sums.len(), 5);
    assert!(
        view.partial_sums
            .iter()
            .all(|p| x.iter().all(|xi| *xi != p.sum))
    );
}

/// Drives rounds 0 and 1 by hand: the clients, the server, and the inboxes it would route.
struct ManualRound {
    clients: Vec<SecAggClient<u32>>,
    server: SecAggServer<u32>,
    inboxes: Vec<(usize, Vec<EncryptedShares>)>,
}

fn manual_round(n: usize, t: usize, session: Session, seed: u64) -> ManualRound {
    let params = SecAggParams::new(n, t, 64).unwrap();
    let mut clients: Vec<SecAggClient<u32>> = (0..n)
        .map(|u| {
            let rng = ChaCha20Rng::seed_from_u64(seed * 100 + u as u64);
            SecAggClient::new(u, params, session, vec![u as u32; 64], rng).unwrap()
        })
        .collect();
    let mut server = SecAggServer::new(params, session, NeighbourGraph::complete(n));
    let keys = clients
        .iter_mut()
        .map(|c| c.advertise_keys().unwrap())
        .collect();
    let rosters = server.collect_keys(keys).unwrap();
    let shares = rosters
        .iter()
        .map(|(u, roster)| (*u, clients[*u].share_keys(roster).unwrap()))
        .collect();
    let inboxes = server.route_shares(shares).unwrap();
    ManualRound {
        clients,
        server,
        inboxes,
    }
}

#[test]
fn tampered_relabelled_or_replayed_shares_fail_to_decrypt() {
    // Tampered: one flipped bit in a ciphertext.
    let mut r = manual_round(4, 3, session(0), 1);
    let (to, inbox) = &mut r.inboxes[1];
    inbox[0].ciphertext[20] ^= 0x40;
    let from = inbox[0].from;
    assert_eq!(
        r.clients[*to].masked_input(inbox).unwrap_err(),
        SecAggError::Aborted(ProtocolAbort::Decryption { from, to: *to })
    );

    // Relabelled: a share from party 2 presented as coming from party 3.
    let mut r = manual_round(4, 3, session(0), 2);
    let (to, inbox) = &mut r.inboxes[0];
    let i2 = inbox.iter().position(|m| m.from == 2).unwrap();
    let i3 = inbox.iter().position(|m| m.from == 3).unwrap();
    inbox[i3].ciphertext = inbox[i2].ciphertext.clone();
    assert_eq!(
        r.clients[*to].masked_input(inbox).unwrap_err(),
        SecAggError::Aborted(ProtocolAbort::Decryption { from: 3, to: *to })
    );

    // Replayed from another round (same parties, same randomness, so the same keys: only the
    // session binding in key derivation and associated data tells the rounds apart).
    let old = manual_round(4, 3, session(0), 3);
    let mut new = manual_round(4, 3, session(1), 3);
    let (to, inbox) = &new.inboxes[2];
    let replayed: Vec<EncryptedShares> = old.inboxes[2].1.clone();
    assert_eq!(*to, old.inboxes[2].0);
    let err = new.clients[*to].masked_input(&replayed).unwrap_err();
    assert!(
        matches!(
            err,
            SecAggError::Aborted(ProtocolAbort::Decryption { to: 2, .. })
        ),
        "{err}"
    );
    // ... while the genuine inbox of the new round decrypts.
    assert!(new.clients[*to].masked_input(inbox).is_ok());

    // Replayed from another protocol run.
    let mut other_run = manual_round(4, 3, Session::new([9; 16], 0), 3);
    let err = other_run.clients[2]
        .masked_input(&old.inboxes[2].1)
        .unwrap_err();
    assert!(
        matches!(err, SecAggError::Aborted(ProtocolAbort::Decryption { .. })),
        "{err}"
    );
}

#[test]
fn clients_refuse_a_party_claimed_both_alive_and_dropped_and_answer_once() {
    let mut r = manual_round(5, 3, session(0), 4);
    let mut masked = Vec::new();
    for (u, inbox) in &r.inboxes {
        if *u != 4 {
            masked.push(r.clients[*u].masked_input(inbox).unwrap());
        }
    }
    let requests = r.server.collect_masked(masked).unwrap();
    let (u, honest) = &requests[0];
    assert_eq!(honest.dropped, vec![4]);

    // A cheating server lists party 1 as dropped as well as alive, to get both its self-mask
    // seed share and its mask-key share.
    let cheat = UnmaskRequest {
        survivors: honest.survivors.clone(),
        dropped: vec![1, 4],
    };
    let err = r.clients[*u].unmask(&cheat).unwrap_err();
    assert_eq!(
        err,
        SecAggError::Aborted(ProtocolAbort::AliveAndDropped {
            client: *u,
            party: 1
        })
    );
    assert!(
        err.to_string().contains("both survived and dropped out"),
        "{err}"
    );
    // Leaving a party out, or listing the client itself as dropped, is refused too.
    let partial = UnmaskRequest {
        survivors: honest.survivors.clone(),
        dropped: vec![],
    };
    assert!(matches!(
        r.clients[*u].unmask(&partial),
        Err(SecAggError::Aborted(ProtocolAbort::BadServerMessage {
            phase: Phase::Unmask,
            ..
        }))
    ));
    let mut me_dropped = honest.clone();
    me_dropped.survivors.retain(|p| p != u);
    me_dropped.dropped.push(*u);
    me_dropped.dropped.sort_unstable();
    assert!(matches!(
        r.clients[*u].unmask(&me_dropped),
        Err(SecAggError::Aborted(ProtocolAbort::BadServerMessage { .. }))
    ));
    // The honest request is answered once; a second request gets nothing.
    let response = r.clients[*u].unmask(honest).unwrap();
    assert_eq!(response.mask_key_shares.len(), 1);
    assert_eq!(response.self_seed_shares.len(), 4);
    assert_eq!(
        r.clients[*u].unmask(honest).unwrap_err(),
        SecAggError::Aborted(ProtocolAbort::OutOfOrder { step: "unmask" })
    );
}

#[test]
fn fewer_than_t_shamir_shares_do_not_reconstruct_the_secret() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let secret = ShareableSecret::random(&mut rng);
    let holders: Vec<usize> = (0..7).collect();
    let shares = shamir::split(&secret, 4, &holders, &mut rng).unwrap();
    let pick = |ids: &[usize]| -> Vec<(usize, &shamir::ShareValue)> {
        ids.iter().map(|&i| (shares[i].0, &shares[i].1)).collect()
    };
    let back = shamir::combine(&pick(&[6, 1, 3, 4]), 4, String::new).unwrap();
    assert_eq!(back.public_key(), secret.public_key());
    let err = shamir::combine(&pick(&[0, 2, 5]), 4, || "party 0's mask key".into()).err();
    assert_eq!(
        err,
        Some(SecAggError::Aborted(ProtocolAbort::TooFewShares {
            have: 3,
            threshold: 4,
            whose: "party 0's mask key".into()
        }))
    );
    // Forcing the interpolation through 3 points yields an unrelated key.
    for ids in [[0, 2, 5], [1, 3, 6], [4, 5, 6]] {
        let wrong = shamir::combine(&pick(&ids), 3, String::new).unwrap();
        assert_ne!(wrong.public_key(), secret.public_key());
    }
}

#[test]
fn encoding_round_trips_within_one_step_and_rounds_without_bias() {
    let code = FixedPoint::new(1.0, 256.0).unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let x: Vec<f32> = (0..10_000)
        .map(|_| rng.random_range(-1.2f32..1.2))
        .collect();
    let back = code.decode(&code.encode::<u64, _>(&x, &mut rng).unwrap());
    for (a, b) in x.iter().zip(&back) {
        assert!((a.clamp(-1.0, 1.0) - b).abs() as f64 <= code.step() + 1e-7);
    }
    // 0.1 sits between two grid points (25.6 units): the mean of many roundings is 0.1.
    let many = vec![0.1f32; 100_000];
    let mean = code
        .decode(&code.encode::<u32, _>(&many, &mut rng).unwrap())
        .iter()
        .map(|&v| v as f64)
        .sum::<f64>()
        / many.len() as f64;
    assert!((mean - 0.1).abs() < 5e-4, "mean {mean}");
}

/// Pearson's χ² of byte values against the uniform distribution (255 degrees of freedom).
fn chi_square_bytes(bytes: impl Iterator<Item = u8>) -> f64 {
    let mut counts = [0u64; 256];
    let mut total = 0u64;
    for b in bytes {
        counts[b as usize] += 1;
        total += 1;
    }
    let expected = total as f64 / 256.0;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn a_masked_upload_is_indistinguishable_from_uniform() {
    // A very non-uniform input (small non-negative integers) from party 0.
    let (n, len) = (3, 1 << 17);
    let params = SecAggParams::new(n, 2, len).unwrap();
    let x: Vec<Vec<u32>> = (0..n)
        .map(|u| (0..len).map(|i| ((i * (u + 1)) % 7) as u32).collect())
        .collect();
    let out = run(Aggregation::SecAgg, &params, &x, &Dropouts::none()).unwrap();
    let upload = &secagg_view(&out).masked[0].masked;
    // χ² with 255 dof: mean 255, sd 22.6. 400 is beyond 6 sd (p < 1e-8).
    let all_bytes = chi_square_bytes(upload.iter().flat_map(|w| w.to_le_bytes()));
    let top_bytes = chi_square_bytes(upload.iter().map(|w| (w >> 24) as u8));
    let input_bytes = chi_square_bytes(x[0].iter().flat_map(|w| w.to_le_bytes()));
    assert!(all_bytes < 400.0, "masked upload bytes χ² = {all_bytes}");
    assert!(
        top_bytes < 400.0,
        "masked upload top bytes χ² = {top_bytes}"
    );
    assert!(
        input_bytes > 1e6,
        "the test must be able to tell the input apart: {input_bytes}"
    );
    assert_eq!(out.sum, sum_of(&x, &[0, 1, 2]));
}

#[test]
fn bad_parameters_give_clear_errors() {
    let msg = |e: SecAggError| e.to_string();
    let above = SecAggParams::new(5, 6, 10).unwrap_err();
    assert_eq!(
        above,
        SecAggError::ThresholdAboveParties {
            threshold: 6,
            holders: 5
        }
    );
    assert!(msg(above).contains("pick t ≤ 5"));
    let low = SecAggParams::new(6, 3, 10).unwrap_err();
    assert_eq!(
        low,
        SecAggError::ThresholdTooLow {
            threshold: 3,
            holders: 6
        }
    );
    assert!(
        msg(low).contains("more than half")
            && msg(SecAggParams::new(6, 3, 10).unwrap_err()).contains("t ≥ 4")
    );
    assert_eq!(
        SecAggParams::new(0, 0, 10).unwrap_err(),
        SecAggError::NoParties
    );
    assert_eq!(
        SecAggParams::new(3, 2, 0).unwrap_err(),
        SecAggError::EmptyVector
    );

    let params = SecAggParams::new(3, 2, 8).unwrap();
    let mut x: Vec<Vec<u32>> = vec![vec![0; 8]; 3];
    x[1].push(0);
    for aggregation in ALL {
        let err = run(aggregation, &params, &x, &Dropouts::none()).unwrap_err();
        assert_eq!(
            err,
            SecAggError::LengthMismatch {
                party: 1,
                expected: 8,
                found: 9
            }
        );
        assert!(msg(err).contains("party 1's vector has length 9, expected 8"));
    }
    let code = FixedPoint::new(1.0, (1u64 << 30) as f64).unwrap();
    let err = code.check_headroom::<u32>(3, 0).unwrap_err();
    assert!(msg(err).contains("no headroom"));
}

#[test]
fn traffic_counts_every_message_per_party_and_phase() {
    let (n, len) = (5, 100);
    let params = SecAggParams::new(n, 3, len).unwrap();
    let x: Vec<Vec<u32>> = random_inputs(n, len, 16);
    let dropouts = Dropouts::none().silent_from(4, Phase::MaskedInput);
    let out = run(Aggregation::SecAgg, &params, &x, &dropouts).unwrap();
    let t = &out.traffic;
    for u in 0..n {
        assert_eq!(t.sent(u, Phase::AdvertiseKeys), 68);
        // Four ciphertexts of 88 bytes with an 8-byte header, plus a count.
        assert_eq!(t.sent(u, Phase::ShareKeys), 4 + 4 * 96);
        assert_eq!(t.received(u, Phase::ShareKeys), 4 + 5 * 68);
    }
    assert_eq!(t.sent(0, Phase::MaskedInput), 8 + 4 * len as u64);
    assert_eq!(t.sent(4, Phase::MaskedInput), 0);
    assert_eq!(
        t.server_received(Phase::MaskedInput),
        4 * (8 + 4 * len as u64)
    );
    // Unmask: 4 survivors' b shares and 1 dropped party's key share, 36 bytes each.
    assert_eq!(t.sent(0, Phase::Unmask), 12 + 5 * 36);
    assert!(out.timings.client_total() > std::time::Duration::ZERO);
}

#[test]
fn distributed_noise_sized_for_t_survivors_gives_the_sum_the_target_variance() {
    let (n, t, len) = (6, 4, 20_000);
    let params = SecAggParams::new(n, t, len).unwrap();
    let code = FixedPoint::new(1.0, 100.0).unwrap();
    let noise = DistributedGaussian::new(50.0, t).unwrap();
    let updates = vec![vec![0.25f32; len]; n];
    // Exactly t parties survive: the sum's noise has variance σ² = 50² (integer units).
    let dropouts = Dropouts::none().all_silent_from([1, 4], Phase::MaskedInput);
    let (sum, out) = secure_sum::<u32>(
        &SecureSum {
            aggregation: Aggregation::SecAgg,
            params: &params,
            session: session(0),
            code: &code,
            noise: &SumNoise::Distributed(noise),
            dropouts: &dropouts,
            seed: [3; 32],
        },
        &updates,
    )
    .unwrap();
    assert_eq!(out.contributors, vec![0, 2, 3, 5]);
    let errors: Vec<f64> = sum
        .iter()
        .map(|&s| (s as f64 - 1.0) * code.scale())
        .collect();
    let mean = errors.iter().sum::<f64>() / len as f64;
    let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / len as f64;
    assert!(mean.abs() < 2.0, "mean {mean}");
    assert!((var / 2500.0 - 1.0).abs() < 0.06, "variance {var}");
}
