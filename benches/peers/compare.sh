#!/usr/bin/env bash
# ppml against PyTorch / Opacus on the same training-step workload, in one sitting: the two
# benchmarks take turns (ppml, peer, ppml, peer, ...) so that a drift in the machine's speed
# hits both, then the medians over the rounds and the ratios ppml / peer are printed as a
# Markdown table. Run from the repository root on a quiet machine:
#
#   python3 -m venv .venv-peers && .venv-peers/bin/pip install -r benches/peers/requirements.txt
#   cargo build --release
#   bash benches/peers/compare.sh            # ROUNDS=2 by default; about 2 minutes
#
# Environment: PPML (the binary, default target/release/ppml), PY (the peers' Python, default
# .venv-peers/bin/python), ROUNDS, OUT (the folder for the JSON files, default a fresh temporary
# one), BACKEND (ppml's backend, default flex).
set -euo pipefail
cd "$(dirname "$0")/../.."
PPML=${PPML:-target/release/ppml}
PY=${PY:-.venv-peers/bin/python}
ROUNDS=${ROUNDS:-2}
BACKEND=${BACKEND:-flex}
OUT=${OUT:-$(mktemp -d)}
if [ ! -x "$PPML" ]; then
  echo "compare.sh: no ppml binary at $PPML; run cargo build --release, or set PPML" >&2; exit 2
fi
if ! "$PY" -c "import torch, opacus" 2>/dev/null; then
  echo "compare.sh: $PY cannot import torch and opacus; create the venv (see the header), or set PY" >&2
  exit 2
fi
mkdir -p "$OUT"
echo "# $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); results in $OUT"
for round in $(seq "$ROUNDS"); do
  "$PPML" --quiet bench train --backend "$BACKEND" --model mlp,cnn --mode plain,dp \
    --batch-size 256 --steps 40 --json "$OUT/ppml-$round.json"
  "$PY" benches/peers/train_step.py --json "$OUT/peer-$round.json"
done
python3 benches/peers/train_step.py --summarize "$OUT"
