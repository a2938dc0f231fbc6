"""The app's handlers driven directly (no server): streaming order, throttling, Stop, bad input, compare, export.

Uses the analytic `gmm` model so the tests need no trained weights; a tiny text model registered
here stands in for `shapes` where a caption grammar matters.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gradio as gr
import pytest
import torch

from tsearch.app import catalog, charts, compare, files_tab, handlers, state, views
from tsearch.app.state import Session
from tsearch.models import MODELS
from tsearch.models.base import Model
from tsearch.registry import Entry
from tsearch.runs import load_run

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="zero-order", budget=200, steps=10,
           seed=0, evaluator="gmm-density", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))


class FakeShapes(Model):
    """A text-to-image stand-in for `shapes`: it accepts exactly the shapes caption grammar."""
    name = "fake-shapes"
    conditioning = "text"
    noise_shape = (3, 32, 32)
    default_steps = 2

    def encode(self, condition):
        from tsearch.worlds.shapes import grammar

        grammar.parse(condition)
        return condition

    def forward_x0(self, x, cond, sigma):
        return torch.tanh(x)

    def decode(self, x):
        return ((x.float() + 1) / 2).clamp(0, 1)


def fake_shapes(device="cpu", **options):
    return FakeShapes()


@pytest.fixture
def text_model(monkeypatch):
    monkeypatch.setitem(MODELS, "fake-shapes", Entry(f"{__name__}:fake_shapes", "test stand-in for shapes"))
    return dict(GMM, model="fake-shapes", prompt="a red circle", cls=None, verifiers=["shapes-oracle"],
                evaluator="", steps=2, budget=8)


def fields(update) -> dict:
    return dict(zip(handlers.SEARCH_OUTPUTS, update))


def traces(plot) -> dict:
    """gr.Plot's value (plotly JSON) as {trace name: trace}."""
    return {trace["name"]: trace for trace in json.loads(plot.plot)["data"]}


def test_streams_in_order_and_agrees_with_the_run_on_disk():
    updates = [fields(u) for u in handlers.search(**GMM, session=Session())]
    assert len(updates) >= 2
    first, last = updates[0], updates[-1]
    assert first["status"].startswith("Running") and first["details"]["candidates"] == 1  # sent at the first candidate
    spent = [u["details"]["nfe_spent"] for u in updates]
    counts = [u["details"]["candidates"] for u in updates]
    assert spent == sorted(spent) and counts == sorted(counts)
    assert last["status"].startswith("Done") and last["details"]["nfe_spent"] == 200 and counts[-1] == 20

    run = load_run(last["details"]["run_dir"])
    assert len(run.candidates) == 20 and run.summary["best_id"] == last["details"]["best_id"]
    # every image is the file the run wrote once; the gallery holds the top and the latest, best first
    assert len(list((run.root / "images").glob("*.png"))) == 20
    gallery = last["gallery"]
    assert 0 < len(gallery) <= views.SHOWN
    assert all(Path(path).parent == run.root / "images" for path, _ in gallery)
    assert gallery[0][1] == views.caption(run.candidates[run.summary["best_id"]], run.summary["best_id"])
    assert gallery[0][1].startswith("★ ") and gallery[0][1].endswith(f" NFE · #{run.summary['best_id']}")
    assert float(gallery[0][1].split()[1]) == pytest.approx(run.summary["best_score"], rel=1e-5)   # the score in full
    assert last["best_image"] == str(run.root / "images" / f"{run.summary['best_id']:06d}.png")
    assert "Recipe: `gaussian(seed=" in last["best_card"]

    chart = traces(last["chart"])
    candidates = chart["candidates"]
    assert candidates["x"] == [row["nfe_spent"] for row in run.candidates]
    assert candidates["y"] == pytest.approx([row["score"] for row in run.candidates])
    assert chart["best so far"]["y"][-1] == pytest.approx(run.summary["best_score"])
    held_out = chart["gmm-density (held out) of the best"]
    assert held_out["yaxis"] == "y2" and held_out["y"][-1] == pytest.approx(run.summary["best_score"])


