"""The app's story over synthetic candidate streams: one best, its line, the gallery, the verdict.

Every registered algorithm is driven by its own ask/tell loop with a synthetic score (no model), and
its proposals become the same events the engine yields, so these check the app's drawing code against
each algorithm's real round structure in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from tsearch import recipes
from tsearch.app import best as best_lib
from tsearch.app import charts, views
from tsearch.app.state import LiveRun
from tsearch.candidate import Candidate, Scores
from tsearch.events import CandidateScored, RoundDone, SearchStarted
from tsearch.search import ALGORITHMS, Costs, make_algorithm

STEPS = 4
BUDGETS = {"paths": 1400, "smc": 400}   # paths needs room for its episodes; the rest run at 200


def stream(name: str, budget: int | None = None, stop_after: int | None = None, evaluator: bool = True) -> LiveRun:
    """`name` driven to its end (or cut after `stop_after` candidates, mid-round) as a LiveRun fed by events."""
    costs, budget = Costs("euler", 1), budget or BUDGETS.get(name, 200)
    algorithm = make_algorithm(name, budget, costs, STEPS, 0)
    rng = np.random.default_rng(1)
    run, spent, count = LiveRun(), 0, 0
    run.add(SearchStarted(None, "synthetic", "c", name, ("v",), ("held",) if evaluator else (), budget, STEPS,
                          costs.full(STEPS)))
    while not algorithm.done:
        proposals = algorithm.ask()
        scores = [float(rng.normal()) for _ in proposals]
        for p, s in zip(proposals, scores):
            spent += costs.of(p)
            held = (s + float(rng.normal()),) if evaluator else ()
            run.add(CandidateScored(Candidate(p.id, p.parent, p.round, s, Scores(("v",), (s,)),
                                              Scores(run.evaluators, held), costs.of(p), spent, p.t_end, (),
                                              seconds=0.01, image_path=f"/x/{p.id}.png", flops=spent * 10**6,
                                              draft=recipes.is_draft(p.ops, STEPS, None)), None))
            count += 1
            if stop_after is not None and count >= stop_after:
                run.end(stopped=True)
                return run
        algorithm.tell(proposals, scores)
        best = algorithm.best
        run.add(RoundDone(proposals[0].round, spent, count, best[0] if best else None, best[1] if best else None,
                          None, 0.0))
    run.end(stopped=False)
    run.algorithm_best = algorithm.best
    return run


def trace(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t["name"] == name)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_gets_a_best_line_from_its_first_finished_sample(name):
    run = stream(name)
    figure = charts.run_figure(run)
    line = trace(figure, "best so far")
    finished = [c for c in run.candidates if c.deliverable]
    # from the first deliverable sample (cem delivers one: the full render of its best draft, made last)
    assert len(line["x"]) >= (1 if name == "cem" else 2) and line["x"][0] == finished[0].nfe_spent
    # the steps baseline's result is its latest sample, by design (a pick by score would be a search)
    if name != "steps":
        assert line["y"] == sorted(line["y"]), "the best so far never goes down"
    winner = best_lib.best(run)
    assert (winner.id, winner.score) == run.algorithm_best == (run.best_id, run.best_score)   # the algorithm's own
    star = next(t for t in figure["data"] if t["name"].startswith("best: #"))
    assert star["y"] == [winner.score] and line["y"][-1] == winner.score
    held = trace(figure, "held (held out) of the best")
    assert held["yaxis"] == "y2" and figure["layout"]["yaxis2"]["domain"] != figure["layout"]["yaxis"]["domain"]


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_the_gallery_is_sorted_by_score_and_the_star_is_on_the_best(name):
    run = stream(name)
    rows = views.gallery_rows(run)
    finished = [c for c in rows if c.deliverable]
    drafts = [c for c in rows if c.finished and c.draft]
    previews = [c for c in rows if not c.finished]
    assert rows == finished + drafts + previews
    for part in (finished, drafts, previews):
        assert [(-c.score, c.id) for c in part] == sorted((-c.score, c.id) for c in part)
    captions = [text for _, text in views.gallery(run)]
    starred = [i for i, text in enumerate(captions) if text.startswith("★")]
    winner = best_lib.best(run)
    assert starred == [rows.index(winner)] and winner.id == run.algorithm_best[0]
    if name != "steps":   # where the algorithm's rule is "the highest score", it leads the gallery
        assert starred == [0]
    card = views.best_card(run)
    assert card.startswith(f"### Best so far: #{winner.id}")
    assert ("The highest score so far is" in card) == (rows[0].score > winner.score)   # said, when it is not the top
    assert all(text.split("\n")[1].startswith("draft") for text in captions[len(finished):][:len(drafts)])
    assert all(text.split("\n")[1].startswith("preview") for text in captions[len(finished) + len(drafts):])


def test_drafts_are_drawn_and_badged_apart_and_never_the_best():
    """cem scores few-step drafts and delivers the full render of its best: the drafts are hollow circles with
    their own line, the render is joined to its draft, and the best line and star follow the render alone."""
    run = stream("cem")
    drafts = [c for c in run.candidates if c.draft]
    assert len(drafts) == len(run.candidates) - 1 and not run.candidates[-1].draft
    figure = charts.run_figure(run)
    assert trace(figure, "drafts (few-step renders, not delivered)")["marker"]["symbol"] == "circle-open"
    assert len(trace(figure, "drafts (few-step renders, not delivered)")["x"]) == len(drafts)
    render = run.candidates[-1]
    link = trace(figure, "draft → its full render")
    assert link["x"] == [run.candidate(render.parent).nfe_spent, render.nfe_spent, None]
    assert trace(figure, "best so far")["y"] == [render.score]
    assert trace(figure, "best draft so far")["y"][-1] == max(c.score for c in drafts)
    assert views.gallery(run)[0][1].startswith("★") and views.gallery(run)[1][1].startswith("✎")
    early = stream("cem", stop_after=3)   # drafts only so far: the card and the best image say so
    assert best_lib.best(early) is None and "best **draft** so far" in views.best_card(early)
    assert views.best_path(early) == best_lib.best_draft(early).image_path


@pytest.mark.parametrize("name", ["smc", "prune", "paths"])
def test_previews_are_drawn_and_badged_apart_and_never_the_best(name):
    run = stream(name)
    figure = charts.run_figure(run)
    previews = trace(figure, "previews (clean estimates of noisy states)")
    assert previews["marker"]["symbol"] == "diamond-open" and len(previews["x"]) > 0
    assert len(trace(figure, "candidates")["x"]) == sum(c.finished for c in run.candidates)
    assert best_lib.best(run).finished
    early = stream(name, stop_after=2)   # only previews scored so far: the card says so, the best image is one
    assert best_lib.best(early) is None and "best **preview** so far" in views.best_card(early)
    assert views.best_path(early) == best_lib.best_preview(early).image_path


@pytest.mark.parametrize("name", ["random", "zero-order", "evolution"])
def test_after_stop_mid_round_the_card_shows_the_best_found_so_far(name):
    run = stream(name, stop_after=5)
    top = max((c for c in run.candidates if c.finished), key=lambda c: c.score)
    assert best_lib.best(run) is top and f"#{top.id}" in views.best_card(run)
    assert views.gallery(run)[0][1].startswith("★ ")


def test_a_loaded_run_draws_the_same_best_as_the_live_one():
    live = stream("zero-order")
    loaded = LiveRun(candidates=list(live.candidates), rounds=list(live.rounds))
    assert best_lib.line(loaded) == best_lib.line(live) and best_lib.best(loaded) is best_lib.best(live)


def test_the_cost_axis_switches_between_nfes_seconds_and_verifier_calls():
    run = stream("random")
    for cost, title in best_lib.COSTS.items():
        figure = charts.run_figure(run, cost=cost)
        assert figure["layout"]["xaxis2"]["title"]["text"] == title
        xs = trace(figure, "candidates")["x"]
        assert xs == sorted(xs) and len(xs) == len(run.candidates)
    assert trace(charts.run_figure(run, cost="calls"), "candidates")["x"][:3] == [1, 2, 3]
    assert trace(charts.run_figure(run, cost="seconds"), "candidates")["x"][-1] == pytest.approx(
        0.01 * len(run.candidates))
    with pytest.raises(ValueError, match="cost must be one of nfe, seconds, calls"):
        charts.run_figure(run, cost="minutes")


def test_the_verdict_line_puts_search_against_more_steps():
    run, base = stream("random", budget=60), stream("steps", budget=60)
    text = views.verdict(run, base)
    mine, theirs = best_lib.best(run), best_lib.best(base)
    assert text == (f"search {views.fmt(mine.score)} vs more steps {views.fmt(theirs.score)} at 60 NFEs; "
                    f"held-out held {views.fmt(mine.evals['held'])} vs {views.fmt(theirs.evals['held'])}")
    assert views.verdict(run, LiveRun()) == ""


def test_the_estimate_counts_the_baseline_timed_apart(monkeypatch):
    from tsearch.app import estimate as estimate_lib
    from tsearch.app.estimate import Estimator

    monkeypatch.setattr(estimate_lib, "busy_now", lambda: 1.0)   # a machine no busier than when measured
    estimator = Estimator()
    estimator.observe("m", 2.0, 200)                   # the search: 10 ms per NFE
    assert estimator.seconds("m", 800) == pytest.approx(8.0)
    assert estimator.seconds("m", 800, baseline=True) is None   # the baseline not timed yet: no figure, no guess
    estimator.observe("m", 6.0, 200, baseline=True)    # one sample at a time: 30 ms per NFE
    assert estimator.seconds("m", 800, baseline=True) == pytest.approx(8.0 + 24.0)
    text = estimator.text("m", 800, baseline=True)
    assert text.startswith("800 NFEs take about 8 s here") and "the Run takes about 32 s" in text
    assert "from the last Run" in text and "baseline" not in estimator.text("m", 800)


def test_on_a_machine_busier_than_when_measured_the_estimate_is_a_range(monkeypatch):
    from tsearch.app import estimate as estimate_lib
    from tsearch.app.estimate import Estimator

    estimator = Estimator()
    estimator.observe("m", 4.0, 400, cpu=2.0)          # 10 ms per NFE while the CPU was shared 2-fold
    monkeypatch.setattr(estimate_lib, "busy_now", lambda: 6.0)   # now 6 processes want each core
    assert estimator.span("m", 800) == pytest.approx((8.0, 24.0))
    text = estimator.text("m", 800)
    assert text.startswith("800 NFEs take about 8-24 s here") and "the machine is busier now, 3.0x" in text
    monkeypatch.setattr(estimate_lib, "busy_now", lambda: 2.2)   # about as busy as then: one figure
    assert estimator.text("m", 800).startswith("800 NFEs take about 8 s here")


def test_the_first_estimate_times_a_short_real_search_with_its_verifiers_and_evaluator(tmp_path, monkeypatch):
    """One candidate alone, then two full batches, on the engine path a Run takes: the seconds to the first
    candidate are counted apart from the rate, and the calibration's run folder is removed."""
    from tsearch.app import estimate as estimate_lib
    from tsearch.app import one_path, timing
    from tsearch.app.estimate import Estimator, Figure

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path))
    monkeypatch.setattr(one_path, "ESTIMATOR", Estimator())
    scored = []
    real_run = estimate_lib.engine.run
    monkeypatch.setattr(estimate_lib.engine, "run", lambda plan, **kw: scored.append(plan) or real_run(plan, **kw))
    text = timing.estimate("gmm", 300, cls=1, batch_size=4)
    (plan,) = scored
    assert plan.config.verifiers == ("gmm-density",) and plan.config.batch_size == 4
    figure = one_path.ESTIMATOR.figure("gmm")
    per_candidate = plan.costs.full(plan.steps)
    assert figure.first_nfe == per_candidate and figure.first > 0 and figure.per_nfe > 0
    assert figure.seconds(300) == pytest.approx(figure.first + figure.per_nfe * (300 - per_candidate))
    assert text.startswith("300 NFEs take ") and "from a short calibration search" in text
    assert figure.busy >= 1.0
    assert not any(tmp_path.rglob("run.json")), "the calibration's run folder is removed"
    assert Figure(0.01, 1.0, 20).seconds(10) == pytest.approx(0.5)   # a budget inside the first candidate


