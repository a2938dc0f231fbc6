"""Scaling on the shapes world: oracle accuracy against NFEs for search and for more steps."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import tsearch
from tsearch.bench.common import best_of_prefix, more_steps, table
from tsearch.models import load_model
from tsearch.search import Costs
from tsearch.verifiers import load_verifier
from tsearch.verifiers.ensemble import MeanRank
from tsearch.worlds.shapes import grammar
from tsearch.verifiers.shapes_oracle import passed as oracle_passed


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench scaling --world shapes")
    p.add_argument("--per-category", type=int, default=1, help="captions per category (6 categories); 1 takes about 20 min on one core")
    p.add_argument("--steps", type=int, default=None, help="denoising steps per candidate (default: the model's)")
    p.add_argument("--budgets", type=int, nargs="+", default=[1, 4, 16, 64], help="budgets in candidates")
    p.add_argument("--search-budgets", type=int, nargs="+", default=[16, 64], help="budgets for zero-order and paths")
    p.add_argument("--skip", nargs="*", default=[], choices=["steps", "zero-order", "paths", "quality"],
                   help="leave these rows out to save time")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


def _ok(evals) -> bool:
    """The first evaluator is the shapes oracle: did it pass?"""
    return oracle_passed(evals[0])


def run(argv) -> dict:
    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    captions = [(c, grammar.random_caption(rng, c)) for c in grammar.CATEGORIES for _ in range(args.per_category)]
    model = load_model("shapes", device=args.device)
    clip, oracle = load_verifier("shapes-clip", device=args.device), load_verifier("shapes-oracle")
    quality = None if "quality" in args.skip else load_verifier("shapes-quality", device=args.device)
    steps = args.steps or model.default_steps
    cost = Costs(model.default_solver, model.nfe_per_eval).full(steps)
    budgets, top = sorted(args.budgets), max(args.budgets)
    rows: dict[str, dict[int, list]] = {}
    per_cat: dict[str, dict[int, dict[str, list]]] = {}
    per_caption: list[dict] = []   # every outcome, so runs with other seeds can be pooled

    def record(name, k, category, ok):
        rows.setdefault(name, {}).setdefault(k, []).append(ok)
        per_cat.setdefault(name, {}).setdefault(k, {}).setdefault(category, []).append(ok)
        per_caption[-1]["ok"].setdefault(name, {})[str(k)] = bool(ok)

    start = time.perf_counter()
    for i, (category, caption) in enumerate(captions):
        per_caption.append({"caption": caption, "category": category, "ok": {}})
        verifiers = [clip] + ([quality] if quality else [])
        result = tsearch.search(model=model, prompt=caption, verifiers=verifiers, evaluators=[oracle], algorithm="random",
                                budget=top * cost, steps=steps, seed=args.seed * 1000 + i, batch_size=args.batch_size)
        h = result.history
        raw = np.array([[s if s is not None else np.nan for s in row["scores"].values()] for row in h])
        oks = [_ok(row["evals"]) for row in h]
        for k in budgets:
            record("random + shapes-clip", k, category, oks[best_of_prefix(raw[:, 0], k)])
            if quality:
                record("random + shapes-quality", k, category, oks[best_of_prefix(raw[:, 1], k)])
                record("random + ensemble (mean rank)", k, category, oks[int(MeanRank(raw.shape[1]).update(torch.from_numpy(raw[:k])).argmax())])
            if "steps" not in args.skip:
                image = more_steps(model, caption, h[0]["recipe"][0]["seed"], steps * k)  # candidate 0's noise
                record("more steps, no search", k, category, _ok(oracle.score(image, caption).tolist()))
        for name in ("zero-order", "paths"):
            if name in args.skip:
                continue
            for k in args.search_budgets:
                options = {"n": 2, "m": 4, "L": 5} if name == "paths" else {"n": 4, "lam": 0.9}
                found = tsearch.search(model=model, prompt=caption, verifiers=[clip], evaluators=[oracle], algorithm=name,
                                       budget=k * cost, steps=steps, seed=args.seed * 1000 + i, batch_size=args.batch_size,
                                       **options)
                best = next(row for row in found.history if row["id"] == found.best_id)
                record(f"{name} + shapes-clip", k, category, _ok(best["evals"]))
        done = time.perf_counter() - start
        print(f"[{i + 1}/{len(captions)}] {caption!r}: {done:.0f}s elapsed", flush=True)

    columns = [f"{k}" for k in budgets]
    overall = [(name, [100 * np.mean(by_k[k]) if k in by_k else None for k in budgets]) for name, by_k in rows.items()]
    print()
    print(table(f"oracle accuracy (%) on {len(captions)} captions; columns: budget in candidates "
                f"(x {cost} NFEs; {steps} steps{', CFG' if model.nfe_per_eval == 2 else ''})", columns, overall))
    for name in ("random + shapes-clip", "more steps, no search"):
        if name not in per_cat:
            continue
        cats = [(c, [100 * np.mean(per_cat[name][k][c]) if c in per_cat[name].get(k, {}) else None for k in budgets])
                for c in grammar.CATEGORIES]
        print()
        print(table(f"{name}: accuracy (%) per category", columns, cats))
    print(f"\n{time.perf_counter() - start:.0f} s in all on {args.device}")
    return {"json": args.json, "captions": captions, "cost": cost, "steps": steps,
            "overall": {name: dict(zip(columns, values)) for name, values in overall}, "per_caption": per_caption}
