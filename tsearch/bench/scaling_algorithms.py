"""`python -m tsearch.bench scaling-algorithms --world shapes`: every search algorithm at one NFE budget.

Issue 10: random, zero-order, paths, smc, prune, evolution and cem each search with the shapes-clip
verifier at each budget (in NFEs, the engine's exact count), and the sample each returns is judged by
the shapes oracle (the ground truth, never told to the search). Prints a table of oracle accuracy per
method x budget and writes `DIR/results.json` (every caption's outcome, to pool runs), an interactive
`DIR/scaling_algorithms.html` (plotly) and `DIR/scaling_algorithms.png` (plotly's kaleido when
installed, else drawn with PIL). A budget below a method's smallest search is shown as "-".
Nothing here is a test; `tests/test_new_algorithms.py` runs it at a tiny size.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from tsearch.verifiers.shapes_oracle import passed as oracle_passed

METHODS = ("random", "zero-order", "paths", "smc", "prune", "evolution", "cem")
# The shapes scaling bench's settings for the paper's methods; the new ones run with their defaults.
OPTIONS = {"zero-order": {"n": 4, "lam": 0.9}, "paths": {"n": 2, "m": 4, "L": 5}}


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench scaling-algorithms")
    p.add_argument("--world", default="shapes", choices=["shapes"])
    p.add_argument("--captions", type=int, default=6, help="captions, cycling through the six categories")
    p.add_argument("--budgets", type=int, nargs="+", default=[40, 160, 640], help="budgets in NFEs")
    p.add_argument("--steps", type=int, default=10, help="denoising steps per candidate")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for results.json, the HTML chart and the PNG")
    return p.parse_args(argv)


def _ok(evals) -> bool:
    """The first evaluator is the shapes oracle: did it pass?"""
    return oracle_passed(evals[0])


def run(argv) -> dict:
    import tsearch
    from tsearch.bench.common import table
    from tsearch.models import load_model
    from tsearch.search import Costs
    from tsearch.verifiers import load_verifier
    from tsearch.worlds.shapes import grammar

    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    captions = [grammar.random_caption(rng, grammar.CATEGORIES[i % len(grammar.CATEGORIES)])
                for i in range(args.captions)]
    model = load_model("shapes", device=args.device)
    clip, oracle = load_verifier("shapes-clip", device=args.device), load_verifier("shapes-oracle")
    budgets = sorted(args.budgets)
    cost = Costs(model.default_solver, model.nfe_per_eval).full(args.steps)
    outcomes: dict[str, dict[int, list]] = {m: {b: [] for b in budgets} for m in args.methods}
    seconds = {m: 0.0 for m in args.methods}
    per_caption = []
    start = time.perf_counter()
    for i, caption in enumerate(captions):
        row = {"caption": caption, "ok": {}}
        for method in args.methods:
            for budget in budgets:
                t0 = time.perf_counter()
                try:
                    found = tsearch.search(model=model, prompt=caption, verifiers=[clip], evaluators=[oracle],
                                           algorithm=method, budget=budget, steps=args.steps,
                                           seed=args.seed * 1000 + i, batch_size=args.batch_size,
                                           **OPTIONS.get(method, {}))
                except ValueError as error:
                    if "budget" not in str(error):
                        raise
                    ok = None   # the budget buys nothing of this method
                else:
                    best = next(c for c in found.history if c.id == found.best_id)
                    ok = _ok(best.evals.values_tuple)
                seconds[method] += time.perf_counter() - t0
                outcomes[method][budget].append(ok)
                row["ok"].setdefault(method, {})[str(budget)] = ok
        per_caption.append(row)
        print(f"[{i + 1}/{len(captions)}] {caption!r}: {time.perf_counter() - start:.0f}s elapsed", flush=True)

    def accuracy(values):
        return None if not values or any(v is None for v in values) else 100.0 * float(np.mean(values))

    overall = {m: {b: accuracy(outcomes[m][b]) for b in budgets} for m in args.methods}
    print()
    print(table(f"oracle accuracy (%) of the returned sample on {len(captions)} captions; columns: budget in NFEs "
                f"({args.steps} steps, one full candidate = {cost} NFEs); verifier shapes-clip",
                [str(b) for b in budgets], [(m, [overall[m][b] for b in budgets]) for m in args.methods]))
    print("\nseconds per method (all captions and budgets): "
          + ", ".join(f"{m} {s:.0f}" for m, s in seconds.items()))
    wall = time.perf_counter() - start
    print(f"{wall:.0f} s in all on {args.device}")
    report = {"captions": captions, "budgets": budgets, "steps": args.steps, "candidate_nfe": cost,
              "options": {m: OPTIONS.get(m, {}) for m in args.methods}, "seed": args.seed,
              "overall": {m: {str(b): v for b, v in by.items()} for m, by in overall.items()},
              "seconds": seconds, "wall_seconds": wall, "per_caption": per_caption}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(report, indent=1))
        title = (f"shapes: oracle accuracy vs NFEs ({len(captions)} captions, {args.steps} steps, "
                 f"verifier shapes-clip)")
        how = write_charts(overall, budgets, title, out / "scaling_algorithms.html", out / "scaling_algorithms.png")
        print(f"wrote {out / 'results.json'}, scaling_algorithms.html and scaling_algorithms.png ({how})")
    return report


def write_charts(overall: dict, budgets: list[int], title: str, html: Path, png: Path) -> str:
    """The accuracy curves as plotly HTML and as a PNG (kaleido if installed, else PIL); says which drew the PNG."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for method, by in overall.items():
        xs = [b for b in budgets if by[b] is not None]
        figure.add_trace(go.Scatter(x=xs, y=[by[b] for b in xs], mode="lines+markers", name=method))
    figure.update_layout(title=title, xaxis={"title": "budget (NFEs)", "type": "log"},
                         yaxis={"title": "oracle accuracy (%)", "range": [0, 100]}, template="plotly_white")
    figure.write_html(str(html), include_plotlyjs=True)   # self-contained: opens offline
    try:
        figure.write_image(str(png), width=900, height=560)
        return "kaleido"
    except Exception:   # noqa: BLE001  (kaleido missing or unable to start: draw it ourselves)
        draw_png(overall, budgets, title, png)
        return "PIL"


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]


