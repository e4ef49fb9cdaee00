#!/usr/bin/env python3
"""PyTorch on the case of `ppml bench dlg`: DLG gradient inversion (Zhu, Liu & Han 2019).

The attacker sees the gradient a victim model leaked on one true batch and looks for a dummy
batch whose gradient matches it. The case is the one ppml measures (src/attacks/gradient/bench/):

  * victim: the MLP 784-256-10 with sigmoid, PyTorch's default initialisation, seed `s`;
  * the true batch: images x ~ U[0, 1) of shape [batch, 1, 28, 28] and labels uniform in
    0..9 (seed s + 100); the leaked gradient is that of the mean cross-entropy;
  * the attacker's start: dummy images x' and dummy label logits l', both ~ N(0, 1)
    (seed s + 200);
  * the objective: sum over parameters of |grad_theta CE(x', softmax(l')) - leaked|^2, the
    inner gradient from autograd.grad(create_graph=True), the outer backward only into x'
    and l' (the victim's parameters are fixed);
  * the optimiser: torch.optim.LBFGS(lr=1, history_size=100, line_search_fn="strong_wolfe"),
    other settings default, `step` called until a stop.

Two measurements, as ppml makes them:

  * evaluation time: 5 untimed and then 50 timed evaluations of the objective and its
    gradient (forward, first backward with graph, second backward) at the start of seed 0;
    the median;
  * the attack, per seed 0, 1, 2: L-BFGS until an *accepted* iterate (not a line-search
    trial point) has image MSE < 1e-4, or until 300 evaluations; at batch > 1 the MSE is the
    best over the orders of the dummies. The evaluations made and the seconds until then,
    without the time of the MSE checks.

The random streams are torch's and ppml's are its own, so the two start from different points
of the same distributions: evaluation times compare pair by pair, evaluation counts do not.

Usage (from benches/dlg_vs_pytorch.sh, which also runs ppml and prints the ratios):
  python benches/peers/dlg.py --out torch.json
  python benches/peers/dlg.py --batches 1 --seeds 1 --evals 5 --out /tmp/smoke.json  # seconds
"""

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIDE, CLASSES = 28, 10


def dlg_case(batch, seed):
    """The victim, its leaked gradient, the true images and the attacker's starting dummies."""
    torch.manual_seed(seed)  # PyTorch's default init, drawn from the global generator
    victim = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 256), nn.Sigmoid(), nn.Linear(256, CLASSES))
    params = list(victim.parameters())

    data = torch.Generator().manual_seed(seed + 100)
    x_true = torch.rand((batch, 1, SIDE, SIDE), generator=data)
    y_true = torch.randint(0, CLASSES, (batch,), generator=data)
    leaked = [g.detach() for g in torch.autograd.grad(F.cross_entropy(victim(x_true), y_true), params)]

    start = torch.Generator().manual_seed(seed + 200)
    dummy_x = torch.randn((batch, 1, SIDE, SIDE), generator=start).requires_grad_(True)
    dummy_l = torch.randn((batch, CLASSES), generator=start).requires_grad_(True)
    return victim, params, leaked, x_true, dummy_x, dummy_l


def matching_loss(victim, params, leaked, dummy_x, dummy_l, create_graph):
    """The DLG objective: CE with soft labels softmax(l'), its gradient, the squared distance."""
    pred = victim(dummy_x)
    ce = torch.mean(torch.sum(-F.softmax(dummy_l, dim=-1) * F.log_softmax(pred, dim=-1), dim=-1))
    grads = torch.autograd.grad(ce, params, create_graph=create_graph)
    return sum(((g - t) ** 2).sum() for g, t in zip(grads, leaked))


def make_closure(victim, params, leaked, dummy_x, dummy_l):
    """One evaluation, what L-BFGS calls: the objective and its gradient in the dummies."""
    def closure():
        dummy_x.grad = dummy_l.grad = None
        loss = matching_loss(victim, params, leaked, dummy_x, dummy_l, create_graph=True)
        loss.backward(inputs=[dummy_x, dummy_l])
        return loss.detach()
    return closure


def image_mse(dummy_x, x_true):
    """Image MSE, best order of the dummies and their own order."""
    b = x_true.shape[0]
    d, t = dummy_x.detach().reshape(b, -1), x_true.reshape(b, -1)
    pair = ((d[:, None, :] - t[None, :, :]) ** 2).mean(dim=2).tolist()  # pair[i][j]: dummy i, image j
    best = min(sum(pair[i][p[i]] for i in range(b)) for p in itertools.permutations(range(b))) / b
    return best, sum(pair[i][i] for i in range(b)) / b


def time_summary(seconds):
    """Median, extremes and the 10th/90th percentiles (nearest rank, as ppml)."""
    s = sorted(seconds)
    q = lambda f: s[min(len(s) - 1, int(f * (len(s) - 1) + 0.5))]  # noqa: E731
    return {"evaluations": len(s), "median_s": statistics.median(s), "min_s": s[0], "max_s": s[-1],
            "p10_s": q(0.1), "p90_s": q(0.9)}


def time_evaluations(batch, warmup, evals):
    """Seconds of `evals` evaluations at the start of seed 0, after `warmup` untimed ones."""
    victim, params, leaked, _, dummy_x, dummy_l = dlg_case(batch, 0)
    closure = make_closure(victim, params, leaked, dummy_x, dummy_l)
    seconds = []
    for i in range(warmup + evals):
        t0 = time.perf_counter()
        closure()
        if i >= warmup:
            seconds.append(time.perf_counter() - t0)
    return seconds


