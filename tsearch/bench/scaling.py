"""`python -m tsearch.bench scaling --world shapes|digits`: search methods against NFEs, as one sweep.

A thin wrapper over `tsearch.sweep` (issue 11: one mechanism). It writes the sweep's prompts and
spec into `--out`, runs its cells with the local backend (rerun the same command to resume: finished
cells are skipped), and prints `tsearch report`'s tables, restricted to this sweep's cells:
- shapes: captions drawn from the grammar, cycling through the six GenEval-style categories; the
  shapes-clip verifier; the shapes oracle judges the returned sample (accuracy per method x budget);
- digits: every class x `--per-class` seeds; the digits classifier as verifier; the report's
  Inception-Score and FID analogues over each group's best images (verifier hacking).
Budgets are in NFEs, the same x-axis for every method (the engine's exact count). `--methods all`
runs every registered algorithm. It also writes `report.html` and `accuracy.png` (or `fid.png`).
Nothing here is a test; `tests/test_bench.py` runs it at a tiny size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from tsearch import jsonio

# The settings the benchmark pages' figures used for the paper's methods; every other method runs with its defaults.
OPTIONS = {"zero-order": {"n": 4, "lam": 0.9}, "paths": {"n": 2, "m": 4, "L": 5},
           "steps": {"label": "more steps, no search"}}
WORLDS = {
    "shapes": {"model": "shapes", "verifiers": ["shapes-clip"], "evaluators": ["shapes-oracle"],
               "budgets": [40, 160, 640, 2560], "methods": ["random", "steps", "zero-order", "paths"],
               "headline": "accuracy % (shapes-oracle)", "png": "accuracy.png"},
    "digits": {"model": "digits", "verifiers": ["digits-classifier"], "evaluators": [],
               "budgets": [20, 80, 320, 1280], "methods": ["random", "zero-order"],
               "headline": "FID (digits)", "png": "fid.png"},
}


def _parse(argv):
    from tsearch.search import ALGORITHMS

    p = argparse.ArgumentParser(prog="python -m tsearch.bench scaling",
                                description="Methods x NFE budgets on a bundled world, run as a resumable sweep.")
    p.add_argument("--world", required=True, choices=sorted(WORLDS))
    p.add_argument("--captions", type=int, default=6, help="shapes: captions, cycling through the six categories")
    p.add_argument("--per-category", type=int, default=None, help="shapes: captions per category (instead of --captions)")
    p.add_argument("--split", choices=["easy", "hard"], default="easy",
                   help="shapes: easy = the six categories (default); hard = colour attribution, position and "
                        "counting of three or four, distinct captions (tsearch.worlds.shapes.grammar.split_captions)")
    p.add_argument("--per-class", type=int, default=5, help="digits: seeds per class (10 classes)")
    p.add_argument("--budgets", type=int, nargs="+", default=None,
                   help="budgets in NFEs (shapes default 40 160 640 2560 = 1-64 candidates at 20 steps with CFG; "
                        "digits 20 80 320 1280)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps per candidate (default: the model's)")
    p.add_argument("--solver", default=None, help="ODE solver (default: the model's)")
    p.add_argument("--methods", nargs="+", default=None, choices=[*ALGORITHMS, "all"],
                   help="algorithms to compare (default: shapes random steps zero-order paths; digits random "
                        "zero-order); all: every registered algorithm")
    p.add_argument("--verifiers", nargs="+", default=None, metavar="SET",
                   help="verifier sets to compare, a set's names joined by + (e.g. shapes-clip shapes-quality "
                        "shapes-clip+shapes-quality: the last is their mean-rank ensemble); default the world's")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (give one on a shared machine)")
    p.add_argument("--seed", type=int, default=0, help="draws the captions, and is the searches' seed")
    p.add_argument("--out", default=None, help="the sweep folder (default out/bench-scaling-WORLD); rerun to resume")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    world = WORLDS[args.world]
    methods = args.methods or world["methods"]
    args.methods = list(ALGORITHMS) if "all" in methods else list(dict.fromkeys(methods))
    args.budgets = sorted(set(args.budgets or world["budgets"]))
    args.out = Path(args.out or f"out/bench-scaling-{args.world}")
    return args


def _prompts(args) -> list[dict]:
    from tsearch.worlds.shapes import grammar

    if getattr(args, "split", "easy") == "hard":
        return grammar.split_captions("hard", args.captions, args.seed)
    rng = np.random.default_rng(args.seed)
    count = args.per_category * len(grammar.CATEGORIES) if args.per_category else args.captions
    order = grammar.CATEGORIES
    if args.per_category:   # grouped by category, as docs/benchmarks/search-vs-steps.md's tables were drawn
        order = [c for c in grammar.CATEGORIES for _ in range(args.per_category)]
    categories = [order[i % len(order)] for i in range(count)]
    return [{"prompt": grammar.random_caption(rng, c), "category": c} for c in categories]


def spec_of(args) -> dict:
    """The sweep spec (as tomllib would give it) for these flags; its prompts file is written into --out
    (which exists)."""
    world = WORLDS[args.world]
    verifiers = [v.split("+") for v in args.verifiers] if args.verifiers else world["verifiers"]
    spec = {"name": f"bench-scaling-{args.world}", "model": world["model"], "verifiers": verifiers,
            "evaluators": world["evaluators"], "budgets": args.budgets, "batch_size": args.batch_size,
            "device": args.device}
    if args.steps:
        spec["steps"] = args.steps
    if args.solver:
        spec["solver"] = args.solver
    if args.world == "shapes":
        lines = [jsonio.dumps(row) for row in _prompts(args)]
        (args.out / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        spec.update(prompts_file="prompts.jsonl", seeds=[args.seed])
    else:
        spec.update(classes=list(range(10)), seeds=[args.seed * 1000 + j for j in range(args.per_class)])
    spec["algorithm"] = [{"name": m, **OPTIONS.get(m, {})} for m in args.methods]
    return spec


def run(argv) -> dict:
    from tsearch.sweep import parse_spec, run_sweep
    from tsearch.sweep import report as reports

    args = _parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    spec = spec_of(args)
    (args.out / "spec.json").write_text(jsonio.dumps(spec, indent=1), encoding="utf-8")
    sweep = parse_spec(spec, base=args.out, default_name=spec["name"])
    start = time.perf_counter()
    outcome = run_sweep(sweep, args.out, threads=args.threads, progress=sys.stderr.isatty(),
                        keep_going=True)   # a method the smallest budget cannot buy is a "-" in the table
    wall = time.perf_counter() - start
    report = reports.build(args.out, keys={cell.key for cell in sweep.cells})
    print(reports.render_text(report))
    html = reports.write_html(report, args.out / "report.html")
    headline = WORLDS[args.world]["headline"]
    overall = {}
    for group in report["groups"]:
        value = group.values.get(headline)
        overall.setdefault(group.method, {})[str(group.budget)] = None if value is None else value[0]
    png = args.out / WORLDS[args.world]["png"]
    _draw(overall, args.budgets, f"{args.world}: {headline} vs NFEs ({len(sweep.cells)} cells)", headline, png)
    print(f"\n{outcome.ran} cells ran, {outcome.skipped} were already done, {outcome.failed} failed; "
          f"{wall:.0f} s on {args.device}. Wrote {html} and {png}; the command again resumes.")
    result = {"world": args.world, "out": str(args.out), "spec": spec, "headline": headline, "overall": overall,
              "cells": len(sweep.cells), "ran": outcome.ran, "failed": outcome.failed, "seconds": wall,
              "columns": report["columns"],
              "table": [{"method": g.method, "budget": g.budget, "nfes": g.nfes, "cells": len(g.rows),
                         "failed": g.failed, **{c: g.values.get(c) for c in report["columns"]}}
                        for g in report["groups"]]}
    if args.json:
        Path(args.json).write_text(jsonio.dumps(result, indent=1), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return result


def _draw(overall: dict, budgets: list[int], title: str, label: str, path: Path) -> None:
    from tsearch.bench.charts import draw_png

    top = max([v for by in overall.values() for v in by.values() if v is not None] or [1.0])
    scale = 100.0 if label.startswith("accuracy") else max(1.0, float(np.ceil(top)))
    draw_png({m: {b: by.get(str(b)) for b in budgets} for m, by in overall.items()}, budgets, title, path,
             y_label=label, y_max=scale)


def main(argv=None) -> None:
    run(argv)
