#!/usr/bin/env python3
"""Flower's SecAgg+ in one process: the compute cost of one round, for ppml's secagg table.

What is measured. One SecAgg+ round of n clients, each holding one float32 vector of length d
(0.05 * N(0, 1)) and a num_examples drawn uniformly from [100, 1000]. The script calls Flower
1.41.0's own library functions in the order in which its client mod
(flwr/client/mod/secure_aggregation/secaggplus_mod.py) and its server workflow
(flwr/server/workflow/secure_aggregation/secaggplus_workflow.py) call them:

  setup       client: two SECP384R1 key pairs, PEM-encoded. server: shares and threshold,
              shuffle, ring of neighbours.
  share keys  client: a 32-byte self-mask seed; Shamir shares of the seed and of the PEM sk1;
              per neighbour ECDH(sk2, pk2') + HKDF and Fernet encryption of the two shares.
              server: routes the ciphertexts.
  masking     client: Fernet decryption of the received shares, weighting by
              num_examples / max_weight, stochastic quantization, the weight factor in front,
              the self mask, per neighbour ECDH(sk1, pk1') + HKDF and a pairwise mask added or
              subtracted, mod 2^32, serialization. server: deserializes, sums, mod 2^32.
  unmask      client: hands over the seed shares. server: combine_shares per client (on every
              share it got, as Flower does), regenerates and subtracts the self mask, mod 2^32,
              takes the weight factor off, dequantizes.

Flower's defaults: clipping_range 8.0, quantization_range 2^22, modulus_range 2^32,
max_weight 1000. Graphs: `full` is num_shares = n (what SecAggWorkflow uses), threshold
round(2n/3); `sparse` is num_shares 3, threshold 2 (Flower's secure-aggregation example).
Each round reports the seconds of every phase; "client" sums over the n clients, which run one
after another, so "per client" (the sum / n) is the latency of clients running in parallel.

Every round is verified (not timed): the unmasked aggregate, weight factor included, must equal
the clients' quantized vectors summed mod 2^32, element for element; the dequantized result
must be within 1e-4 of the weighted float average; the uploads must differ from the quantized
vectors. `--break-mask pairwise` (one client leaves out one pairwise mask) or `--break-mask
self` (the server regenerates one self mask from a wrong seed) is the negative control: the
verification must then fail.

Left out: the transport (gRPC, Message / RecordDict construction), the mod's state
persistence and stage checks, logging, the strategy's aggregate_fit, training. There are no
dropouts, so the server's dropout path (reconstructing sk1, regenerating pairwise masks) is not
timed. One untimed warm-up round runs first.

Flower's choices that ppml does not copy: pseudo_rand_gen XOR-folds the 44-byte key into a
32-bit seed for numpy's MT19937 (RandomState), so a mask has 32 bits of seed and comes from a
non-cryptographic generator, as int64 values in [0, 2^32 - 2]; the SECP384R1 keys are
re-parsed from PEM for every key agreement; Shamir shares the whole PEM sk1 (20 chunks of 16
bytes) in pure-Python GF(2^128). Compare per phase, not only totals.

Usage (run from the repository root; see benches/peers/README-flower.md):
  python benches/peers/flower_secagg.py --graph sparse --n 10 --d 10000 --reps 1
  python benches/peers/flower_secagg.py --graph sparse full --n 10 50 --reps 3 | tee flower.jsonl
  python benches/peers/flower_secagg.py --summarize flower.jsonl
Prints one JSON line per round, then a Markdown table of the medians. Exit status 1 if a round
fails its verification (with --break-mask: 0 only if every round failed it).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

import flwr
from flwr.common import bytes_to_ndarray, ndarray_to_bytes
from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares
from flwr.common.secure_aggregation.crypto.symmetric_encryption import (
    decrypt,
    encrypt,
    generate_shared_key,
)
from flwr.common.secure_aggregation.ndarrays_arithmetic import (
    factor_combine,
    factor_extract,
    get_parameters_shape,
    parameters_addition,
    parameters_mod,
    parameters_multiply,
    parameters_subtraction,
)
from flwr.common.secure_aggregation.quantization import dequantize, quantize
from flwr.common.secure_aggregation.secaggplus_utils import (
    pseudo_rand_gen,
    share_keys_plaintext_concat,
    share_keys_plaintext_separate,
)
from flwr.supercore.primitives.asymmetric import (
    bytes_to_private_key,
    bytes_to_public_key,
    generate_key_pairs,
    private_key_to_bytes,
    public_key_to_bytes,
)

CLIPPING_RANGE = 8.0
QUANTIZATION_RANGE = 2**22
MODULUS_RANGE = 2**32
MAX_WEIGHT = 1000.0

CLIENT_PHASES = ("c_setup", "c_share_keys", "c_mask", "c_serialize", "c_unmask")
SERVER_PHASES = ("s_setup", "s_route", "s_collect", "s_combine", "s_unmask")


def shares_and_threshold(graph, n):
    """num_shares and threshold as SecAggPlusWorkflow's setup stage derives them."""
    if graph == "sparse":
        return 3, 2
    num_shares = n  # num_shares = 1.0: round(1.0 * n) = n, the full graph
    return num_shares, max(round(2 / 3 * num_shares), 2)


