"""Issue 25, driven through the handlers (the served app is tests/test_app_fuzz.py): a failure of any kind is a
message, never an escape; the live arena takes checked values, stops, shares the page's search slots, leaves no
folder and promises a measured duration; /compare is held to a Run's cap; a loaded run's settings pass a typed
Run's checks, each refusal naming the setting."""

from __future__ import annotations

import glob
import json
import zipfile

import gradio as gr
import pytest

from tsearch.app import compare, contain, files_tab, handlers, restore, runs_root
from tsearch.app.state import Session
from tsearch.arena import live

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40, steps=4,
           seed=0, evaluator="", batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    runs_root._last_cleanup.clear()


@pytest.fixture(scope="module")
def demo():
    from tsearch.app import build_demo
    from tsearch.app import mcp as tool

    return tool.add_tool(build_demo(model="gmm"))


# --- nothing escapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("raised", [SystemExit(2), KeyboardInterrupt(), ValueError("bad"), MemoryError()])
def test_any_failure_of_a_handler_leaves_it_as_a_message(raised):
    def plain():
        raise raised

    def streaming():
        yield 1
        raise raised

    with pytest.raises(gr.Error) as caught:
        contain.contained(plain, "the handler")()
    assert "the handler failed on an unexpected error" in caught.value.message or caught.value.message == "bad"
    updates = contain.contained(streaming, "the stream")()
    assert next(updates) == 1
    with pytest.raises(gr.Error, match=type(raised).__name__):
        next(updates)


def test_a_closed_stream_still_runs_its_finally():
    ended = []

    def streaming():
        try:
            yield 1
            yield 2
        finally:
            ended.append(True)

    updates = contain.contained(streaming)()
    next(updates)
    updates.close()   # gradio closes an abandoned job's generator: GeneratorExit must reach it
    assert ended == [True]


def test_every_function_the_page_registers_is_contained(demo):
    registered = [f for f in demo.fns.values() if f.fn is not None]
    assert len(registered) > 50 and all(getattr(f.fn, contain.MARK, False) for f in registered)


def test_the_pages_run_and_compare_say_a_system_exit_in_their_status_line(monkeypatch):
    def exits(*args, **kwargs):
        raise SystemExit(2)

    monkeypatch.setattr(handlers, "check_names", exits)
    monkeypatch.setattr(compare, "check_names", exits)
    (run,) = handlers.search_page(**GMM, session=Session())
    assert run[0]["value"].startswith("**Run failed on an unexpected error (SystemExit: 2)")
    assert run[0]["elem_classes"] == [contain.REFUSED] and all(u == gr.skip() for u in run[1:])
    (said,) = compare.compare_page(**GMM, mode="algorithms", algorithms=["random", "tree"], session=Session())
    assert said[0]["value"].startswith("**Compare failed on an unexpected error (SystemExit: 2)") and len(said) == 4


def test_a_long_value_is_shortened_in_every_message():
    (run,) = handlers.search_page(**dict(GMM, model="x" * 5000), session=Session())
    assert len(run[0]["value"]) < 400 and "xxx..." in run[0]["value"]


def test_a_choice_field_names_itself_and_shortens_the_value(demo):
    split = next(b for b in demo.blocks.values() if isinstance(b, gr.Radio) and b.label == "Split")
    with pytest.raises(gr.Error) as caught:
        split.preprocess("x" * 5000)
    assert caught.value.message.startswith("split (the field \"Split\"): choose from 'hard', 'easy'; got 'xxx")
    assert len(caught.value.message) < 200
    captions = next(b for b in demo.blocks.values() if isinstance(b, gr.Slider) and b.label == "Captions")
    with pytest.raises(gr.Error, match=r"captions \(the field \"Captions\"\): expected a number, got null"):
        captions.preprocess(None)


# --- the live arena ------------------------------------------------------------------------------

