"""Scaling on the digits world: IS- and FID-style metrics against NFEs, random vs zero-order search.

The paper's "verifier hacking" (PAPER.md): a classifier verifier raises the Inception Score as the
budget grows, while FID can eventually worsen as the samples collapse to the classifier's
favourite modes. Random best-of-k for k < K is read off the first k candidates of one K-candidate
search. FID here compares a few hundred samples with the held-out real digits: compare its values
across budgets, not with published FIDs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import tsearch
from tsearch.bench.common import best_of_prefix, table
from tsearch.models import load_model
from tsearch.regenerate import regenerate_tensor
from tsearch.search import Costs
from tsearch.verifiers import load_verifier
from tsearch.worlds.digits import metrics


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench scaling --world digits")
    p.add_argument("--per-class", type=int, default=5, help="samples per digit for each budget (5: about 18 min on one core)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--budgets", type=int, nargs="+", default=[1, 4, 16, 64], help="budgets in candidates")
    p.add_argument("--skip-zero-order", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    return p.parse_args(argv)


def run(argv) -> dict:
    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model("digits", device=args.device)
    verifier = load_verifier("digits-classifier", device=args.device)
    steps = args.steps or model.default_steps
    cost = Costs(model.default_solver, model.nfe_per_eval).full(steps)
    budgets, top = sorted(args.budgets), max(args.budgets)
    chosen: dict[str, dict[int, list[torch.Tensor]]] = {"random": {k: [] for k in budgets}, "zero-order": {k: [] for k in budgets}}
    start = time.perf_counter()
    for digit in range(10):
        for j in range(args.per_class):
            seed = args.seed * 100_000 + digit * 1000 + j
            result = tsearch.search(model=model, cls=digit, verifiers=[verifier], algorithm="random",
                                    budget=top * cost, steps=steps, seed=seed, batch_size=args.batch_size)
            scores = np.array([row["score"] for row in result.history])
            for k in budgets:
                row = result.history[best_of_prefix(scores, k)]
                chosen["random"][k].append(regenerate_tensor(model, digit, row["recipe"]))
            if args.skip_zero_order:
                continue
            for k in budgets:
                found = tsearch.search(model=model, cls=digit, verifiers=[verifier], algorithm="zero-order", budget=k * cost,
                                       steps=steps, seed=seed, batch_size=args.batch_size, n=4, lam=0.9)
                row = next(r for r in found.history if r["id"] == found.best_id)
                chosen["zero-order"][k].append(regenerate_tensor(model, digit, row["recipe"]))
        print(f"digit {digit}: {time.perf_counter() - start:.0f}s elapsed", flush=True)
    results = {}
    for name, by_k in chosen.items():
        if not by_k[budgets[0]]:
            continue
        results[name] = {k: (metrics.inception_score(torch.stack(v)), metrics.fid(torch.stack(v))) for k, v in by_k.items()}
    columns = [str(k) for k in budgets]
    n = 10 * args.per_class
    print()
    print(table(f"Inception-Score analogue (higher = more confident and diverse), {n} samples; columns: budget in candidates "
                f"(x {cost} NFEs)", columns, [(name, [r[k][0] for k in budgets]) for name, r in results.items()], "{:6.3f}"))
    print()
    print(table("FID analogue against held-out real digits (lower = closer to real)", columns,
                [(name, [r[k][1] for k in budgets]) for name, r in results.items()], "{:6.2f}"))
    print(f"\n{time.perf_counter() - start:.0f} s in all on {args.device}")
    return {"json": args.json, "cost": cost, "steps": steps, "samples": n,
            "results": {name: {str(k): {"is": v[0], "fid": v[1]} for k, v in r.items()} for name, r in results.items()}}