class Clock:
    """Seconds per phase: `with clock("c_mask"): ...` adds the block's wall time."""

    def __init__(self):
        self.s = defaultdict(float)

    @contextmanager
    def __call__(self, phase):
        t0 = time.perf_counter()
        yield
        self.s[phase] += time.perf_counter() - t0


class Client:
    """One client's state and its four stage handlers, after secaggplus_mod.py."""

    def __init__(self, nid, num_shares, threshold):
        self.nid, self.num_shares, self.threshold = nid, num_shares, threshold
        self.seed_shares, self.sk1_shares, self.ss2 = {}, {}, {}
        self.quantized = None  # kept for the verification only

    def setup(self):
        sk1, pk1 = generate_key_pairs()
        sk2, pk2 = generate_key_pairs()
        self.sk1, self.pk1 = private_key_to_bytes(sk1), public_key_to_bytes(pk1)
        self.sk2, self.pk2 = private_key_to_bytes(sk2), public_key_to_bytes(pk2)
        return self.pk1, self.pk2

    def share_keys(self, public_keys):
        """public_keys: neighbour id -> (pk1, pk2), this client included."""
        self.public_keys = public_keys
        self.rd_seed = os.urandom(32)
        seed_shares = create_shares(self.rd_seed, self.threshold, self.num_shares)
        sk1_shares = create_shares(self.sk1, self.threshold, self.num_shares)
        dsts, ciphertexts = [], []
        for i, (nid, (_, pk2)) in enumerate(public_keys.items()):
            if nid == self.nid:
                self.seed_shares[nid], self.sk1_shares[nid] = seed_shares[i], sk1_shares[i]
                continue
            key = generate_shared_key(bytes_to_private_key(self.sk2), bytes_to_public_key(pk2))
            self.ss2[nid] = key
            plaintext = share_keys_plaintext_concat(self.nid, nid, seed_shares[i], sk1_shares[i])
            dsts.append(nid)
            ciphertexts.append(encrypt(key, plaintext))
        return dsts, ciphertexts

    def mask(self, srcs, ciphertexts, num_examples, parameters, skip_pair=None):
        """The masked, quantized vector (a list of int64 arrays), before serialization."""
        for src, ciphertext in zip(srcs, ciphertexts, strict=True):
            owner, dst, seed_share, sk1_share = share_keys_plaintext_separate(
                decrypt(self.ss2[src], ciphertext)
            )
            assert owner == src and dst == self.nid, "misrouted share"
            self.seed_shares[src], self.sk1_shares[src] = seed_share, sk1_share

        q_ratio = round(num_examples / MAX_WEIGHT * QUANTIZATION_RANGE)
        parameters = parameters_multiply(parameters, q_ratio / QUANTIZATION_RANGE)
        quantized = quantize(parameters, CLIPPING_RANGE, QUANTIZATION_RANGE)
        quantized = factor_combine(q_ratio, quantized)
        self.quantized = quantized
        shapes = get_parameters_shape(quantized)

        self_mask = pseudo_rand_gen(self.rd_seed, MODULUS_RANGE, shapes)
        masked = parameters_addition(quantized, self_mask)
        for nid in srcs:
            if nid == skip_pair:  # negative control only
                continue
            key = generate_shared_key(
                bytes_to_private_key(self.sk1), bytes_to_public_key(self.public_keys[nid][0])
            )
            pairwise = pseudo_rand_gen(key, MODULUS_RANGE, shapes)
            if self.nid > nid:
                masked = parameters_addition(masked, pairwise)
            else:
                masked = parameters_subtraction(masked, pairwise)
        return parameters_mod(masked, MODULUS_RANGE)

    def unmask(self, active, dead):
        """The seed shares of active neighbours (and the sk1 shares of dropped ones)."""
        shares = [self.seed_shares[nid] for nid in active]
        shares += [self.sk1_shares[nid] for nid in dead]
        return active + dead, shares


