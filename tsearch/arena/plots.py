"""The arena's figures: DIR/arena.html (plotly: the metric against NFEs, seconds, verifier calls and FLOPs, one line
per method) and DIR/arena.png (against NFEs, drawn with PIL: plotly's PNG export needs kaleido and a browser,
which this project does not require)."""

from __future__ import annotations

from pathlib import Path

AXES = (("nfe", "NFEs"), ("seconds", "seconds (verifier included)"), ("verifier_calls", "verifier calls"),
        ("flops", "FLOPs (tsearch.flops)"))


def write(board: dict, outcomes: list, out: Path) -> list[Path]:
    from tsearch.bench.charts import draw_png

    by_method: dict = {}
    for row in board["rows"]:
        by_method.setdefault(row["method"], {})[row["budget"]] = row
    written = []
    png = Path(out) / "arena.png"
    overall = {m: {b: (rows[b]["value"] if b in rows else None) for b in board["budgets"]} for m, rows in by_method.items()}
    if board["budgets"]:
        top = max([v for by in overall.values() for v in by.values() if v is not None] or [1.0])
        draw_png(overall, board["budgets"], f"arena ({board.get('split', '')} split): {board['metric']} vs NFEs",
                 png, y_label=board["metric"], y_max=100.0 if board["scale"] == 100.0 else max(1.0, top))
        written.append(png)
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:   # plotly is a dependency of the app; the leaderboard itself never needs it
        return written
    figure = make_subplots(rows=1, cols=len(AXES), subplot_titles=[label for _, label in AXES])
    for n, (method, rows) in enumerate(by_method.items()):
        budgets = sorted(rows)
        for col, (field, label) in enumerate(AXES, 1):
            figure.add_trace(go.Scatter(
                x=[rows[b][field] for b in budgets], y=[rows[b]["value"] for b in budgets], mode="lines+markers",
                name=method, legendgroup=method, showlegend=col == 1, text=[f"budget {b} NFEs" for b in budgets],
                line={"color": _colour(n)}), row=1, col=col)
            figure.update_xaxes(title_text=label, type="log", row=1, col=col)
    figure.update_yaxes(title_text=board["metric"], row=1, col=1)
    figure.update_layout(height=420, template="plotly_white",
                         title=f"arena, {board.get('split', '')} split: seconds on {board['device']}")
    html = Path(out) / "arena.html"
    html.write_text(figure.to_html(include_plotlyjs="cdn", full_html=True), encoding="utf-8")
    return [*written, html]


def _colour(n: int) -> str:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf"]
    return palette[n % len(palette)]