def test_a_run_with_the_baseline_ends_on_a_verdict(tmp_path, monkeypatch):
    from tsearch.app import handlers
    from tsearch.app.state import Session

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path))
    session = Session()
    *_, last = handlers.search(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random",
                               budget=150, steps=10, seed=0, evaluator="gmm-density", baseline=True, batch_size=4,
                               session=session)
    status = last[0]
    assert status.startswith("Done") and " · search " in status and " vs more steps " in status
    assert "at 150 NFEs; held-out gmm-density " in status   # 10 + 20 + 40 + 80 steps: the baseline spends 150 too
    # the baseline's result is shown beside the best, labelled with its scores
    shown = handlers.baseline_view(session)
    more = best_lib.best(session.shown.baseline)
    assert shown["visible"] and shown["value"] == more.image_path and more.image_path != last[1]
    assert shown["label"] == "More steps (the baseline)"
    assert f"**More steps** (one noise, {more.nfe} NFEs; its image beside the best): {views.fmt(more.score)} · " \
        f"gmm-density (held out) {views.fmt(more.evals['gmm-density'])}" in last[2]
    *_, last = handlers.search(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random",
                               budget=60, steps=10, seed=0, session=session)
    assert handlers.baseline_view(session)["visible"] is False   # a Run without it hides the last one's


