"""The lineage figure (tsearch.lineage): one node per scored candidate, one edge per candidate with a parent (or a
shared recipe start), the best's ancestry, and a decimation past MAX_NODES that keeps the ancestry and every
ancestor of what it keeps. Synthetic records, then real runs of smc and tree on gmm, then `report --lineage`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tsearch
from tsearch.candidate import Candidate, Scores
from tsearch.lineage import MAX_NODES, ancestry, decimate, lineage_dict, sources

GMM = dict(model="gmm", cls=2, verifiers=["gmm-density"], steps=10, seed=0)


def cand(i, parent=None, score=None, recipe=(), t_end=0.0, draft=False, rnd=0):
    score = float(i) if score is None else score
    return Candidate(i, parent, rnd, score, Scores(("v",), (score,)), Scores(), 10, 10 * (i + 1), t_end,
                     tuple(recipe), draft=draft)


def nodes(figure) -> list[int]:
    return sorted(d[0] for t in figure["data"] if "customdata" in t for d in t["customdata"])


def trace(figure, start: str) -> dict:
    return next(t for t in figure["data"] if t["name"].startswith(start))


def edges(figure, start: str) -> list[tuple]:
    t = next((t for t in figure["data"] if t["name"].startswith(start)), None)
    if t is None:
        return []
    points = list(zip(t["x"], t["y"]))
    return [(points[i], points[i + 1]) for i in range(0, len(points), 3)]


def test_nodes_edges_ancestry_and_kinds():
    rows = [cand(0), cand(1, 0), cand(2, 0), cand(3, 1, score=9.0), cand(4, 3, t_end=0.5),
            cand(5, None, score=float("nan")), cand(6, 2, draft=True), cand(7, 6, score=5.0)]
    figure = lineage_dict(rows)
    assert nodes(figure) == [0, 1, 2, 3, 4, 6, 7]   # the unscored #5 has no place
    assert len(edges(figure, "parent → child")) == 5 and len(edges(figure, "draft → its full render")) == 1
    assert trace(figure, "the best's ancestry")["meta"]["ancestry"] == [3, 1, 0]   # the top sample, back to its start
    assert trace(figure, "best: #3")["y"] == [9.0]
    assert [d[0] for d in trace(figure, "previews")["customdata"]] == [4]
    assert [d[0] for d in trace(figure, "drafts")["customdata"]] == [6]
    assert figure["layout"]["title"]["text"].endswith("7 candidates")
    json.dumps(figure, allow_nan=False)   # strict JSON
    assert lineage_dict(rows, best=7)["layout"]["meta"]["best"] == 7
    assert trace(lineage_dict(rows, best=7), "the best's ancestry")["meta"]["ancestry"] == [7, 6, 2, 0]
    assert trace(lineage_dict(rows, x="round"), "samples")["x"] == [0] * 5


def test_a_shared_recipe_start_is_a_branch_from_the_candidate_sharing_the_longest_start():
    g = lambda s: {"op": "gaussian", "seed": s}   # noqa: E731
    i = lambda a, b: {"op": "integrate", "t_from": a, "t_to": b, "steps": 2}   # noqa: E731
    r = lambda a, b, s: {"op": "renoise", "t_from": a, "t_to": b, "seed": s}   # noqa: E731
    rows = [cand(0, recipe=[g(1), i(1, .5), r(.5, .6, 7), i(.6, 0)]),
            cand(1, recipe=[g(1), i(1, .5), r(.5, .6, 8), i(.6, 0)]),    # branches from #0 after its first move
            cand(2, recipe=[g(2), i(1, 0)]),                             # a fresh start
            cand(3, recipe=[g(1), i(1, .5), r(.5, .6, 8), i(.6, .2)]),   # shares 3 ops with #1, 2 with #0
            cand(4, recipe=[g(1), i(1, .5), r(.5, .6, 9), i(.6, 0)])]    # shares 2 with #0, #1, #3: the latest
    assert sources(rows) == {1: (0, "start"), 3: (1, "start"), 4: (3, "start")}
    memo = {}   # a growing run: each call reads only the new candidates, and finds the same
    assert sources(rows[:2], memo) == {1: (0, "start")} and sources(rows, memo) == sources(rows) and memo["seen"] == 5
    assert ancestry(4, sources(rows)) == [4, 3, 1, 0]
    assert len(edges(lineage_dict(rows), "branched from a shared start")) == 3


def test_decimation_keeps_the_best_ancestry_and_every_ancestor_and_says_so():
    rng = np.random.default_rng(0)
    rows, parents = [], {}
    for k in range(20_000):   # a forest of random lineages
        parent = int(rng.integers(k)) if k > 10 and rng.random() < 0.9 else None
        rows.append(cand(k, parent, score=float(rng.normal()), rnd=k // 100))
        parents[k] = parent
    best = max(rows, key=lambda c: c.score).id
    figure = lineage_dict(rows, best=best)
    shown = set(nodes(figure))
    assert MAX_NODES <= len(shown) < 2 * MAX_NODES
    assert set(ancestry(best, sources(rows))) <= shown
    assert all(parents[k] is None or parents[k] in shown for k in shown)   # every kept node's parent is kept
    assert len(edges(figure, "parent → child")) == sum(parents[k] is not None for k in shown)
    assert f"of {len(rows):,} candidates shown" in figure["layout"]["title"]["text"]
    assert figure["layout"]["meta"] == {"scored": 20_000, "shown": len(shown), "best": best}
    kept = decimate(rows, sources(rows), best, 50)
    assert set(ancestry(best, sources(rows))) <= kept


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="x must be one of nfe, round"):
        lineage_dict([cand(0)], x="seconds")
    with pytest.raises(ValueError, match="max_nodes must be a whole number"):
        lineage_dict([cand(0)], max_nodes=0)
    with pytest.raises(ValueError, match="Candidate records"):
        lineage_dict([{"id": 0}])


@pytest.mark.parametrize("name", ["smc", "tree"])
def test_real_runs_draw_every_candidate_and_every_parent(name):
    result = tsearch.search(algorithm=name, budget=300, **GMM)
    figure = tsearch.lineage_figure(result, best=result.best_id)   # a SearchResult, as a plotly Figure
    data = figure.to_plotly_json()
    assert nodes(data) == sorted(c.id for c in result.history)
    with_parent = sum(c.parent is not None for c in result.history)
    assert len(edges(data, "parent → child")) == with_parent
    assert (with_parent > 0) == (name == "smc")   # smc's resampled particles name their ancestor; tree's do not
    chain = trace(data, "the best's ancestry")["meta"]["ancestry"]
    assert chain[0] == result.best_id and len(chain) >= 2   # both branch: the best has an ancestor
    if name == "tree":   # tree's branching is in its recipes: shared starts
        assert len(edges(data, "branched from a shared start")) > 0


def test_report_writes_a_runs_lineage_and_refuses_what_it_cannot(tmp_path, capsys):
    from tsearch.cli import main

    result = tsearch.search(algorithm="cem", budget=60, out=str(tmp_path / "run"), **GMM)
    assert main(["report", str(tmp_path / "run"), "--lineage", str(tmp_path / "view" / "lineage.html")]) == 0
    page = (tmp_path / "view" / "lineage.html").read_text()
    # the thumbnails' paths relative to the page (plotly's JSON writes "/" as \u002f)
    assert "cem on gmm: lineage" in page and "..\\u002frun\\u002fimages\\u002f" in page and "its full render" in page
    assert f'"{result.best_id}"' in page   # the recipes a click shows
    capsys.readouterr()
    assert main(["report", str(tmp_path / "run"), "--lineage", str(tmp_path / "lineage.png")]) == 2
    assert main(["report", str(tmp_path), "--lineage", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: --lineage writes an HTML page: give a file name ending in .html, got "
                   f"'{tmp_path / 'lineage.png'}'",
                   f"error: {tmp_path} is not a run folder (it has no candidates.jsonl); give the folder a search wrote"]