@pytest.mark.parametrize("split, captions, methods, steps, message", [
    (None, 1, ["random"], 2, "split: choose one of hard, easy, got None"),
    ("hard", 0, ["random"], 2, "captions: from 1 to 12 in a live arena, got 0"),
    ("hard", 10 ** 400, ["random"], 2, "captions: from 1 to 12 in a live arena, got 1000"),
    ("hard", 2.5, ["random"], 2, "captions: a whole number from 1 to 12, got 2.5"),
    ("hard", float("nan"), ["random"], 2, "captions: a whole number from 1 to 12, got nan"),
    ("hard", 2, ["random"], True, "steps: a whole number from 1 to 10, got True"),
    ("hard", 2, ["random"], 11, "steps: from 1 to 10 in a live arena, got 11"),
    ("hard", 2, [], 2, "methods: choose at least one of"),
    ("hard", 2, "tree", 2, "methods: a list of method names"),
    ("hard", 2, ["tsearch.search.random:Random"], 2, "methods: 'tsearch.search.random:Random' is not one"),
])
def test_the_live_arena_checks_each_value_first_and_names_it(split, captions, methods, steps, message):
    from tsearch.app.arena_tab import run_live

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        live.check(split, captions, methods, steps)
    (said,) = run_live(split, captions, methods, steps, Session())
    assert said[0]["value"].startswith("**Arena refused: ") and said[0]["elem_classes"] == ["refused"]


def test_the_live_arena_offers_every_registered_method_that_fits(demo):
    from tsearch.arena.cli import _fits
    from tsearch.models.shapes import ShapesModel
    from tsearch.search import Costs

    costs = Costs(ShapesModel.default_solver, 1)
    fits = [m for m in live.registered() if any(_fits(m, 4 * costs.full(s), costs, s) for s in range(1, 11))]
    assert list(live.offered()) == fits and "random-draft" in fits and len(fits) >= 8
    (boxes,) = [b for b in demo.blocks.values() if str(getattr(b, "label", "")).startswith("Methods (")]
    assert [value for _, value in boxes.choices] == fits   # the Arena tab's picker: the registries', no hand list


def test_the_live_arena_shares_the_pages_search_slots_and_has_a_stop(demo):
    from tsearch.app.pool import CONCURRENCY

    arena = next(f for f in demo.fns.values() if getattr(f.fn, "__wrapped__", None).__name__ == "run_live")
    run = next(f for f in demo.fns.values() if f.api_name == "search")
    assert arena.concurrency_id == run.concurrency_id == "search"
    assert arena.concurrency_limit == run.concurrency_limit == CONCURRENCY
    stop = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "arena-stop")
    assert any(stop._id in [t[0] for t in f.targets] and f.fn is not None for f in demo.fns.values())


def test_a_stopped_live_arena_shows_what_ran_its_promise_is_measured_and_its_folder_goes():
    from tsearch.app import arena_tab
    from tsearch.app.one_path import ESTIMATOR
    from tsearch.app.pool import POOL
    from tsearch.search import Costs

    if ESTIMATOR.figure("shapes") is None:   # as a finished Run on shapes leaves it (the page measures it once)
        ESTIMATOR.observe("shapes", 30.0, 1000)
    session = Session()
    updates = arena_tab.run_live("easy", 2, ["random", "tree"], 1, session)
    first = next(updates)
    assert first[0]["value"].startswith("Arena running: 1 of ")
    session.stop()
    *_, last = updates
    status, board, image = last
    assert status["value"].startswith("Stopped after 1 of ") and board.startswith("Metric:")
    assert session.current is None and not glob.glob(str(runs_root.runs_root() / "*live-arena*"))
    # the promise is the page's measured figure for the shapes model, summed over the arena's searches
    said = arena_tab.live_arena_estimate("hard", 3, ["tree", "smc"], 4)
    model = POOL.get("shapes").model
    budgets = live.cell_budgets(live.check("hard", 3, ["tree", "smc"], 4),
                                Costs(model.default_solver, model.nfe_per_eval))
    low = sum(ESTIMATOR.span("shapes", b)[0] for b in budgets)
    assert said.startswith(f"{len(budgets)} searches, {sum(budgets)} NFEs: about {low:.0f}")
    assert "seconds to a minute" not in json.dumps(said)


