//! Secure aggregation benchmark: time per round (client and server compute), bytes per party,
//! SecAgg (Bonawitz et al. 2017, all pairs), SecAgg+ (sparse graph) and additive sharing, plus
//! mask generation throughput beside the raw ChaCha20 keystream in the same run.
//!
//! ```text
//! cargo bench --bench secagg                        # the full grid (n = 10, 50, 100 × d = 10^4..10^6)
//! cargo bench --bench secagg -- --quick             # small cells only (or PPML_BENCH_QUICK=1)
//! cargo bench --bench secagg -- --cells 50x1000000 --reps 3 --protocols secagg
//! ```
//! Peers (Flower 1.41 SecAgg+, compute only, one core; see ../shared/peers/README.md):
//! full graph 50 × 10^6: 37.8 s, 100 × 10^4: 238.1 s, 100 × 10^6: 273.9 s; 3 shares (two
//! neighbours and self, threshold 2) 100 × 10^6: 5.3 s. Their "client" is the sum over
//! clients run one after another; ours too (each client may use every rayon thread: run with
//! RAYON_NUM_THREADS=1 for the one-core comparison).

use std::time::{Duration, Instant};

use chacha20::cipher::{KeyIvInit, StreamCipher};
use ppml::fl::prg::{self, MaskSeed, Sign};
use ppml::fl::ring::plain_sum;
use ppml::fl::{
    Aggregation, Dropouts, FixedPoint, Phase, RoundOutcome, SecAggParams, Session, aggregate,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    SecAgg,
    /// SecAgg+ with k neighbours (threshold ⌊(k+1)/2⌋ + 1).
    SecAggPlus(usize),
    Additive,
}

impl Protocol {
    fn name(self) -> String {
        match self {
            Protocol::SecAgg => "secagg".into(),
            Protocol::SecAggPlus(k) => format!("secagg+ k={k}"),
            Protocol::Additive => "additive".into(),
        }
    }

    fn params(self, n: usize, d: usize) -> SecAggParams {
        match self {
            // Flower's SecAggWorkflow default: threshold round(2n/3).
            Protocol::SecAgg | Protocol::Additive => {
                let t = ((2 * n) as f64 / 3.0).round() as usize;
                SecAggParams::new(n, t.max(SecAggParams::majority(n)), d)
            }
            Protocol::SecAggPlus(k) => SecAggParams::sparse(n, k, SecAggParams::majority(k + 1), d),
        }
        .expect("benchmark parameters are valid")
    }
}

struct Options {
    cells: Vec<(usize, usize)>,
    reps: usize,
    protocols: Vec<Protocol>,
}

