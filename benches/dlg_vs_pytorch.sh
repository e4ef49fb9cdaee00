#!/usr/bin/env bash
# DLG speed, ppml beside PyTorch, in one sitting: alternating runs of `ppml bench dlg` and the
# PyTorch peer benches/peers/dlg.py. Both time the same case: the 784-256-10 sigmoid MLP,
# L-BFGS with a strong-Wolfe line search until image MSE < 1e-4, and 5 + 50 evaluations at
# the start point. Prints the medians over the runs and the ratios ppml / PyTorch at the end.
#
#   python3 -m venv .venv-peers && .venv-peers/bin/pip install -r benches/peers/requirements.txt
#   cargo build --release
#   bash benches/dlg_vs_pytorch.sh target/release/ppml .venv-peers/bin/python OUT_DIR [RUNS]
#
# RUNS defaults to 3. Run it on a quiet machine: torch on 2 threads slows down badly when
# another process holds a core (the DLG evaluation went from about 1 ms to over 200 ms).
set -euo pipefail
ppml=${1:?ppml binary (a release build)}
python=${2:?python with torch (benches/peers/requirements.txt)}
out=${3:?output folder}
runs=${4:-3}
peer=$(dirname "$0")/peers/dlg.py
mkdir -p "$out"
for i in $(seq 1 "$runs"); do
  "$ppml" bench dlg --batch 1,4 --seeds 3 --quiet --json "$out/ppml-$i.json" > "$out/ppml-$i.txt"
  "$python" "$peer" --out "$out/torch-$i.json" > "$out/torch-$i.txt"
done
"$python" - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
for b in (1, 4):
    ours = [next(r for r in json.load(open(f"{out}/ppml-{i}.json"))["results"]
                 if r["settings"]["batch"] == b) for i in range(1, runs + 1)]
    theirs = [next(c for c in json.load(open(f"{out}/torch-{i}.json"))["dlg_closure"] if c["batch"] == b)
              for i in range(1, runs + 1)]
    o = statistics.median(r["evaluation"]["median_ms"] for r in ours)
    t = statistics.median(1e3 * c["median_s"] for c in theirs)
    print(f"batch {b}: ms per evaluation, median of {runs} runs: ppml {o:.3f}, PyTorch {t:.3f}, ratio {o / t:.2f}")
    if b == 1:
        for i, r in enumerate(ours, 1):
            a = [(x["evals_to_threshold"], round(x["seconds_to_threshold"], 4)) for x in r["attacks"]]
            print(f"  ppml run {i}: (evaluations, seconds) to MSE < 1e-4 per seed: {a}")
        for i in range(1, runs + 1):
            a = [(x.get("evals_to_threshold"), x.get("seconds_to_threshold"))
                 for x in json.load(open(f"{out}/torch-{i}.json"))["dlg_attack"] if x["batch"] == 1]
            print(f"  PyTorch run {i}: {a}")
PY
