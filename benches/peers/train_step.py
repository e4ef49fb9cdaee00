#!/usr/bin/env python3
"""PyTorch and Opacus on the workload of `ppml bench train`, for ppml's speed tables.

The same training step as ppml's benchmark (src/train/bench.rs), on the same models:

  * data: float32 images x ~ U[0, 1) of shape [256, 1, 28, 28], labels uniform in 0..9;
    four fixed batches used in rotation;
  * models: the MLP 784-256-10 (ReLU) and the tanh CNN of Papernot et al. 2021 (conv 16@8x8
    stride 2 pad 3, max-pool 2 stride 1, conv 32@4x4 stride 2, max-pool 2 stride 1, dense 32,
    dense 10), PyTorch's default initialisation;
  * a step: zero the gradients, forward, mean cross-entropy, backward, SGD (lr 0.05, no
    momentum);
  * modes: `plain` (non-private) and `dp`, Opacus' fastest DP-SGD, grad_sample_mode="ghost"
    (fast gradient clipping), noise multiplier 1, max grad norm 1, flat clipping, a fixed batch
    (no Poisson sampling), as ppml's `dp` mode;
  * timing: warm-up steps, then at least --steps timed steps and at least --min-seconds; the
    median step time; samples/s = 256 / median.

Prints one line per model and mode in the layout of `ppml bench train`, and with --json writes
the figures. `--summarize DIR` reads the JSON files that `compare.sh` leaves in DIR (ppml's and
this script's) and prints the medians and the ratios ppml / peer.
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

BATCH = 256
LR = 0.05
NOISE_MULTIPLIER = 1.0
MAX_GRAD_NORM = 1.0


def models(nn):
    """The two models of ppml's speed table, by ppml's names."""
    mlp = lambda: nn.Sequential(  # noqa: E731
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    cnn = lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(1, 16, 8, stride=2, padding=3),  # 16 x 14 x 14
        nn.Tanh(),
        nn.MaxPool2d(2, 1),  # 16 x 13 x 13
        nn.Conv2d(16, 32, 4, stride=2),  # 32 x 5 x 5
        nn.Tanh(),
        nn.MaxPool2d(2, 1),  # 32 x 4 x 4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 32),
        nn.Tanh(),
        nn.Linear(32, 10),
    )
    return {"mlp": mlp, "cnn": cnn}


def step_function(torch, model_name, mode, batches):
    """One training step of `mode` on a fresh model."""
    nn = torch.nn
    torch.manual_seed(0)
    model = models(nn)[model_name]()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    if mode == "dp":
        import warnings

        from opacus import PrivacyEngine

        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=False
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, optimizer, criterion, _ = PrivacyEngine(accountant="rdp").make_private(
                module=model,
                optimizer=optimizer,
                data_loader=loader,
                noise_multiplier=NOISE_MULTIPLIER,
                max_grad_norm=MAX_GRAD_NORM,
                poisson_sampling=False,
                grad_sample_mode="ghost",
                criterion=criterion,
            )

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def time_mode(torch, model_name, mode, args):
    g = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.rand((BATCH, 1, 28, 28), generator=g),
            torch.randint(0, 10, (BATCH,), generator=g),
        )
        for _ in range(4)
    ]
    step = step_function(torch, model_name, mode, batches)
    for i in range(args.warmup):
        step(*batches[i % 4])
    times = []
    started = time.perf_counter()
    while len(times) < args.steps or time.perf_counter() - started < args.min_seconds:
        x, y = batches[len(times) % 4]
        t = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    return {
        "model": model_name,
        "mode": mode,
        "steps": len(times),
        "median_seconds": median,
        "samples_per_second": BATCH / median,
    }


def measure(args):
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    print("peer     model  mode     batch  median ms/step  samples/s")
    for model_name in args.models.split(","):
        for mode in args.modes.split(","):
            row = time_mode(torch, model_name, mode, args)
            rows.append(row)
            peer = "opacus" if mode == "dp" else "pytorch"
            print(
                f"{peer:<8} {model_name:<6} {mode:<8} {BATCH:>5}  "
                f"{row['median_seconds'] * 1e3:>14.2f}  {row['samples_per_second']:>9.0f}",
                flush=True,
            )
    if args.json:
        import opacus

        pathlib.Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "train-step-peer",
                    "torch": torch.__version__,
                    "opacus": opacus.__version__,
                    "threads": args.threads,
                    "dp": {
                        "grad_sample_mode": "ghost",
                        "noise_multiplier": NOISE_MULTIPLIER,
                        "max_grad_norm": MAX_GRAD_NORM,
                        "sampling": "fixed batch",
                    },
                    "results": rows,
                },
                indent=1,
            )
        )


def summarize(directory):
    """Medians over the rounds of compare.sh, and ppml / peer per model and mode."""
    ppml, peer = {}, {}
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("benchmark") == "train-step":
            for r in data["results"]:
                key = (r["model"], r["mode"])
                ppml.setdefault(key, []).append(r["timing"]["samples_per_second"])
        elif data.get("benchmark") == "train-step-peer":
            for r in data["results"]:
                peer.setdefault((r["model"], r["mode"]), []).append(r["samples_per_second"])
    print("| model | step | ppml samples/s (runs) | peer samples/s (runs) | peer | ratio |")
    print("|---|---|---|---|---|---|")
    for key in sorted(set(ppml) & set(peer)):
        a, b = statistics.median(ppml[key]), statistics.median(peer[key])
        runs = lambda v: " / ".join(f"{x:,.0f}" for x in v)  # noqa: E731
        name = "Opacus ghost" if key[1] == "dp" else "PyTorch"
        print(
            f"| {key[0]} | {key[1]} | **{a:,.0f}** ({runs(ppml[key])}) "
            f"| **{b:,.0f}** ({runs(peer[key])}) | {name} | {a / b:.2f}x |"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--modes", default="plain,dp")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (ppml uses every core)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40, help="least number of timed steps")
    ap.add_argument("--min-seconds", type=float, default=2.0, help="least time spent timing")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--summarize", metavar="DIR", help="summarise compare.sh's JSON files")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
    else:
        measure(args)


if __name__ == "__main__":
    sys.exit(main())