class Stop(Exception):
    """Ends an attack run from inside LBFGS.step."""


class WatchedLBFGS(torch.optim.LBFGS):
    """LBFGS that calls `on_accept` at every accepted iterate.

    With the strong-Wolfe search, LBFGS.step tries points through _directional_evaluate (add
    t*d, evaluate, restore) and then moves to the chosen one with _add_grad. So an _add_grad
    outside _directional_evaluate is an accepted step."""

    def __init__(self, params, on_accept, **settings):
        super().__init__(params, **settings)
        self.on_accept, self.searching = on_accept, False

    def _directional_evaluate(self, closure, x, t, d):
        self.searching = True
        try:
            return super()._directional_evaluate(closure, x, t, d)
        finally:
            self.searching = False

    def _add_grad(self, step_size, update):
        super()._add_grad(step_size, update)
        if not self.searching:
            self.on_accept()


def attack(batch, seed, max_evals, threshold):
    """One attack run: L-BFGS until the image MSE < threshold or `max_evals` evaluations."""
    victim, params, leaked, x_true, dummy_x, dummy_l = dlg_case(batch, seed)
    closure = make_closure(victim, params, leaked, dummy_x, dummy_l)
    run = {"evals": 0, "eval_s": [], "iterations": 0, "steps": 0, "opening": False, "reached": None,
           "checks_s": 0.0, "last": (dummy_x.detach().clone(), dummy_l.detach().clone())}

    def counted_closure():
        if run["evals"] >= max_evals:  # the next evaluation asked for ends the run
            raise Stop
        run["evals"] += 1
        if run["opening"]:  # each step first evaluates the current point
            run["steps"], run["opening"] = run["steps"] + 1, False
        t0 = time.perf_counter()
        loss = closure()
        run["eval_s"].append(time.perf_counter() - t0)
        return loss

    def on_accept():  # the MSE check; its time is taken out of the run's
        t0 = time.perf_counter()
        run["iterations"] += 1
        run["last"] = (dummy_x.detach().clone(), dummy_l.detach().clone())
        below = image_mse(dummy_x, x_true)[0] < threshold
        if below:
            run["reached"] = (run["evals"], t0 - started - run["checks_s"])
        run["checks_s"] += time.perf_counter() - t0
        if below:
            raise Stop

    opt = WatchedLBFGS([dummy_x, dummy_l], on_accept, lr=1, history_size=100, line_search_fn="strong_wolfe")
    started = time.perf_counter()
    try:
        while True:
            run["opening"] = True
            if not math.isfinite(float(opt.step(counted_closure))):
                break
    except Stop:
        pass
    seconds = time.perf_counter() - started - run["checks_s"]
    # A cap met inside a line search leaves the dummies at a trial point: report the last
    # accepted iterate instead, as ppml does.
    last_x, last_l = run["last"]
    best, identity = image_mse(last_x, x_true)
    evals_to, seconds_to = run["reached"] or (None, None)
    return {
        "batch": batch, "seed": seed, "max_evals": max_evals, "reached": run["reached"] is not None,
        "evals_to_threshold": evals_to, "seconds_to_threshold": seconds_to,
        "lbfgs_iterations": run["iterations"], "torch_steps": run["steps"], "evals_total": run["evals"],
        "seconds_total": seconds, "seconds_in_evaluations": sum(run["eval_s"]),
        "in_run_eval_median_ms": 1e3 * statistics.median(run["eval_s"]) if run["eval_s"] else None,
        "final_mse_best_order": best, "final_mse_identity_order": identity,
        "final_matching_loss": float(matching_loss(victim, params, leaked, last_x, last_l, False)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,4", help="batch sizes, comma-separated (default 1,4)")
    ap.add_argument("--seeds", type=int, default=3, help="attack runs per batch size, seeds 0, 1, ...")
    ap.add_argument("--max-evals", type=int, default=300, help="evaluations an attack run may make")
    ap.add_argument("--threshold", type=float, default=1e-4, help="image MSE that ends an attack")
    ap.add_argument("--warmup", type=int, default=5, help="untimed evaluations first")
    ap.add_argument("--evals", type=int, default=50, help="timed evaluations")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--out", required=True, help="write the JSON figures here")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    torch.set_num_threads(args.threads)
    meta = {"python": platform.python_version(), "torch": torch.__version__,
            "torch_num_threads": torch.get_num_threads(),
            "torch_num_interop_threads": torch.get_num_interop_threads(),
            "os_cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
            "settings": {k: getattr(args, k) for k in ("seeds", "max_evals", "threshold", "warmup", "evals")}}
    result = {"meta": meta, "dlg_closure": [], "dlg_attack": []}

    for b in batches:
        timing = dict(time_summary(time_evaluations(b, args.warmup, args.evals)), batch=b)
        result["dlg_closure"].append(timing)
        print(f"batch {b}: {1e3 * timing['median_s']:.3f} ms per evaluation (median of {args.evals}; "
              f"p10 {1e3 * timing['p10_s']:.3f}, p90 {1e3 * timing['p90_s']:.3f})", flush=True)
    for b in batches:
        for seed in range(args.seeds):
            r = attack(b, seed, args.max_evals, args.threshold)
            result["dlg_attack"].append(r)
            to = (f"MSE < {args.threshold:g} after {r['evals_to_threshold']} evaluations, "
                  f"{r['seconds_to_threshold']:.4f} s" if r["reached"] else
                  f"not reached in {r['evals_total']} evaluations, MSE {r['final_mse_best_order']:.3g}")
            print(f"batch {b} seed {seed}: {to}", flush=True)

    meta["loadavg_at_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