def test_updates_are_throttled_and_the_last_is_always_sent(monkeypatch):
    monkeypatch.setattr(state, "UPDATE_INTERVAL", 60.0)
    updates = [fields(u) for u in handlers.search(**GMM, session=Session())]
    assert len(updates) == 2   # the first candidate at once, then nothing until the final update
    assert updates[0]["details"]["candidates"] == 1 and updates[1]["details"]["candidates"] == 20


def test_stop_ends_at_once_keeps_everything_and_the_next_run_starts_clean():
    session = Session()
    search = handlers.search(**dict(GMM, budget=20000, batch_size=1), session=session)
    first = fields(next(search))
    handlers.stop(session)
    rest = [fields(u) for u in search]
    last = rest[-1]
    assert last["status"].startswith("Stopped") and last["details"]["stopped"]
    assert last["details"]["nfe_spent"] < 20000 and len(rest) <= 2
    run = load_run(first["details"]["run_dir"])
    assert run.summary["stopped"] is True
    assert len(run.candidates) == last["details"]["candidates"]   # what was shown is what was kept

    again = [fields(u) for u in handlers.search(**GMM, session=session)]
    assert again[-1]["status"].startswith("Done")
    assert again[-1]["details"]["run_dir"] != first["details"]["run_dir"]
    assert again[-1]["details"]["candidates"] == 20 == len(load_run(again[-1]["details"]["run_dir"]).candidates)
    handlers.stop(session)   # nothing running: harmless


def test_a_new_run_in_the_same_tab_stops_the_old_one_and_closing_stops_the_engine():
    session = Session()
    old = handlers.search(**dict(GMM, budget=20000, batch_size=1), session=session)
    old_dir = fields(next(old))["details"]["run_dir"]
    new = handlers.search(**dict(GMM, budget=20000, batch_size=1), session=session)
    new_dir = fields(next(new))["details"]["run_dir"]
    assert fields(list(old)[-1])["status"].startswith("Stopped")
    new.close()   # what a cancelled gradio job does to the handler
    assert load_run(old_dir).summary["stopped"] and load_run(new_dir).summary["stopped"]


def test_two_sessions_are_independent():
    a, b = Session(), Session()
    run_a = handlers.search(**dict(GMM, budget=20000, batch_size=1), session=a)
    next(run_a)
    done_b = [fields(u) for u in handlers.search(**dict(GMM, seed=5), session=b)]
    handlers.stop(b)   # stopping tab b does not touch tab a
    more_a = fields(next(run_a))
    assert more_a["status"].startswith("Running")
    handlers.stop(a)
    list(run_a)
    assert done_b[-1]["status"].startswith("Done") and a.last_run_dir != b.last_run_dir


@pytest.mark.parametrize("change, message", [
    (dict(prompt=""), "write a prompt"),
    (dict(prompt="a purple elephant"), "cannot parse caption"),
    (dict(prompt="a red circle", budget=1), "below one candidate"),
    (dict(verifiers=[]), "choose at least one verifier"),
    (dict(model="no-such-model"), "unknown model 'no-such-model'"),
    (dict(verifiers=["no-such-verifier"]), "unknown verifier"),
    (dict(algorithm="annealing"), "unknown algorithm"),
    (dict(steps=-3), "steps must be at least 1"),
])
def test_bad_input_is_a_clear_error_and_the_app_keeps_working(text_model, change, message):
    session = Session()
    with pytest.raises(gr.Error, match=message):
        list(handlers.search(**dict(text_model, **change), session=session))
    assert session.current is None
    done = [fields(u) for u in handlers.search(**text_model, session=session)]
    assert done[-1]["status"].startswith("Done") and done[-1]["details"]["candidates"] == 4


def test_an_unavailable_model_says_why(monkeypatch):
    monkeypatch.setitem(MODELS, "missing", Entry("tsearch.no_such_module:build", "a model whose code is missing"))
    with pytest.raises(gr.Error, match="unavailable here: cannot import"):
        list(handlers.search(**dict(GMM, model="missing"), session=Session()))