def run_round(graph, n, d, seed, break_mask=None):
    """One round; returns its record (seconds per phase, verification)."""
    rng = np.random.default_rng(seed)
    random.seed(seed)  # the server's shuffle (Flower uses `random`)
    np.random.seed(seed)  # stochastic rounding in quantize() draws from numpy's global state
    node_ids = random.sample(range(1, 2**63), n)
    inputs = {nid: [(0.05 * rng.standard_normal(d)).astype(np.float32)] for nid in node_ids}
    examples = {nid: random.randint(100, 1000) for nid in node_ids}
    victim = node_ids[0]  # the client the negative control tampers with

    clock = Clock()
    wall0, cpu0 = time.perf_counter(), time.process_time()

    # Setup: the server fixes the graph, the clients make their keys.
    with clock("s_setup"):
        num_shares, threshold = shares_and_threshold(graph, n)
        order = list(node_ids)
        random.shuffle(order)
        half = num_shares >> 1
        neighbours = {
            nid: {order[(i + k) % n] for k in range(-half, half + 1)}
            for i, nid in enumerate(order)
        }
    clients = {nid: Client(nid, num_shares, threshold) for nid in node_ids}
    public_keys = {}
    for nid in node_ids:
        with clock("c_setup"):
            public_keys[nid] = clients[nid].setup()

    # Share keys: each client encrypts a share of its seed and sk1 for each neighbour.
    inbox = {nid: ([], []) for nid in node_ids}  # destination -> (sources, ciphertexts)
    for nid in node_ids:
        with clock("s_route"):
            keys = {m: public_keys[m] for m in neighbours[nid]}
        with clock("c_share_keys"):
            dsts, ciphertexts = clients[nid].share_keys(keys)
        with clock("s_route"):
            for dst, c in zip(dsts, ciphertexts, strict=True):
                inbox[dst][0].append(nid)
                inbox[dst][1].append(c)

    # Masking: each client uploads its masked vector, the server sums them.
    uploads = {}
    for nid in node_ids:
        skip = inbox[nid][0][0] if break_mask == "pairwise" and nid == victim else None
        with clock("c_mask"):
            masked = clients[nid].mask(*inbox[nid], examples[nid], inputs[nid], skip)
        with clock("c_serialize"):
            uploads[nid] = [ndarray_to_bytes(a) for a in masked]
    with clock("s_collect"):
        total = None
        for nid in node_ids:
            vec = [bytes_to_ndarray(b) for b in uploads[nid]]
            total = vec if total is None else parameters_addition(total, vec)
        total = parameters_mod(total, MODULUS_RANGE)
    upload_head = bytes_to_ndarray(uploads[victim][1])[:64]
    del uploads

    # Unmask: the server rebuilds every seed from the shares and removes the self masks.
    collected = {nid: [] for nid in node_ids}
    for nid in node_ids:
        with clock("c_unmask"):
            owners, shares = clients[nid].unmask(list(neighbours[nid]), [])
        with clock("s_unmask"):
            for owner, share in zip(owners, shares, strict=True):
                collected[owner].append(share)
    for nid, shares in collected.items():
        assert len(shares) >= threshold
        with clock("s_combine"):
            seed_bytes = combine_shares(shares)
        with clock("s_unmask"):
            if break_mask == "self" and nid == victim:  # negative control only
                seed_bytes = bytes([seed_bytes[0] ^ 1]) + seed_bytes[1:]
            self_mask = pseudo_rand_gen(seed_bytes, MODULUS_RANGE, get_parameters_shape(total))
            total = parameters_subtraction(total, self_mask)
    with clock("s_unmask"):
        aggregate_q = parameters_mod(total, MODULUS_RANGE)
        q_total, quantized_sum = factor_extract(aggregate_q)
        aggregate = dequantize(quantized_sum, CLIPPING_RANGE, QUANTIZATION_RANGE)
        for vec in aggregate:
            vec += -(n - 1) * CLIPPING_RANGE
            vec *= QUANTIZATION_RANGE / q_total
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    # Verification (not timed).
    expected = None
    for nid in node_ids:
        q = [a.astype(np.int64) for a in clients[nid].quantized]
        expected = q if expected is None else parameters_addition(expected, q)
    expected = parameters_mod(expected, MODULUS_RANGE)
    exact_sum = all(np.array_equal(a, b) for a, b in zip(aggregate_q, expected, strict=True))
    masked_differs = not np.array_equal(upload_head, clients[victim].quantized[1][:64])
    # the weights the protocol really applies: each client's quantized num_examples / max_weight
    weights = np.array([round(examples[nid] / MAX_WEIGHT * QUANTIZATION_RANGE) for nid in node_ids])
    weights = weights / weights.sum()
    reference = sum(w * inputs[nid][0].astype(np.float64) for w, nid in zip(weights, node_ids))
    max_abs_err = float(np.max(np.abs(aggregate[0] - reference)))

    s = clock.s
    client_s = sum(s[p] for p in CLIENT_PHASES)
    server_s = sum(s[p] for p in SERVER_PHASES)
    return {
        "graph": graph,
        "n": n,
        "d": d,
        "num_shares": num_shares,
        "threshold": threshold,
        "seed": seed,
        "client_s": client_s,
        "per_client_s": client_s / n,
        "server_s": server_s,
        "total_s": client_s + server_s,
        "key_setup_s": s["c_setup"] + s["c_share_keys"],
        "masking_s": s["c_mask"],
        "combine_s": s["s_combine"],
        "phases": {p: round(s[p], 6) for p in CLIENT_PHASES + SERVER_PHASES},
        "exact_sum": exact_sum,
        "masked_differs": masked_differs,
        "max_abs_err": max_abs_err,
        "ok": bool(exact_sum and masked_differs and max_abs_err < 1e-4),
        "break_mask": break_mask,
        "cpu_over_wall": round(cpu / wall, 3),  # about 1 when the round had a core to itself
    }


