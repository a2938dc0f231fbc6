"""`tsearch report DIR`: a sweep's results as a table per method x budget, and DIR/report.html.

Each value is the mean over the group's cells (prompts x seeds) with a 95% percentile bootstrap
interval (`tsearch.sweep.stats.interval`, on the same resamples as the arena's paired intervals), seeded
so a report reads the same twice. Columns: the verifier score the search was told (`score`), each held-out
evaluator's score of the chosen sample, and accuracy where an evaluator is an oracle with a pass
mark (`tsearch.sweep.headline`, which also names the headline column). Set metrics that need every
chosen image of a group at once (the digits world's Inception-Score and FID analogues) are
computed here from each cell's best.png, with a jackknife interval. A method is the algorithm (or its `label`) with whatever
else varies across the sweep's cells: options, steps, verifiers.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tsearch.sweep import device_note, headline, stats
from tsearch.sweep.results import RESULTS, read_rows
from tsearch.sweep.rows import readable

GROUPED_OUT = ("condition", "seed", "budget", "batch_size", "device", "evaluators")   # never part of a method


@dataclass(frozen=True)
class SetMetric:
    model: str                              # computed for the cells of this model
    compute: Callable                       # (features [n, d], probs [n, k]) -> float
    higher_is_better: bool


def _inception_score(features, probs) -> float:
    marginal = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(np.clip(probs, 1e-12, None)) - np.log(np.clip(marginal, 1e-12, None)))).sum(1)
    return float(np.exp(kl.mean()))


def _fid(features, probs) -> float:
    from tsearch.worlds.digits import metrics

    mu_ref, sigma_ref = metrics.reference_statistics()
    return metrics.frechet_distance(features.mean(0), np.cov(features, rowvar=False), mu_ref, sigma_ref)


SET_METRICS = {
    "IS (digits)": SetMetric("digits", _inception_score, True),
    "FID (digits)": SetMetric("digits", _fid, False),
}


@dataclass
class Group:
    method: str
    budget: int
    rows: list = field(default_factory=list)
    failed: int = 0
    values: dict = field(default_factory=dict)      # column -> (mean, low, high) or None
    categories: dict = field(default_factory=dict)  # category -> mean of the headline column

    @property
    def nfes(self) -> float | None:
        spent = [r["summary"]["nfe_spent"] for r in self.rows]
        return float(np.mean(spent)) if spent else None

    @property
    def seconds(self) -> float | None:
        """Mean wall-clock of a search (the engine's, verifier included); None where a row lacks it."""
        values = [r["summary"].get("seconds") for r in self.rows]
        return float(np.mean(values)) if values and None not in values else None

    @property
    def flops(self) -> float | None:
        """Mean FLOPs of a search (NFEs, decodes and verifier calls; tsearch.flops); None where a row lacks them."""
        values = [r["summary"].get("flops_spent") for r in self.rows]
        return float(np.mean(values)) if values and None not in values else None

    @property
    def verifier_calls(self) -> float | None:
        """Mean images scored per search, times the verifiers scoring each."""
        values = [r["summary"].get("candidates") for r in self.rows]
        if not values or None in values:
            return None
        return float(np.mean([v * max(1, len(r["config"].get("verifiers") or [])) for v, r in zip(values, self.rows)]))


def methods(rows: list[dict]) -> list[str]:
    """Each row's method: its label (or algorithm) with the options and fields that vary across the sweep."""
    configs = [row["config"] for row in rows]
    fields_ = sorted(set().union(*configs) - set(GROUPED_OUT) - {"algorithm", "options"})
    varying = [f for f in fields_ if len({_canon(c.get(f)) for c in configs}) > 1]
    by_algorithm: dict[str, list[dict]] = {}
    for c in configs:
        by_algorithm.setdefault(c.get("algorithm"), []).append(c.get("options") or {})
    varying_options = {}
    for algorithm, options in by_algorithm.items():
        names = sorted(set().union(*options))
        varying_options[algorithm] = [n for n in names if len({_canon(o.get(n)) for o in options}) > 1]
    labels = []
    for row, c in zip(rows, configs):
        label = row.get("metadata", {}).get("label")
        parts = [] if label else [f"{n}={_short((c.get('options') or {}).get(n))}"
                                  for n in varying_options[c.get("algorithm")]]
        parts += [f"{f}={_short(c.get(f))}" for f in varying]
        labels.append(" ".join([label or str(c.get("algorithm")), *parts]))
    return labels


def build(root: str | Path, reps: int = 1000, seed: int = 0, set_metrics: bool = True,
          keys: set[str] | None = None) -> dict:
    """The report's data: groups by method x budget, their columns, skipped lines and notes.

    `keys`: only these cells (a folder that holds several sweeps' results, e.g. the scaling bench's)."""
    root = Path(root)
    rows, bad = read_rows(root)
    rows = list({row["key"]: row for row in rows}.values())   # the last line of a key wins
    if keys is not None:
        rows = [row for row in rows if row["key"] in keys]
    rows, passed_over = readable(rows)
    if not rows:
        why = f" ({passed_over[0]})" if passed_over else ""
        raise ValueError(f"{root / RESULTS} holds no results{why}: run `tsearch sweep SPEC --out {root}` first")
    groups: dict[tuple, Group] = {}
    for row, method in zip(rows, methods(rows)):
        group = groups.setdefault((method, row["config"]["budget"]), Group(method, row["config"]["budget"]))
        if row.get("error") or not row.get("summary"):
            group.failed += 1
        else:
            group.rows.append(row)
    ordered = sorted(groups.values(), key=lambda g: (list(dict.fromkeys(k[0] for k in groups)).index(g.method),
                                                     g.budget))
    evaluators = list(dict.fromkeys(n for g in ordered for r in g.rows for n in r["summary"].get("evals", {})))
    oracles = [n for n in headline.ACCURACY if any(n in r["summary"].get("evals", {}) or
                                                   n in r["summary"].get("scores", {}) for g in ordered for r in g.rows)]
    columns = [headline.SCORE, *evaluators, *map(headline.accuracy, oracles)]
    notes = list(passed_over)
    for index, group in enumerate(ordered):
        for column in columns:
            group.values[column] = stats.interval([headline.of_summary(r["summary"], column) for r in group.rows], reps, seed + index)
    if set_metrics:
        columns += _set_metrics(root, ordered, notes)
    top = headline.name([*evaluators, *oracles])
    categories = sorted({r.get("metadata", {}).get("category") for g in ordered for r in g.rows} - {None}, key=str)
    for group in ordered:
        for category in categories:
            chosen = [r for r in group.rows if r.get("metadata", {}).get("category") == category]
            values = [headline.of_summary(r["summary"], top) for r in chosen]
            values = [v for v in values if v is not None]
            group.categories[category] = float(np.mean(values)) if values else None
    return {"root": str(root), "cells": len(rows), "failed": sum(g.failed for g in ordered), "skipped_lines": bad,
            "columns": columns, "groups": ordered, "headline": top, "categories": categories, "notes": notes,
            "device": device_note.note(root, rows)}


def _set_metrics(root: Path, groups: list[Group], notes: list) -> list[str]:
    added = []
    for name, metric in SET_METRICS.items():
        chosen = [g for g in groups if any(r["config"]["model"] == metric.model for r in g.rows)]
        if not chosen:
            continue
        added.append(name)
        for group in chosen:
            paths = [root / r["run_dir"] / "best.png" for r in group.rows if r.get("run_dir")]
            paths = [p for p in paths if p.exists()]
            if len(paths) < 3:
                group.values[name] = None
                continue
            if len(paths) < len(group.rows):
                notes.append(f"{name}, {group.method} at {group.budget}: {len(group.rows) - len(paths)} best.png missing")
            features, probs = _digit_features(tuple(str(p) for p in paths))
            group.values[name] = _jackknife(metric.compute, features, probs)
    if added:
        notes.append(f"{', '.join(added)}: over each group's best images (best.png), with a jackknife interval; "
                     f"FID is biased upwards for small sets, so compare it only between groups of equal size")
    return added


def _jackknife(compute, features, probs) -> tuple[float, float, float]:
    """(value, value -+ 1.96 jackknife standard errors) (Efron & Tibshirani 1993, ch. 11).

    A bootstrap resample repeats images, which by itself lowers IS and raises FID, so set metrics
    get a leave-one-out interval instead."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # sqrtm of a near-singular product: frechet_distance regularises it
        point = compute(features, probs)
        n = len(features)
        leave = np.array([compute(np.delete(features, i, 0), np.delete(probs, i, 0)) for i in range(n)])
    se = math.sqrt((n - 1) / n * float(((leave - leave.mean()) ** 2).sum()))
    return point, point - 1.96 * se, point + 1.96 * se


def _digit_features(paths: tuple[str, ...]):
    import torch
    from PIL import Image

    from tsearch.worlds.digits import metrics

    net = metrics.feature_net()
    images = []
    for path in paths:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        images.append(torch.from_numpy(array).permute(2, 0, 1))
    with torch.no_grad():
        f = net.features(torch.stack(images))
        p = torch.softmax(net.head(f).double(), dim=1)
    return f.double().numpy(), p.numpy()


# --- text and HTML ----------------------------------------------------------------------------
def _fmt(value) -> str:
    if value is None:
        return "-"
    mean, low, high = value
    digits = 1 if max(abs(mean), abs(low), abs(high)) >= 100 else 3
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["method", "budget", "NFEs", "seconds", "verifier calls", "GFLOPs", "cells", "failed", *report["columns"]]
    body = []
    for g in report["groups"]:
        nfes, seconds, calls = g.nfes, g.seconds, g.verifier_calls
        body.append([g.method, str(g.budget), "-" if nfes is None else f"{nfes:.0f}",
                     "-" if seconds is None else f"{seconds:.2f}", "-" if calls is None else f"{calls:.0f}",
                     "-" if g.flops is None else f"{g.flops / 1e9:.4g}", str(len(g.rows)), str(g.failed), *[_fmt(g.values.get(c)) for c in report["columns"]]])
    return header, body


def category_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    header = ["method", "budget", *report["categories"]]
    body = [[g.method, str(g.budget), *["-" if g.categories.get(c) is None else f"{g.categories[c]:.2f}"
                                        for c in report["categories"]]] for g in report["groups"]]
    return header, body


def render_text(report: dict) -> str:
    lines = [f"{report['root']}: {report['cells']} cells, {report['failed']} failed; mean [95% bootstrap interval] "
             f"over prompts x seeds; seconds per search (verifier included) on {report.get('device', '?')}"]
    lines += _text_table(*table_rows(report))
    if report["categories"]:
        lines += ["", f"{report['headline']} by category (mean)"]
        lines += _text_table(*category_rows(report))
    if report["skipped_lines"]:
        lines.append(f"note: {report['skipped_lines']} unreadable line(s) of results.jsonl passed over")
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def _text_table(header, body) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(header), line(["-" * w for w in widths]), *[line(r) for r in body]]


def html_target(root: str | Path, path: str | Path | None) -> Path:
    """Where report.html goes (default DIR/report.html); ValueError naming --html when that would write over
    something the report reads or a sweep keeps: results.jsonl, a run's files, a folder, or any file of the sweep
    folder that is not HTML (spec.json, prompts.jsonl, leaderboard.json, ...)."""
    root = Path(root).resolve()
    target = (root / "report.html") if path is None else Path(path)
    resolved = target.resolve()
    why = None
    if resolved == root / RESULTS:
        why = "it is the sweep's results file; the sweep could no longer resume or be reported"
    elif resolved.is_dir():
        why = "it is a folder"
    elif resolved.is_relative_to(root / "runs"):
        why = "it is inside the sweep's runs, which the report reads"
    elif resolved.parent == root and resolved.exists() and resolved.suffix.lower() not in (".html", ".htm"):
        why = "it is a file of the sweep folder that is not HTML"
    if why:
        raise ValueError(f"--html {target}: {why}; give a new .html path (default {root / 'report.html'})")
    return target


def write_html(report: dict, path: str | Path) -> Path:
    """report.html: a plotly curve per column against NFEs, one line per method, and the tables."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    columns = report["columns"]
    cols = min(2, len(columns))
    rows = math.ceil(len(columns) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=columns, horizontal_spacing=0.08,
                           vertical_spacing=0.2 if rows > 1 else 0.0)
    methods_ = list(dict.fromkeys(g.method for g in report["groups"]))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf"]
    axes = {"NFEs": [], "seconds": [], "verifier calls": [], "FLOPs": []}   # each trace's x on each cost axis
    for index, column in enumerate(columns):
        r, c = index // cols + 1, index % cols + 1
        for m, method in enumerate(methods_):
            chosen = [g for g in report["groups"]
                      if g.method == method and g.nfes is not None and g.values.get(column) is not None]
            points = [(g.nfes, g.values.get(column)) for g in chosen]
            if not points:
                continue
            for axis, costs in zip(axes, ([g.nfes for g in chosen], [g.seconds for g in chosen],
                                          [g.verifier_calls for g in chosen], [g.flops for g in chosen])):
                axes[axis].append(costs)
            x = [p[0] for p in points]
            y = [p[1][0] for p in points]
            figure.add_trace(go.Scatter(
                x=x, y=y, mode="lines+markers", name=method, legendgroup=method, showlegend=index == 0,
                line={"color": palette[m % len(palette)]},
                error_y={"type": "data", "symmetric": False, "array": [p[1][2] - p[1][0] for p in points],
                         "arrayminus": [p[1][0] - p[1][1] for p in points]}), row=r, col=c)
        figure.update_xaxes(title_text="NFEs", type="log", row=r, col=c)
    figure.update_layout(height=360 * rows, title=f"{report['root']}: {report['cells']} cells", template="plotly_white")
    titles = {"seconds": f"seconds (verifier included; {report.get('device', '?')})"}
    names = ["xaxis" + ("" if i == 0 else str(i + 1)) for i in range(len(columns))]
    figure.update_layout(updatemenus=[{"type": "buttons", "direction": "right", "x": 0.0, "y": 1.12, "buttons": [
        {"label": axis, "method": "update",
         "args": [{"x": xs}, {f"{n}.title.text": titles.get(axis, axis) for n in names}]}
        for axis, xs in axes.items()]}])
    parts = [figure.to_html(include_plotlyjs="cdn", full_html=False),
             "<h3>mean [95% bootstrap interval] over prompts x seeds</h3>", _html_table(*table_rows(report))]
    if report["categories"]:
        parts += [f"<h3>{html.escape(report['headline'])} by category</h3>", _html_table(*category_rows(report))]
    parts += [f"<p>note: {html.escape(n)}</p>" for n in report["notes"]]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>tsearch sweep report</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{padding:2px 8px;"
            "border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def _html_table(header, body) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True)


def _short(value) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value))
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in sorted(value.items()))
    return str(value)