def test_paths_and_the_steps_baseline():
    updates = [fields(u) for u in handlers.search(**dict(GMM, algorithm="paths", budget=200, paths_n=2,
                                                          paths_m=2, paths_l=2,
                                                          baseline=True), session=Session())]
    last = updates[-1]
    run = load_run(last["details"]["run_dir"])
    assert run.config["options"] == {"n": 2, "m": 2, "L": 2}
    finished = [r for r in run.candidates if r["t_end"] == 0.0]
    assert finished and len(finished) < len(run.candidates)
    chart = traces(last["chart"])
    assert chart["best so far"]["y"][-1] == pytest.approx(max(r["score"] for r in finished))
    baseline = chart["more denoising steps, one noise"]
    assert len(baseline["x"]) >= 2 and max(baseline["x"]) <= 200


def test_compare_overlays_runs_and_shows_their_best_images_side_by_side():
    session = Session()
    updates = list(compare.compare(**dict(GMM, budget=100), mode="algorithms", algorithms=["random", "zero-order"],
                                    session=session))
    status, figure, cards, _ = updates[-1]
    assert status.startswith("Compared 2 runs")
    names = list(traces(figure))
    assert "random" in names and "zero-order" in names
    assert [caption.split(":")[0] for _, caption in cards] == ["random", "zero-order"]
    with pytest.raises(gr.Error, match="at least two"):
        list(compare.compare(**GMM, mode="verifiers", compare_verifiers=["gmm-density"], session=session))


def test_export_and_load_round_trip():
    session = Session()
    with pytest.raises(gr.Error, match="nothing to export"):
        files_tab.export(session)
    last = fields(list(handlers.search(**GMM, session=session))[-1])
    archive = files_tab.export(session)
    names = zipfile.ZipFile(archive).namelist()
    assert {"run.json", "candidates.jsonl", "best.png"} <= set(names)
    assert sum(n.startswith("images/") for n in names) == 20
    loaded = fields(files_tab.load(archive, Session()))
    assert loaded["details"]["best_id"] == last["details"]["best_id"]
    assert loaded["details"]["candidates"] == 20 and "loaded" in loaded["status"]
    assert [c for _, c in loaded["gallery"]] == [c for _, c in last["gallery"]]
    with pytest.raises(gr.Error, match="zip"):
        files_tab.load(str(Path(last["details"]["run_dir"]) / "run.json"))


def test_load_refuses_a_zip_that_is_not_a_run(tmp_path):
    bad = tmp_path / "other.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(gr.Error, match="no run.json"):
        files_tab.load(str(bad))
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../run.json", json.dumps({}))
    with pytest.raises(gr.Error, match="refusing"):
        files_tab.load(str(evil))


def test_options_come_from_the_algorithms_with_their_explanations():
    by_key = {f.key: f for f in catalog.all_option_fields()}
    assert by_key["zero_order_lam"].default == 0.95 and "cosine" in by_key["zero_order_lam"].help
    assert by_key["zero_order_on_stall"].choices == ("keep", "restart")
    assert "re-noised" in by_key["paths_delta_f"].help and by_key["paths_l"].name == "L"
    assert catalog.options_for("paths", {"paths_m": 2.0, "paths_n": 4, "zero_order_n": 9}) == {"m": 2}
    assert "Zero-order" in catalog.algorithm_doc("zero-order")


def test_default_model_prefers_the_planners_pick_then_shapes_and_says_why_it_fell_back(monkeypatch):
    first = catalog.PLANNED.model   # the compute planner's pick (docs/planner.md)
    rows = [("gmm", True, "ok", "g"), (first, False, "weights not found", "p"), ("shapes", False, "gone", "s")]
    monkeypatch.setattr(catalog, "models", lambda: rows)
    name, note = catalog.default_model()
    assert name == "gmm" and first in note and "weights not found" in note
    monkeypatch.setattr(catalog, "models", lambda: [("gmm", True, "ok", "g"), (first, False, "weights not found", "p"),
                                                    ("shapes", True, "ok", "s")])
    assert catalog.default_model()[0] == "shapes"
    monkeypatch.setattr(catalog, "models", lambda: [("gmm", True, "ok", "g"), (first, True, "ok", "p"),
                                                    ("shapes", True, "ok", "s")])
    assert catalog.default_model() == (first, "")
    monkeypatch.setattr(catalog, "available_verifiers", lambda: ["shapes-clip", "shapes-oracle"])
    assert catalog.preset("shapes").evaluator == "shapes-oracle"
    monkeypatch.setattr(catalog, "available_verifiers", lambda: ["gmm-density"])
    assert catalog.preset("shapes").verifiers == () and catalog.preset("shapes").evaluator is None