def test_gmm_is_drawn_as_samples_over_the_density(tmp_path):
    from PIL import Image

    from tsearch.app.density import gmm_figure
    from tsearch.models.gmm import GaussianMixture

    model = GaussianMixture()
    rows = []
    for k in range(len(model.means)):   # a sample exactly at each component's mean, scored by its index
        x = model.means[k].reshape(3, 8, 8).float()
        path = tmp_path / f"{k}.png"
        Image.fromarray((model.decode(x).permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(path)
        rows.append(Candidate(k, None, 0, float(k), Scores(("v",), (float(k),)), Scores(), 10, 10 * (k + 1), 0.0, (),
                              image_path=str(path)))
    run = LiveRun(condition=1, candidates=rows)
    figure = gmm_figure(run, model.means, model.variance)
    samples, star = figure["data"][0], figure["data"][-1]
    circles = figure["layout"]["shapes"]
    assert len(circles) == 2 * len(model.means)
    centres = [((c["x0"] + c["x1"]) / 2, (c["y0"] + c["y1"]) / 2) for c in circles[::2]]
    for (x, y), (cx, cy) in zip(zip(samples["x"], samples["y"]), centres):   # each sample sits on its mean
        assert x == pytest.approx(cx, abs=0.02) and y == pytest.approx(cy, abs=0.02)
    radius = (circles[0]["x1"] - circles[0]["x0"]) / 2
    assert radius == pytest.approx(model.variance ** 0.5)
    assert star["name"] == f"best: #{len(rows) - 1}" and circles[2]["line"]["width"] > circles[0]["line"]["width"]


def test_a_loaded_run_puts_its_settings_back_and_a_running_search_keeps_its_own(tmp_path, monkeypatch):
    from tsearch.app import catalog, files_tab, handlers, restore
    from tsearch.app.export import export_zip
    from tsearch.app.state import Session
    from tsearch.models import MODEL_OPTIONS

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path))
    *_, last = handlers.search(model="gmm", prompt="", cls=2, verifiers=["gmm-density"], algorithm="zero-order",
                               budget=120, steps=6, seed=7, evaluator="gmm-density", batch_size=3,
                               session=Session(), zero_order_lam=0.8, zero_order_n=3, final_steps=10, final_top=2,
                               solver="heun")
    archive = export_zip(last[5]["run_dir"])
    c = {key: key for key in restore.MODEL_CONTROLS + restore.RUN_CONTROLS}
    c["option_inputs"] = {f.key: f.key for f in catalog.all_option_fields()}
    c["model_option_inputs"] = {name: name for name in MODEL_OPTIONS}
    session = Session()
    files_tab.load(str(archive), session)
    shown = dict(zip(restore.outputs(c), restore.restore(c, session)))
    assert [shown[k]["value"] for k in restore.RUN_CONTROLS] == ["gmm", "zero-order", 7, 3, "heun", 10, 2]
    assert shown["cls"]["value"] == 2 and shown["cls"]["visible"] and not shown["prompt"]["visible"]
    assert shown["verifiers"]["value"] == ["gmm-density"] and shown["evaluator"]["value"] == "gmm-density"
    assert shown["budget"]["value"] == 120 and shown["steps"]["value"] == 6
    assert shown["zero_order_lam"]["value"] == 0.8 and shown["zero_order_n"]["value"] == 3
    assert shown["zero_order_rounds"]["value"] == 0                    # the run's default, put back too
    others = [f.key for f in catalog.all_option_fields() if f.algorithm != "zero-order"]
    assert others and all("value" not in shown[key] for key in others)   # other algorithms' fields left as they are
    assert shown["estimate"].startswith("120 NFEs take")
    session.current = object()   # this tab's search is running: its controls stay as it was started with
    assert all(update == {"__type__": "update"} for update in restore.restore(c, session))

