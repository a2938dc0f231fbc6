"""The charts' x axis (issue 19, item 2): NFEs, seconds (verifiers included) or verifier calls, switched by a
radio beside each chart. Switching redraws the tab's last run from what it recorded (no rerun) and applies to
the next run's live updates; a seconds axis names the device and thread count.

Driven through the handlers on the analytic `gmm` model (no trained weights).
"""

from __future__ import annotations

import json

import gradio as gr
import pytest
import torch

from tsearch.app import axis, compare, files_tab, handlers
from tsearch.app import best as best_lib
from tsearch.app.state import Session

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="zero-order", budget=200, steps=10,
           seed=0, evaluator="gmm-density", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))


def figure_of(plot) -> dict:
    return json.loads(plot.plot)


def trace(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t["name"] == name)


def searched(**change) -> Session:
    session = Session()
    for _ in handlers.search(**{**GMM, **change}, session=session):
        pass
    return session


def test_switching_redraws_the_last_run_against_seconds_and_verifier_calls_without_a_rerun(tmp_path):
    session = searched()
    run = session.shown.run
    folders, count = sorted((tmp_path / "runs").iterdir()), len(run.candidates)
    seconds = figure_of(axis.redraw("seconds", session))
    cumulative = [round(sum(c.seconds for c in run.candidates[:i + 1]), 3) for i in range(len(run.candidates))]
    assert trace(seconds, "candidates")["x"] == [x for x, c in zip(cumulative, run.candidates) if c.finished]
    assert all(c.seconds > 0 for c in run.candidates)   # each candidate's wall-clock share was recorded
    title = seconds["layout"]["xaxis2"]["title"]["text"]
    threads = torch.get_num_threads()
    assert title.startswith(f"seconds on cpu, {threads} thread") and "verifiers" in title
    calls = figure_of(axis.redraw("calls", session))
    assert trace(calls, "candidates")["x"] == list(range(1, len(run.candidates) + 1))
    assert calls["layout"]["xaxis2"]["title"]["text"] == best_lib.COSTS["calls"]
    nfes = figure_of(axis.redraw("nfe", session))
    assert trace(nfes, "candidates")["x"] == [c.nfe_spent for c in run.candidates]
    assert session.shown.cost == "nfe"
    assert sorted((tmp_path / "runs").iterdir()) == folders and len(run.candidates) == count   # nothing ran again


def test_the_best_line_never_goes_down_and_has_the_same_points_on_every_axis():
    session = searched(algorithm="random", budget=300)
    lines = {cost: trace(figure_of(axis.redraw(cost, session)), "best so far") for cost in best_lib.COSTS}
    counts = {cost: len(line["x"]) for cost, line in lines.items()}
    assert len(set(counts.values())) == 1 and counts["nfe"] >= 2, counts
    for cost, line in lines.items():
        assert line["y"] == lines["nfe"]["y"]   # the same best at every point, whatever the axis counts
        assert all(a <= b for a, b in zip(line["y"], line["y"][1:])), cost
        assert all(a <= b for a, b in zip(line["x"], line["x"][1:])), cost
    winner = trace(figure_of(axis.redraw("seconds", session)), f"best: #{best_lib.best(session.shown.run).id}")
    assert winner["y"] == [lines["seconds"]["y"][-1]] and winner["x"][0] in lines["seconds"]["x"]


def test_the_chosen_axis_applies_to_the_next_runs_live_updates():
    session = Session()
    assert axis.redraw("seconds", session) == gr.skip() and session.shown.cost == "seconds"   # nothing shown yet
    updates = list(handlers.search(**GMM, session=session))
    charts = [figure_of(u[3]) for u in updates if not isinstance(u[3], dict)]   # gr.skip() leaves the chart
    assert len(charts) >= 2
    for chart in charts:
        assert chart["layout"]["xaxis2"]["title"]["text"].startswith("seconds on cpu")
    last = trace(charts[-1], "candidates")["x"]
    assert last[-1] == pytest.approx(sum(c.seconds for c in session.shown.run.candidates), abs=1e-3)


def test_the_baseline_is_redrawn_on_the_same_axis():
    session = searched(budget=100, baseline=True)
    figure = figure_of(axis.redraw("calls", session))
    baseline = trace(figure, "more denoising steps, one noise")
    assert baseline["x"] == list(range(1, len(session.shown.baseline.candidates) + 1))


def test_a_loaded_run_is_redrawn_too():
    session = searched(budget=100)
    archive = files_tab.export(session)
    fresh = Session()
    files_tab.load(archive, fresh)
    figure = figure_of(axis.redraw("seconds", fresh))
    assert len(trace(figure, "candidates")["x"]) == 10
    assert figure["layout"]["xaxis2"]["title"]["text"].startswith("seconds on cpu")


def test_the_compare_chart_switches_too():
    session = Session()
    for _ in compare.compare(**dict(GMM, budget=100), mode="algorithms", algorithms=["random", "zero-order"],
                              session=session):
        pass
    runs = session.shown.compared
    figure = figure_of(compare.redraw("calls", session))
    for run in runs:
        assert trace(figure, run.label)["x"] == list(range(1, len(run.candidates) + 1))
    assert figure["layout"]["title"]["text"] == "best so far at equal verifier calls"
    seconds = figure_of(compare.redraw("seconds", session))
    assert seconds["layout"]["xaxis2"]["title"]["text"].startswith("seconds on cpu")
    assert session.shown.compare_cost == "seconds" and session.shown.cost == "nfe"   # each chart keeps its own


@pytest.mark.parametrize("redraw", [axis.redraw, compare.redraw])
def test_a_bad_axis_is_refused_by_name_and_nothing_shown_is_nothing_to_redraw(redraw):
    with pytest.raises(gr.Error, match=r"cost \(the x axis\) must be one of nfe, seconds, calls, flops, got 'minutes'"):
        redraw("minutes", Session())
    with pytest.raises(gr.Error, match="cost"):
        redraw(None, Session())
    assert redraw("calls", Session()) == gr.skip() and redraw("calls", None) == gr.skip()


def test_the_radio_offers_the_four_axes_beside_each_chart():
    from tsearch.app import build_demo

    demo = build_demo(model="gmm")
    radios = [b for b in demo.blocks.values() if isinstance(b, gr.Radio) and b.label == "x axis"]
    assert len(radios) == 2
    for radio in radios:
        assert [value for _, value in radio.choices] == ["nfe", "seconds", "calls", "flops"]
        assert [name for name, _ in radio.choices] == ["NFEs", "seconds", "verifier calls", "FLOPs"]
    wired = {getattr(fn.fn, "__wrapped__", fn.fn) for fn in demo.fns.values()}   # each under app.contain's net
    assert axis.redraw in wired and compare.redraw in wired