def test_estimate_is_measured_here():
    from tsearch.app import timing

    text = timing.estimate("gmm", 300)
    assert text.startswith("300 NFEs take") and "ms per NFE" in text
    assert timing.estimate("no-such-model", 300) == ""


def test_the_chart_draws_the_best_the_algorithm_reported_and_derives_none():
    from tsearch.app.state import LiveRun
    from tsearch.candidate import Candidate, Scores

    rows = [Candidate(i, None, i, s, Scores(), Scores(), 10, 10 * (i + 1), t, ())
            for i, (s, t) in enumerate([(1.0, 0.0), (5.0, 0.5), (2.0, 0.0), (0.5, 0.0)])]
    # a paths-like run reports its best finished sample; the steps baseline its latest: the chart follows either
    paths = LiveRun(algorithm="paths", candidates=rows, rounds=[(10, 0, 1.0), (20, 0, 1.0), (30, 2, 2.0), (40, 2, 2.0)])
    steps = LiveRun(algorithm="steps", candidates=rows, rounds=[(10, 0, 1.0), (20, 1, 5.0), (30, 2, 2.0), (40, 3, 0.5)])
    assert [c[1] for c in charts.best_curve(paths)] == [1.0, 1.0, 2.0, 2.0]
    assert [c[1] for c in charts.best_curve(steps)] == [1.0, 5.0, 2.0, 0.5]
    assert [c[3] for c in charts.best_curve(steps)] == [0, 1, 2, 3]


def test_model_controls_follow_the_chosen_model(monkeypatch):
    from tsearch.app.choices import model_controls
    from tsearch.app.pool import POOL

    note, prompt, examples, cls, verifiers, evaluator, budget, steps, estimate, box, *model_options = \
        model_controls("gmm", 300, False)
    assert box["visible"] is False and len(model_options) == 5 and not any(o["visible"] for o in model_options)
    assert cls["visible"] and cls["choices"] and cls["value"] == 1 and prompt["visible"] is False
    assert verifiers["value"] == ["gmm-density"] and steps["value"] == 10 and "NFEs take" in estimate
    # a hub model is never loaded (or downloaded) just to describe it: it loads on Run
    monkeypatch.setitem(MODELS, "hub-model", Entry("tsearch.models.gmm:build", "stands in for a hub model", kind="diffusers"))
    monkeypatch.setattr(POOL, "describe", lambda name: pytest.fail("a hub model was loaded to describe it"))
    note, *rest = model_controls("hub-model", 300, False)   # not offered: nothing follows it
    assert note == "**hub-model**: stands in for a hub model" and all(u == gr.update() for u in rest[:7])
    monkeypatch.setenv("TSEARCH_APP_MODELS", "hub-model")   # the host offers it
    note, prompt, _, cls, *_, steps, estimate, box, height, width, guidance, negative, length = \
        model_controls("hub-model", 300, False)
    assert "loads when you press Run" in note and prompt["visible"] and cls["allow_custom_value"]
    assert steps["value"] is None and "measured once the model has loaded" in estimate
    monkeypatch.setitem(MODELS, "missing", Entry("tsearch.no_such_module:build", "a model whose code is missing"))
    note, *rest = model_controls("missing", 300, False)
    assert "unavailable here" in note and "cannot import" in note


def test_off_zerogpu_the_app_runs_batches_in_process(monkeypatch):
    from tsearch.app import form, gpu, one_path
    from tsearch.app.pool import POOL

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    plan = one_path.prepared(form.build("gmm", "class", cls=1, verifiers=["gmm-density"], algorithm="random",
                                        budget=200, steps=10, seed=0, batch_size=4))
    assert gpu.batch_runner(plan) is None and gpu.POOLS["app"] is POOL
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    runner = gpu.batch_runner(plan, "app", 0.01)
    assert isinstance(runner, gpu.ZeroGPURunner) and runner.per_nfe == 0.01


