"""Accessibility of the Search tab: the best image's alt text and the chart's text summary, driven through
the handlers on the analytic gmm model (no server), then in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import json
import os
import socket

import gradio as gr
import pytest

from tsearch.app import a11y, handlers
from tsearch.app import best as best_lib
from tsearch.app.state import LiveRun, Session

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="zero-order", budget=200, steps=10,
           seed=0, evaluator="gmm-density", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))


def _searched(**changes) -> tuple[Session, tuple]:
    session = Session()
    *_, last = handlers.search(**{**GMM, **changes}, session=session)
    return session, last


def test_the_chart_summary_reads_the_line_the_chart_draws():
    session, last = _searched()
    run = session.shown.run
    drawn = next(t for t in json.loads(last[3].plot)["data"] if t["name"] == "best so far")
    text, alt = a11y.describe(session)
    first, final = drawn["y"][0], drawn["y"][-1]
    reached = drawn["x"][drawn["y"].index(final)]
    assert text.startswith(f"Chart, best so far: {first:.6g} at {drawn['x'][0]} NFEs → {final:.6g} at {reached} NFEs")
    assert f"({len(run.candidates)} candidates, 200 NFEs spent)" in text
    best = best_lib.best(run)
    held = next(t for t in json.loads(last[3].plot)["data"] if t["name"].endswith("(held out) of the best"))
    assert f"held-out gmm-density {held['y'][0]:.6g} → {best.evals['gmm-density']:.6g}" in text
    # the alt text of the image the page shows: what it is, its score and what was asked for
    assert alt["alt_text"] == f"Best sample so far: #{best.id}, gmm-density {best.score:.6g}, for class 1"
    assert alt["alt_text"] == a11y.best_alt(run)


def test_the_summary_follows_the_chart_axis_and_names_the_baseline():
    session, _ = _searched(baseline=True, budget=100)
    session.shown.cost = "calls"
    text, _ = a11y.describe(session)
    xs, ys, _ = best_lib.line(session.shown.run, "calls")
    assert text.startswith(f"Chart, best so far: {ys[0]:.6g} at {xs[0]} verifier calls")
    more = best_lib.best(session.shown.baseline)
    assert text.endswith(f"; more steps (one noise): {more.score:.6g} at {more.nfe} NFEs.")
    shown = handlers.baseline_view(session)
    assert shown["alt_text"].startswith(f"More steps (the baseline), one noise: #{more.id}, gmm-density ")


def test_nothing_to_describe_before_a_run_and_a_prompt_is_quoted():
    assert a11y.describe(Session()) == (gr.skip(), gr.skip())
    assert a11y.best_alt(None) is None and a11y.best_alt(LiveRun()) is None and a11y.chart_text(LiveRun()) == ""
    run = LiveRun(condition="a red circle", verifiers=("shapes-clip",))
    assert a11y._subject(run) == ", for 'a red circle'"