fn parse_args() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("PPML_BENCH_QUICK").is_ok_and(|v| v != "0");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let cells = match value("--cells") {
        Some(list) => list
            .split(',')
            .map(|c| {
                let (n, d) = c.split_once('x').expect("--cells NxD[,NxD...]");
                (n.parse().expect("n"), d.parse().expect("d"))
            })
            .collect(),
        None if quick => vec![(10, 10_000), (10, 100_000), (50, 10_000), (100, 10_000)],
        None => [10, 50, 100]
            .iter()
            .flat_map(|&n| [10_000, 100_000, 1_000_000].map(|d| (n, d)))
            .collect(),
    };
    let reps = value("--reps").map_or(3, |r| r.parse().expect("--reps N"));
    let protocols = match value("--protocols") {
        Some(list) => list
            .split(',')
            .map(|p| match p {
                "secagg" => Protocol::SecAgg,
                "additive" => Protocol::Additive,
                other => Protocol::SecAggPlus(
                    other
                        .strip_prefix("secagg+")
                        .and_then(|k| k.parse().ok())
                        .expect("protocols: secagg, additive, secagg+K"),
                ),
            })
            .collect(),
        None => vec![
            Protocol::SecAgg,
            Protocol::SecAggPlus(2),
            Protocol::Additive,
        ],
    };
    Options {
        cells,
        reps,
        protocols,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Raw ChaCha20 keystream (RustCrypto cipher API, one thread) in GB/s.
fn raw_chacha20_gbps(bytes: usize) -> f64 {
    let mut buf = vec![0u8; 16 * 1024];
    let mut cipher = chacha20::ChaCha20::new(&[7u8; 32].into(), &[0u8; 12].into());
    cipher.apply_keystream(&mut buf);
    let start = Instant::now();
    for _ in 0..bytes / buf.len() {
        cipher.apply_keystream(&mut buf);
    }
    std::hint::black_box(&buf);
    bytes as f64 / secs(start.elapsed()) / 1e9
}

/// The ChaCha20 block function alone (4 blocks per call into a word buffer), in GB/s: the
/// ceiling for mask generation.
fn raw_block_function_gbps(bytes: usize) -> f64 {
    use chacha20::rand_core::SeedableRng;
    use chacha20::rand_core::block::Generator;
    let mut core =
        chacha20::ChaChaCore::<chacha20::R20, chacha20::variants::Legacy>::from_seed([7; 32]);
    let mut buffer = [0u32; 64];
    let start = Instant::now();
    for _ in 0..bytes / 256 {
        core.generate(&mut buffer);
        std::hint::black_box(&buffer);
    }
    bytes as f64 / secs(start.elapsed()) / 1e9
}

/// Mask generation (`prg::accumulate`: keystream words added into a vector) in GB/s of mask.
fn mask_gbps(words: usize, seeds: usize) -> f64 {
    let seeds: Vec<MaskSeed> = (0..seeds as u8)
        .map(|i| MaskSeed::from_bytes([i; 32]))
        .collect();
    let masks: Vec<(&MaskSeed, Sign)> = seeds.iter().map(|s| (s, Sign::Plus)).collect();
    let mut out = vec![0u32; words];
    prg::accumulate(&mut out, &[], &masks[..1]);
    let start = Instant::now();
    prg::accumulate(&mut out, &[], &masks);
    std::hint::black_box(&out);
    (words * 4 * seeds.len()) as f64 / secs(start.elapsed()) / 1e9
}

fn throughput_table() {
    let words = 1 << 22; // 16 MiB of u32 per mask
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let threads = rayon::current_num_threads();
    let mut raw = Vec::new();
    let mut block = Vec::new();
    let mut mask1 = Vec::new();
    let mut mask_all = Vec::new();
    for _ in 0..5 {
        raw.push(raw_chacha20_gbps(256 << 20));
        block.push(raw_block_function_gbps(256 << 20));
        mask1.push(one.install(|| mask_gbps(words, 16)));
        mask_all.push(mask_gbps(words, 16));
    }
    println!("## Mask generation throughput (median of 5; GB/s of mask bytes)\n");
    println!("| what | threads | GB/s |\n|---|---:|---:|");
    println!(
        "| raw ChaCha20 keystream (cipher API, 16 KiB buffer) | 1 | {:.2} |",
        median(raw)
    );
    println!(
        "| raw ChaCha20 block function (4 blocks per call) | 1 | {:.2} |",
        median(block)
    );
    println!(
        "| ppml masks: 16 seeds × 2^22 u32 words added into one vector | 1 | {:.2} |",
        median(mask1)
    );
    println!("| same | {threads} | {:.2} |\n", median(mask_all));
}

struct Cell {
    client: Vec<f64>,
    encode: Vec<f64>,
    key_setup: Vec<f64>,
    masking: Vec<f64>,
    server: Vec<f64>,
    unmask: Vec<f64>,
    bytes: f64,
}

fn run_cell(protocol: Protocol, n: usize, d: usize, reps: usize) -> Cell {
    let params = protocol.params(n, d);
    let aggregation = if protocol == Protocol::Additive {
        Aggregation::Additive
    } else {
        Aggregation::SecAgg
    };
    let mut rng = StdRng::seed_from_u64(n as u64 * 31 + d as u64);
    // Flower's inputs: 0.05 · N(0, 1) float32 per client.
    let updates: Vec<Vec<f32>> = (0..n)
        .map(|_| {
            (0..d)
                .map(|_| 0.05 * rng.sample::<f32, _>(StandardNormal))
                .collect()
        })
        .collect();
    let code = FixedPoint::finest::<u32>(8.0, n, 0).expect("headroom for n parties");
    let mut cell = Cell {
        client: vec![],
        encode: vec![],
        key_setup: vec![],
        masking: vec![],
        server: vec![],
        unmask: vec![],
        bytes: 0.0,
    };
    for rep in 0..reps {
        // Each client encodes its own update (stochastic rounding), timed as client work.
        let start = Instant::now();
        let inputs: Vec<Vec<u32>> = updates
            .iter()
            .enumerate()
            .map(|(u, x)| {
                let mut r = StdRng::seed_from_u64((rep * n + u) as u64);
                code.encode(x, &mut r).expect("finite updates")
            })
            .collect();
        let encode = secs(start.elapsed());
        let expected = {
            let refs: Vec<&[u32]> = inputs.iter().map(|v| v.as_slice()).collect();
            plain_sum(&refs)
        };
        let session = Session::new([rep as u8; 16], rep as u64);
        let out: RoundOutcome<u32> = aggregate(
            aggregation,
            &params,
            session,
            inputs,
            &Dropouts::none(),
            [rep as u8; 32],
        )
        .expect("the round completes");
        assert_eq!(out.sum, expected, "{} {n}×{d}: wrong sum", protocol.name());
        let t = &out.timings;
        cell.encode.push(encode);
        cell.client.push(secs(t.client_total()) + encode);
        cell.key_setup.push(secs(
            t.client[Phase::AdvertiseKeys.index()] + t.client[Phase::ShareKeys.index()],
        ));
        cell.masking
            .push(secs(t.client[Phase::MaskedInput.index()]));
        cell.server.push(secs(t.server_total()));
        cell.unmask.push(secs(t.server[Phase::Unmask.index()]));
        cell.bytes = out.traffic.mean_party_total();
    }
    cell
}

fn peer(protocol: Protocol, n: usize, d: usize) -> &'static str {
    match (protocol, n, d) {
        (Protocol::SecAgg, 10, 10_000) => "0.384",
        (Protocol::SecAgg, 10, 100_000) => "0.494",
        (Protocol::SecAgg, 10, 1_000_000) => "1.045",
        (Protocol::SecAgg, 50, 10_000) => "31.13",
        (Protocol::SecAgg, 50, 100_000) => "29.53",
        (Protocol::SecAgg, 50, 1_000_000) => "37.79",
        (Protocol::SecAgg, 100, 10_000) => "238.1",
        (Protocol::SecAgg, 100, 100_000) => "239.6",
        (Protocol::SecAgg, 100, 1_000_000) => "273.9",
        (Protocol::SecAggPlus(2), 10, 10_000) => "0.085",
        (Protocol::SecAggPlus(2), 10, 100_000) => "0.119",
        (Protocol::SecAggPlus(2), 10, 1_000_000) => "0.472",
        (Protocol::SecAggPlus(2), 50, 10_000) => "0.434",
        (Protocol::SecAggPlus(2), 50, 100_000) => "0.642",
        (Protocol::SecAggPlus(2), 50, 1_000_000) => "2.534",
        (Protocol::SecAggPlus(2), 100, 10_000) => "0.920",
        (Protocol::SecAggPlus(2), 100, 100_000) => "1.264",
        (Protocol::SecAggPlus(2), 100, 1_000_000) => "5.338",
        _ => "",
    }
}

fn main() {
    let options = parse_args();
    println!(
        "# ppml secure aggregation benchmark ({} rayon threads, {} reps, medians)\n",
        rayon::current_num_threads(),
        options.reps
    );
    throughput_table();
    println!(
        "## One round, seconds (client = sum over clients run one after another, encoding included)\n"
    );
    println!(
        "| protocol | n | d | t | client s | per client s | server s | total s | encode s | key setup s | masking s | server unmask s | KB per party | Flower total s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &(n, d) in &options.cells {
        for &protocol in &options.protocols {
            if let Protocol::SecAggPlus(k) = protocol
                && k >= n
            {
                continue;
            }
            let cell = run_cell(protocol, n, d, options.reps);
            let client = median(cell.client.clone());
            let server = median(cell.server.clone());
            let t = match protocol {
                Protocol::Additive => n,
                _ => protocol.params(n, d).threshold(),
            };
            println!(
                "| {} | {n} | {d} | {t} | {client:.3} | {:.4} | {server:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} | {} |",
                protocol.name(),
                client / n as f64,
                client + server,
                median(cell.encode),
                median(cell.key_setup),
                median(cell.masking),
                median(cell.unmask),
                cell.bytes / 1e3,
                peer(protocol, n, d),
            );
        }
    }
}
