"""The lineage of a run: which candidate came from which, drawn from the `Candidate` records alone.

Each scored candidate is a node at (NFEs spent, score), or (round, score); an edge joins it to its source:
- its `parent`, as the record says (zero-order's pivots, paths' branches, smc's resampled ancestors,
  evolution's parents, a commit's or full render's draft);
- else, when its recipe begins as an earlier candidate's does (the same start noise, the same moves), the
  latest such candidate with the longest shared start: it branched from that candidate's trajectory (tree's
  expansions, the steps baseline's one noise). Nothing else about an algorithm is known here.
The best's ancestry (its sources back to a start) is drawn strong; nodes with no descendant drawn (dead ends:
smc's particles that were not resampled, losing neighbours, final samples other than the best) are faint. Drafts (few-step renders) and previews
(clean estimates of noisy states) are marked apart, as on the app's chart, and each draft is joined to its
full render. Past `max_nodes` scored candidates the drawing keeps the best's ancestry, the top scores and an
even spread over the run, with every ancestor of a kept node, and its title says how many it shows.

`lineage_dict` returns plain plotly JSON (the app redraws it live without building plotly objects);
`lineage_figure` returns a `plotly.graph_objects.Figure` (notebooks, scripts: `.show()`, `.write_html()`).
"""

from __future__ import annotations

from typing import Callable, Iterable

from tsearch.candidate import Candidate
from tsearch.jsonio import finite
from tsearch.recipes import recipe_text

MAX_NODES = 400          # drawn nodes past which the drawing keeps a readable subset (and says so)
XS = {"nfe": "NFEs spent (denoiser passes)", "round": "round"}
TEXT, GRID = "#333333", "#e5e5e5"
SAMPLE, DRAFT, PREVIEW = "#1f77b4", "#6b4c9a", "#7a5c00"   # the app chart's colours (tsearch.app.charts)
EDGE, BRANCH, STRONG = "rgba(110,110,110,0.45)", "rgba(110,110,110,0.45)", "#d62728"
KINDS = {"sample": ("samples", SAMPLE, "circle"), "draft": ("drafts (few-step renders, not delivered)", DRAFT,
                                                            "circle-open"),
         "preview": ("previews (clean estimates of noisy states)", PREVIEW, "diamond-open")}


def kind(candidate: Candidate) -> str:
    """"sample" (a sample the run can deliver), "draft" (a few-step render) or "preview" (a noisy state's estimate)."""
    return "preview" if not candidate.finished else "draft" if candidate.draft else "sample"


def sources(candidates: Iterable[Candidate], memo: dict | None = None) -> dict[int, tuple[int, str]]:
    """Each candidate's source as (id, "parent") from its record, or (id, "start"): the latest earlier candidate
    whose recipe shares the longest start with its own (at least its start noise). Candidates with neither
    are absent (a fresh start).

    `memo` (a dict, empty at first) keeps the work between calls on a list that only grows (a live run): each
    call reads only the candidates after those it has seen."""
    memo = {} if memo is None else memo
    candidates = list(candidates)
    out = memo.setdefault("out", {})
    latest = memo.setdefault("latest", {})   # a recipe start (as a chain of keys) -> the latest candidate holding it
    for c in candidates[memo.get("seen", 0):]:
        keys, key = [], None
        for op in c.recipe:
            key = (key, repr(op))   # ops of one run are written alike, so equal ops read alike
            keys.append(key)
        if c.parent is not None:
            out[c.id] = (c.parent, "parent")
        else:
            shared = next((latest[k] for k in reversed(keys) if k in latest), None)
            if shared is not None:
                out[c.id] = (shared, "start")
        for k in keys:
            latest[k] = c.id
    memo["seen"] = len(candidates)
    return out


def ancestry(best: int | None, source: dict[int, tuple[int, str]]) -> list[int]:
    """`best`, its source, that one's source, ... back to a fresh start ([] when best is None)."""
    chain, seen = [], set()
    while best is not None and best not in seen:
        chain.append(best)
        seen.add(best)
        best = source.get(best, (None, ""))[0]
    return chain