# --- /compare and loaded runs ----------------------------------------------------------------------

def test_compare_is_held_to_a_runs_cap_before_any_work(monkeypatch):
    monkeypatch.setattr(compare, "lend", lambda *a, **k: pytest.fail("a model was lent before the cap was checked"))
    with pytest.raises(gr.Error, match="budget: a Run spends at most 20,000 NFEs here; got 1,000,000,000"):
        list(compare.compare(**dict(GMM, budget=10 ** 9), mode="algorithms", algorithms=["random", "tree"]))
    (said,) = compare.compare_page(**dict(GMM, budget=10 ** 9), mode="algorithms", algorithms=["random", "tree"])
    assert said[0]["value"].startswith("**Compare refused: budget: a Run spends at most 20,000")


def _exported() -> str:
    from tsearch.app.export import export_zip

    *_, last = handlers.search(**GMM, session=Session())
    return str(export_zip(last[5]["run_dir"]))


def _with(archive: str, tmp_path, **changes) -> str:
    out = tmp_path / f"changed-{len(list(tmp_path.iterdir()))}.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("run.json"):
                run = json.loads(data)
                run["config"].update(changes)
                data = json.dumps(run).encode()
            dst.writestr(item, data)
    return str(out)


def _restored(session) -> dict:
    c = {key: key for key in restore.MODEL_CONTROLS + restore.RUN_CONTROLS}
    from tsearch.app import catalog
    from tsearch.models import MODEL_OPTIONS

    c["option_inputs"] = {f.key: f.key for f in catalog.all_option_fields()}
    c["model_option_inputs"] = {name: name for name in MODEL_OPTIONS}
    return dict(zip(restore.outputs(c), restore.restore(c, session)))


@pytest.mark.parametrize("changes, message", [
    (dict(budget=10 ** 9), "budget: a Run spends at most 20,000 NFEs here; got 1,000,000,000"),
    (dict(condition=99), "cls: the gmm component must lie in 0..3, got 99"),
    (dict(algorithm="tsearch.search.random:Random"), "unknown algorithm 'tsearch.search.random:Random'"),
])
def test_a_loaded_run_a_typed_run_would_refuse_is_shown_and_its_settings_not_put_back(tmp_path, changes, message):
    """A run made elsewhere (a CLI run over the page's cap, say) can still be looked at; nothing reaches the form."""
    archive = _exported()
    session = Session()
    view = files_tab.load(_with(archive, tmp_path, **changes), session)
    assert "not put back into the form" in str(view[0]) and message in str(view[0])
    assert session.loaded_run_dir is not None
    assert all(v == gr.skip() for v in _restored(session).values())


@pytest.mark.parametrize("changes, message", [
    (dict(budget=10 ** 12), "config budget (outside its range, at least 1 and at most 10^9)"),
    (dict(seed=-1), "config seed (outside its range, in [0, 2^63))"),
    (dict(seed=2 ** 70), "config seed (outside its range, in [0, 2^63))"),
    (dict(final_top=10 ** 9, final_steps=8), "final_top"),
    (dict(seed=10 ** 400), "seed: the run's value is a 1329-bit number, far out of its range"),
])
def test_a_loaded_run_whose_settings_a_typed_run_would_refuse_is_refused_by_name(tmp_path, changes, message):
    archive = _exported()
    session = Session()
    files_tab.load(archive, session)
    good = session.loaded_run_dir
    with pytest.raises(gr.Error) as caught:
        files_tab.load(_with(archive, tmp_path, **changes), session)
    assert message in caught.value.message and "Traceback" not in caught.value.message
    assert session.loaded_run_dir == good   # the run shown before stays, and nothing reaches the form
    shown = _restored(session)
    assert shown["budget"]["value"] == GMM["budget"] and shown["seed"]["value"] == 0