def fmt_d(d):
    k = len(str(d)) - 1
    return f"10^{k}" if d == 10**k and k >= 2 else str(d)


def table(rows):
    """Markdown table of the medians per (graph, n, d)."""
    cells = defaultdict(list)
    for r in rows:
        cells[(r["graph"], r["n"], r["d"])].append(r)
    lines = [
        "| graph | n | d | shares / thr | reps | client s (sum) | per client s | server s "
        "| total s | key setup s | masking s | combine s | verified |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    cols = ("client_s", "per_client_s", "server_s", "total_s", "key_setup_s", "masking_s",
            "combine_s")
    for (graph, n, d), rs in sorted(cells.items(), key=lambda kv: (kv[0][0] != "full", kv[0][1:])):
        medians = [f"{statistics.median(r[c] for r in rs):.4g}" for c in cols]
        verified = "yes" if all(r["ok"] for r in rs) else "NO"
        shares = f"{rs[0]['num_shares']}/{rs[0]['threshold']}"
        lines.append(f"| {graph} | {n} | {fmt_d(d)} | {shares} | {len(rs)} | "
                     + " | ".join(medians) + f" | {verified} |")
    return "\n".join(lines)


def read_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graph", nargs="+", choices=("full", "sparse"), default=["sparse", "full"])
    ap.add_argument("--n", type=int, nargs="+", default=[10, 50, 100], help="clients (>= 3)")
    ap.add_argument("--d", type=int, nargs="+", default=[10**4, 10**5, 10**6],
                    help="vector length")
    ap.add_argument("--reps", type=int, default=3, help="rounds per cell")
    ap.add_argument("--break-mask", choices=("pairwise", "self"),
                    help="negative control: drop one pairwise mask, or unmask one self mask "
                    "with a wrong seed; every round must then fail its verification")
    ap.add_argument("--summarize", metavar="FILE",
                    help="print the median table of the JSON lines in FILE")
    args = ap.parse_args()

    if args.summarize:
        print(table(read_rows(args.summarize)))
        return 0
    if min(args.n) < 3 or min(args.d) < 1 or args.reps < 1:
        ap.error("need n >= 3, d >= 1, reps >= 1")

    print(f"# flwr {flwr.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs",
          file=sys.stderr)
    run_round("sparse", 3, 100, seed=0)  # warm-up, not reported
    rows = []
    for graph in args.graph:
        for n in args.n:
            for d in args.d:
                for rep in range(args.reps):
                    seed = 1000 * rep + n + d
                    r = run_round(graph, n, d, seed, break_mask=args.break_mask)
                    r["rep"] = rep
                    rows.append(r)
                    print(json.dumps(r), flush=True)
    print()
    print(table(rows))

    failed = [r for r in rows if not r["ok"]]
    if args.break_mask:
        if len(failed) == len(rows):
            print(f"# negative control ({args.break_mask}): every round failed its "
                  "verification, as it must", file=sys.stderr)
            return 0
        print(f"# negative control ({args.break_mask}): a tampered round PASSED its "
              "verification", file=sys.stderr)
        return 1
    if failed:
        print(f"# VERIFICATION FAILED in {len(failed)} round(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