def default_best(candidates: list[Candidate]) -> int | None:
    """The top-scoring deliverable sample (else draft, else preview): the best when the caller names none."""
    for wanted in ("sample", "draft", "preview"):
        pool = [c for c in candidates if kind(c) == wanted and finite(c.score) is not None]
        if pool:
            return max(pool, key=lambda c: (c.score, -c.id)).id
    return None


def decimate(candidates: list[Candidate], source: dict, best: int | None, max_nodes: int) -> set[int]:
    """The ids drawn: all scored ones up to `max_nodes`; past it the best's ancestry, then the top scores and an
    even spread over the run (alternately), each with every one of its ancestors, until `max_nodes` are kept."""
    scored = [c for c in candidates if finite(c.score) is not None]
    if len(scored) <= max_nodes:
        return {c.id for c in scored}
    keep: set[int] = set()

    def take(cid: int) -> None:
        keep.update(ancestry(cid, source))

    if best is not None:
        take(best)
    top = sorted(scored, key=lambda c: (-c.score, c.id))
    step = len(scored) / max(1, max_nodes // 2)
    spread = [scored[int(i * step)] for i in range(max_nodes // 2)]
    for a, b in zip(top, spread):
        if len(keep) >= max_nodes:
            break
        take(a.id)
        if len(keep) < max_nodes:
            take(b.id)
    return keep


def _hover_recipe(recipe, most: int = 4) -> str:
    """A recipe in at most `most` ops (its start and its last moves), for the hover box."""
    ops = list(recipe)
    if len(ops) > most:
        return f"{recipe_text(ops[:1])} → … {len(ops) - most + 1} ops … → {recipe_text(ops[-(most - 2):])}"
    return recipe_text(ops)


def _segments(pairs, at: dict) -> tuple[list, list]:
    xs, ys = [], []
    for a, b in pairs:
        xs += [at[a][0], at[b][0], None]
        ys += [at[a][1], at[b][1], None]
    return xs, ys


def _edge_trace(name: str, pairs, at: dict, colour: str, width: float, dash: str = "solid") -> dict:
    xs, ys = _segments(pairs, at)
    return {"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": ys, "hoverinfo": "skip",
            "line": {"color": colour, "width": width, "dash": dash}, "meta": {"edges": len(pairs)}}


def _node_trace(which: str, rows: list[Candidate], at: dict, children: set, image: Callable | None) -> dict:
    name, colour, symbol = KINDS[which]
    data = [[c.id, "-" if c.parent is None else c.parent, c.round, c.nfe_spent, which,
             ", ".join(f"{k} {v:.4g}" for k, v in [*c.scores.items(), *c.evals.items()] if v is not None) or "n/a",
             _hover_recipe(c.recipe), (image(c) if image else None) or ""] for c in rows]
    return {"type": "scatter", "mode": "markers", "name": name, "x": [at[c.id][0] for c in rows],
            "y": [at[c.id][1] for c in rows], "customdata": data, "ids": [str(c.id) for c in rows],
            "marker": {"size": 7, "color": colour, "symbol": symbol, "line": {"color": colour, "width": 1.5},
                       "opacity": [1.0 if c.id in children else 0.45 for c in rows]},
            "hovertemplate": "<b>#%{customdata[0]}</b> (%{customdata[4]}) score %{y:.4g}<br>"
                             "round %{customdata[2]}, %{customdata[3]} NFEs spent, parent %{customdata[1]}<br>"
                             "%{customdata[5]}<br>%{customdata[6]}<extra></extra>"}


def lineage_dict(candidates: Iterable[Candidate], best: int | None = None, x: str = "nfe",
                 max_nodes: int = MAX_NODES, title: str | None = None, image: Callable | None = None,
                 memo: dict | None = None) -> dict:
    """The lineage as a plotly JSON dict: nodes by kind, edges from parents and shared starts, the best's
    ancestry strong, a star on `best` (default: the top-scoring deliverable sample).

    `x`: "nfe" (NFEs spent when it was scored) or "round". `image(candidate) -> str | None`: a URL for each
    node's thumbnail, kept in its customdata (the page or HTML that shows it decides how). `memo`: as
    `sources`', for redrawing a growing run."""
    if x not in XS:
        raise ValueError(f"x must be one of {', '.join(XS)}, got {x!r}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a whole number of at least 1, got {max_nodes!r}")
    for attribute in ("history", "candidates"):   # a SearchResult, a loaded Run or the app's LiveRun
        candidates = getattr(candidates, attribute, candidates)
    candidates = list(candidates)
    if not all(isinstance(c, Candidate) for c in candidates):
        raise ValueError("lineage: give the run's Candidate records (a list, a SearchResult or a loaded Run)")
    source = sources(candidates, memo)
    best = best if best is not None else default_best(candidates)
    kept = decimate(candidates, source, best, max_nodes)
    rows = [c for c in candidates if c.id in kept and finite(c.score) is not None]
    at = {c.id: (c.nfe_spent if x == "nfe" else c.round, c.score) for c in rows}
    by_id = {c.id: c for c in rows}
    links = [(source[c.id], c.id) for c in rows if c.id in source and source[c.id][0] in at]
    children = {s for (s, _), _ in links}
    parent = [(s, c) for (s, how), c in links if how == "parent" and not (by_id[s].draft and not by_id[c].draft)]
    commits = [(s, c) for (s, how), c in links if how == "parent" and by_id[s].draft and not by_id[c].draft]
    starts = [(s, c) for (s, how), c in links if how == "start"]
    chain = [cid for cid in ancestry(best, source) if cid in at]
    traces = [_edge_trace("parent → child", parent, at, EDGE, 1),
              _edge_trace("branched from a shared start", starts, at, BRANCH, 1, "dot"),
              _edge_trace("draft → its full render", commits, at, DRAFT, 1.5, "dash")]
    traces = [t for t in traces if t["meta"]["edges"]]
    for which in KINDS:
        part = [c for c in rows if kind(c) == which]
        if part:
            traces.append(_node_trace(which, part, at, children | {best}, image))
    if chain:
        traces.append({"type": "scatter", "mode": "lines+markers", "name": f"the best's ancestry ({len(chain)})",
                       "x": [at[i][0] for i in chain], "y": [at[i][1] for i in chain], "ids": [str(i) for i in chain],
                       "line": {"color": STRONG, "width": 3}, "marker": {"size": 8, "color": STRONG},
                       "hoverinfo": "skip", "meta": {"ancestry": chain}})
        traces.append({"type": "scatter", "mode": "markers", "name": f"best: #{best}", "x": [at[best][0]],
                       "y": [at[best][1]], "ids": [str(best)], "hoverinfo": "skip",
                       "marker": {"size": 18, "symbol": "star", "color": "#ffbf00", "line": {"color": TEXT, "width": 1}}})
    scored = sum(finite(c.score) is not None for c in candidates)
    head = title or "lineage"
    note = (f"{len(rows):,} of {scored:,} candidates shown: the best's ancestry, the top scores and an even "
            f"spread, with every ancestor" if len(rows) < scored else f"{scored:,} candidates")
    return {"data": traces, "layout": {
        "title": {"text": f"{head} · {note}", "x": 0.01, "font": {"size": 14, "color": TEXT}}, "height": 520,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 90}, "paper_bgcolor": "white", "plot_bgcolor": "white",
        "font": {"color": TEXT}, "hovermode": "closest", "uirevision": "keep-zoom", "clickmode": "event",
        "xaxis": {"title": {"text": XS[x]}, "gridcolor": GRID, "zeroline": False, "color": TEXT},
        "yaxis": {"title": {"text": "score (higher is better)"}, "gridcolor": GRID, "zeroline": False, "color": TEXT},
        "legend": {"orientation": "h", "y": -0.2, "x": 0.0},
        "meta": {"scored": scored, "shown": len(rows), "best": best}}}


def lineage_figure(candidates: Iterable[Candidate], best: int | None = None, x: str = "nfe",
                   max_nodes: int = MAX_NODES, title: str | None = None, image: Callable | None = None):
    """The lineage of a run as a plotly Figure (arguments as `lineage_dict`); needs plotly (pip install plotly).

        result = tsearch.search(model="gmm", cls=2, verifiers=["gmm-density"], algorithm="smc", budget=400)
        tsearch.lineage_figure(result.history, best=result.best_id).show()
    """
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ImportError("lineage_figure needs plotly: pip install plotly (or use lineage_dict, "
                          "which returns the same figure as a dict)") from None
    return go.Figure(lineage_dict(candidates, best, x, max_nodes, title, image))
