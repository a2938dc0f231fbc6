"""Accessibility of the Search tab: the best image's alt text and the chart's text summary, driven through
the handlers on the analytic gmm model (no server), then in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import json
import os

import gradio as gr
import pytest
from served import ARGS, CHROMIUM, served

from tsearch.app import a11y, contain, handlers
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


# --- a refused or failed Run: one message in the status line, the earlier results kept (dimmed) -------------

PATHS_TOO_SMALL = dict(GMM, algorithm="paths", budget=300)   # paths needs 1,416 NFEs at gmm's 10 steps


def test_a_refused_run_says_why_once_in_the_status_line_and_keeps_the_results():
    updates = list(handlers.search_page(**PATHS_TOO_SMALL, session=Session()))
    assert len(updates) == 1
    status, *rest = updates[0]
    assert status["elem_classes"] == [contain.REFUSED]
    assert status["value"].startswith("**Run refused: budget of 300 NFEs is below one search over paths")
    assert rest == [gr.skip()] * (len(handlers.SEARCH_OUTPUTS) - 1)   # the best image, chart, gallery stay
    with pytest.raises(gr.Error, match="below one search over paths"):   # the API's search still raises it
        list(handlers.search(**PATHS_TOO_SMALL, session=Session()))


def test_a_run_on_the_page_is_the_api_search_with_the_refusal_cleared():
    page = list(handlers.search_page(**GMM, session=Session()))
    api = list(handlers.search(**GMM, session=Session()))
    assert all(update[0]["elem_classes"] == [] for update in page)
    assert page[-1][0]["value"].startswith("Done: **200 / 200 NFEs**") and api[-1][0].startswith("Done: **200 / 200 NFEs**")
    assert page[-1][5]["best_id"] == api[-1][5]["best_id"] and page[-1][4] and len(page[-1][4]) == len(api[-1][4])


def test_a_run_failing_midway_or_on_a_bug_shows_a_line_and_no_traceback(monkeypatch):
    def failing(**kwargs):
        yield ("Running: 10 / 200 NFEs",) + (gr.skip(),) * 5
        raise gr.Error("the search stopped: the verifier failed")

    monkeypatch.setattr(handlers, "search", failing)
    *_, last = handlers.search_page(**GMM)
    assert last[0]["value"] == "**Run failed: the search stopped: the verifier failed**"

    def buggy(**kwargs):
        raise KeyError("oops")
        yield

    monkeypatch.setattr(handlers, "search", buggy)
    (only,) = handlers.search_page(**GMM)
    assert only[0]["value"].startswith("**Run failed on an unexpected error (KeyError: 'oops')")
    assert "Traceback" not in only[0]["value"] and only[0]["elem_classes"] == [contain.REFUSED]


# --- in a real browser --------------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def url(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
    from tsearch.app import build_demo

    os.environ["TSEARCH_APP_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    demo = build_demo(model="gmm", budget=300)
    with served(demo) as url:
        yield url


def test_alt_text_summary_and_a_refused_run_in_the_browser(url):
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.wait_for_selector("#chart .main-svg", timeout=30_000)
            page.click("#run")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done') && "
                                   "/^Best sample so far: #\\d+, gmm-density -?[\\d.]+, for class 1$/.test("
                                   "document.querySelector('#best img')?.alt || '')", timeout=60_000)
            src = page.get_attribute("#best img", "src")
            line = page.evaluate("document.querySelector('#chart .js-plotly-plot').data"
                                 ".find(t => t.name === 'best so far').y")
            text = page.inner_text("#chart-text")
            assert text.startswith("Chart, best so far: ") and "(30 candidates, 300 NFEs spent)" in text
            assert page.get_attribute("#best img", "alt").endswith(f"gmm-density {line[-1]:.6g}, for class 1")

            page.get_by_label("paths", exact=True).check()   # 300 NFEs is below paths' 1,416
            page.click("#run")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Run refused')",
                                   timeout=30_000)
            page.wait_for_function("!document.querySelector('#run').disabled", timeout=10_000)
            assert "below one search over paths" in page.inner_text("#status")
            assert page.inner_text("body").count("below one search over paths") == 1   # once: no toast, no copies
            pills = page.evaluate("[...document.querySelectorAll('.error, .toast-body')].map(e => e.innerText)")
            assert not pills, f"error marks on the page: {pills}"
            assert page.get_attribute("#best img", "src") == src and page.inner_text("#chart-text") == text
            faded = page.evaluate("['#result-row', '#gallery', '#status'].map(s => "
                                  "+getComputedStyle(document.querySelector(s)).opacity)")
            assert faded[0] < 1 and faded[1] < 1 and faded[2] == 1
            page.get_by_label("zero-order", exact=True).check()   # a Run that works clears the refusal
            page.click("#run")
            page.wait_for_function("document.querySelector('#status').innerText.startsWith('Done')", timeout=60_000)
            assert page.evaluate("+getComputedStyle(document.querySelector('#result-row')).opacity") == 1
        finally:
            browser.close()