def _note(demo):
    (note,) = [block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "fallback-note"]
    return note


def test_the_page_says_so_when_it_falls_back_to_gmm(monkeypatch):
    from tsearch.app import ui
    from tsearch.app.pool import POOL
    from tsearch.registry import Unavailable

    rows = [("gmm", True, "ok", "g"), (catalog.PLANNED.model, False, "shapes generator weights not found", "p"),
            ("shapes", False, "shapes generator weights not found", "s")]
    monkeypatch.setattr(catalog, "models", lambda: rows)
    note = _note(ui.build_demo())
    assert note.visible and catalog.PLANNED.model in note.value and "weights not found" in note.value
    # listed as available yet failing to load: still a note, never a crash
    monkeypatch.setattr(catalog, "default_model", lambda: ("shapes", ""))
    real = POOL.describe
    monkeypatch.setattr(POOL, "describe",
                        lambda name: (_ for _ in ()).throw(Unavailable("broken weights")) if name == "shapes" else real(name))
    note = _note(ui.build_demo())
    assert note.visible and "could not be loaded" in note.value and "broken weights" in note.value


def broken_model(device="cpu", **options):
    from tsearch.registry import Unavailable

    raise Unavailable("weights could not be fetched (offline)")


def test_a_model_that_fails_to_load_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(MODELS, "broken", Entry(f"{__name__}:broken_model", "lists as available, fails to load"))
    session = Session()
    with pytest.raises(gr.Error, match="cannot load the broken model here: weights could not be fetched"):
        list(handlers.search(**dict(GMM, model="broken"), session=session))
    assert session.current is None
    assert fields(list(handlers.search(**GMM, session=session))[-1])["status"].startswith("Done")


def test_on_zerogpu_a_long_search_runs_as_one_gpu_call_per_batch_and_a_too_big_batch_is_refused(monkeypatch):
    from tsearch.app import gpu, one_path

    monkeypatch.setattr(gpu, "on_zerogpu", lambda: True)
    monkeypatch.setattr(one_path.ESTIMATOR, "per_nfe", lambda model: 0.1)   # 100 ms per NFE
    calls = []
    real = gpu.gpu_call   # off a Space spaces.GPU left it the plain function: it runs here, found through POOLS
    monkeypatch.setattr(gpu, "gpu_call", lambda *args: calls.append(args[-1]) or real(*args))
    old_limit = int((gpu.ZEROGPU_MAX_SECONDS - 10) / (1.5 * 0.1))   # the most one search could spend before
    updates = list(handlers.search(**dict(GMM, budget=old_limit + 67, algorithm="random"), session=Session()))
    assert updates[-1][0].startswith("Done") and "800 NFEs" in updates[-1][0]
    assert len(calls) == 800 // (10 * 4) and max(calls) <= gpu.ZEROGPU_MAX_SECONDS   # 20 batches of 4 candidates
    fits = int((gpu.ZEROGPU_MAX_SECONDS - 10) / (1.5 * 0.1))
    with pytest.raises(gr.Error, match=f"a batch may spend at most {fits} NFEs: lower the batch size"):
        list(handlers.search(**dict(GMM, batch_size=fits // 10 + 1), session=Session()))


def test_the_best_card_writes_the_new_recipe_ops_readably():
    from tsearch.recipes import recipe_text
    from tsearch.search.base import CoarseNoise, Crossover, Gaussian, Neighbour, op_to_dict

    rows = [op_to_dict(op) for op in (Gaussian(3), Crossover(0.7, (Gaussian(5), Neighbour(2, 0.9))),
                                      CoarseNoise(4, 2, (0.1,) * 4))]
    assert recipe_text(rows) == ("gaussian(seed=3) → crossover(cos=0.7, with [gaussian(seed=5) → "
                                       "neighbour(cos=0.9, seed=2)]) → coarse-band noise(seed=4, 2x2 cells)")
