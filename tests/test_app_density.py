"""gmm as a 2-D picture on the Search tab (issue 18): the candidates as points over the mixture's density,
coloured by score with the best starred, redrawn as the search goes; shown for gmm only.

The figure itself is checked against samples at the means in test_app_story.py; here the page's handlers.
"""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest

from tsearch.app import best as best_lib
from tsearch.app import density, handlers
from tsearch.app.state import LiveRun, Session

GMM = dict(model="gmm", prompt="", cls=2, verifiers=["gmm-density"], algorithm="zero-order", budget=200, steps=10,
           seed=0, evaluator="", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))


def figure_of(update) -> dict:
    assert update["visible"] is True
    return json.loads(update["value"].plot)


def points(figure: dict) -> list[tuple[float, float, int]]:
    """(x, y, id) of every sample drawn (finished or preview)."""
    out = []
    for trace in figure["data"]:
        if trace["name"] in ("samples", "previews"):
            out += [(x, y, row[0]) for x, y, row in zip(trace["x"], trace["y"], trace["customdata"])]
    return out


def test_a_gmm_search_is_drawn_as_its_candidates_over_the_density_as_it_goes():
    session = Session()
    search = handlers.search(**GMM, session=session)
    next(search)   # the first candidate is on the page: so is its point
    early = figure_of(density.view(session))
    assert [i for _, _, i in points(early)] == [c.id for c in session.shown.run.candidates]
    for _ in search:
        pass
    run = session.shown.run
    figure = figure_of(density.view(session))
    drawn = points(figure)
    assert len(drawn) == len(run.candidates) == 20 > len(points(early))
    # each point is its sample projected on the plane of the means (read back from its PNG)
    means, variance = density.mixture("gmm")
    origin, basis = density.plane(means)
    sample = density._sample(run.candidates[5].image_path)
    x, y = (sample - origin) @ basis.T
    assert drawn[5][:2] == pytest.approx((x, y))
    samples = next(t for t in figure["data"] if t["name"] == "samples")
    assert samples["marker"]["color"] == [c.score for c in run.candidates]   # coloured by score
    winner = best_lib.best(run)
    star = next(t for t in figure["data"] if t["name"] == f"best: #{winner.id}")
    assert (star["x"][0], star["y"][0]) == pytest.approx(drawn[run.candidates.index(winner)][:2])
    circles = figure["layout"]["shapes"]
    assert len(circles) == 2 * len(means) and circles[4]["line"]["width"] > circles[0]["line"]["width"]   # target 2
    assert (circles[0]["x1"] - circles[0]["x0"]) / 2 == pytest.approx(np.sqrt(variance))


def test_choosing_gmm_shows_the_density_and_another_model_hides_it():
    shown = figure_of(density.shown_for("gmm", 1))
    assert points(shown) == [] and len(shown["layout"]["shapes"]) == 8
    assert "bold: the target, 1" in shown["layout"]["title"]["text"]
    for other in ("shapes", "sd15-random", "no-such-model"):
        assert density.shown_for(other) == gr.update(visible=False)


def test_another_models_run_hides_it_and_nothing_shown_leaves_it():
    session = Session()
    assert density.view(session) == gr.skip() and density.view(None) == gr.skip()
    session.shown.run = LiveRun(model="shapes", candidates=[])
    assert density.view(session) == gr.update(visible=False)


def test_the_page_wires_it_beside_the_chart_for_gmm_only():
    from tsearch.app import build_demo

    demo = build_demo(model="gmm")
    plot = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "density")
    assert isinstance(plot, gr.Plot) and plot.visible is False   # until the model is known (page load)
    deps = demo.config["dependencies"]
    chart = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "chart")
    redraws = [d for d in deps if d["outputs"] == [plot._id]]
    targets = {tuple(t) for d in redraws for t in d["targets"]}
    assert (chart._id, "change") in targets and any(event == "load" for _, event in targets)
    model = next(b for b in demo.blocks.values() if getattr(b, "label", None) == "Model")
    assert (model._id, "change") in targets


def test_each_component_mean_is_marked_with_its_class_the_target_in_red():
    means, _ = density.mixture("gmm")
    figure = figure_of(density.shown_for("gmm", 3))
    marks = next(t for t in figure["data"] if t["name"] == "component means (class)")
    assert marks["text"] == ["0", "1", "2", "3"]
    assert marks["marker"]["color"][3] == density.TARGET and density.TARGET not in marks["marker"]["color"][:3]
    circles = figure["layout"]["shapes"][::2]
    assert marks["x"] == pytest.approx([(c["x0"] + c["x1"]) / 2 for c in circles])