def draw_png(overall: dict, budgets: list[int], title: str, path: Path, size=(900, 560)) -> None:
    """A plain line chart: accuracy (0-100 %) against budget on a log axis, one coloured line per method."""
    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 70, 170, 50, 60
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    lo, hi = math.log(min(budgets)), math.log(max(budgets))
    span = hi - lo or 1.0

    def x_of(b):
        return left + (math.log(b) - lo) / span * (w - left - right) if hi > lo else (left + w - right) / 2

    def y_of(v):
        return top + (1.0 - v / 100.0) * (h - top - bottom)

    draw.text((left, 15), title, fill="black")
    for v in range(0, 101, 20):
        draw.line([(left, y_of(v)), (w - right, y_of(v))], fill=(225, 225, 225))
        draw.text((left - 30, y_of(v) - 6), f"{v}", fill="black")
    for b in budgets:
        draw.line([(x_of(b), h - bottom), (x_of(b), h - bottom + 5)], fill="black")
        draw.text((x_of(b) - 12, h - bottom + 8), str(b), fill="black")
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    draw.text(((left + w - right) / 2 - 40, h - 25), "budget (NFEs)", fill="black")
    draw.text((5, top - 20), "oracle accuracy (%)", fill="black")
    for n, (method, by) in enumerate(overall.items()):
        colour = COLOURS[n % len(COLOURS)]
        shift = 4 * (n - (len(overall) - 1) / 2)   # a few pixels apart, so equal values stay visible
        points = [(x_of(b) + shift, y_of(by[b])) for b in budgets if by[b] is not None]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.line([(w - right + 15, top + 10 + 18 * n), (w - right + 35, top + 10 + 18 * n)], fill=colour, width=3)
        draw.text((w - right + 40, top + 4 + 18 * n), method, fill="black")
    image.save(path)


def main(argv=None) -> None:
    run(argv)
