"""The app under bad input and load: the runs clean-up, zip uploads, errors while scoring, Stop, seeds,
which models visitors may load, malformed saved runs. Driven through the handlers (no server)."""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from tsearch.app import compare, files_tab, handlers, runs_root, state
from tsearch.app.state import Session
from tsearch.models import MODELS
from tsearch.registry import Entry
from tsearch.runs import load_run

GMM = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=80, steps=4,
           seed=0, evaluator="", baseline=False, batch_size=4)


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    runs_root._last_cleanup.clear()
    return tmp_path / "runs"


def last(updates):
    return dict(zip(handlers.SEARCH_OUTPUTS, list(updates)[-1]))


# --- the runs clean-up ---------------------------------------------------------------------------

def _old(path: Path, days: float = 3) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


def test_eight_clients_start_searches_while_the_clean_up_has_old_folders(runs_in_tmp):
    runs_in_tmp.mkdir(parents=True)
    for i in range(600):
        folder = runs_in_tmp / f"20240101-000000-random-{i:08x}"
        (folder / "images").mkdir(parents=True)
        (folder / runs_root.MARKER).touch()
        _old(folder)
    thesis = runs_in_tmp / "my_thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("mine")
    notes = runs_in_tmp / "notes.txt"
    notes.write_text("mine too")
    _old(thesis), _old(notes)
    results, errors = [], []

    def client(seed):
        try:
            results.append(last(handlers.search(**dict(GMM, seed=seed), session=Session())))
        except Exception as error:  # noqa: BLE001 - counted below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 8 and all(r["status"].startswith("Done") for r in results)
    assert thesis.is_dir() and notes.read_text() == "mine too"     # never the app's to delete
    left = [p for p in runs_in_tmp.iterdir() if p.name.startswith("20240101")]
    assert left == []                                              # the app's own old runs went


# --- zip uploads ---------------------------------------------------------------------------------

def _export(session=None) -> str:
    session = session or Session()
    last(handlers.search(**GMM, session=session))
    return files_tab.export(session)


def test_a_refused_zip_leaves_nothing_on_disk(runs_in_tmp, tmp_path):
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("junk.bin", b"\0" * (20 << 20))     # 20 MB of zeros: a 1000-fold bomb, no run.json
    before = set(runs_in_tmp.iterdir()) if runs_in_tmp.exists() else set()
    with pytest.raises(gr.Error, match="zip bomb"):
        files_tab.load(str(big), Session())
    assert (set(runs_in_tmp.iterdir()) if runs_in_tmp.exists() else set()) == before


def test_zips_with_two_runs_or_huge_rows_are_refused_by_name(tmp_path):
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a/run.json", json.dumps({"config": {}}))
        archive.writestr("b/run.json", json.dumps({"config": {}}))
    with pytest.raises(gr.Error, match="holds 2 runs"):
        files_tab.load(str(two), Session())
    rows = tmp_path / "rows.zip"
    with zipfile.ZipFile(rows, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("run.json", json.dumps({"config": {}}))
        archive.writestr("candidates.jsonl", "x" * (17 << 20))
    with pytest.raises(gr.Error, match="candidates.jsonl is 17 MB"):
        files_tab.load(str(rows), Session())


def test_a_session_keeps_one_loaded_run_at_a_time(runs_in_tmp):
    archive = _export()
    session = Session()
    files_tab.load(archive, session)
    first = Path(session.loaded_run_dir)
    files_tab.load(archive, session)
    assert not first.exists() and Path(session.loaded_run_dir).exists()


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "run.json").write_text("{not json"), "not valid JSON"),
    (lambda root: (root / "run.json").write_text("[1, 2]"), "no \"config\" object"),
    (lambda root: (root / "run.json").write_text(json.dumps({"config": 5})), "no \"config\" object"),
    (lambda root: (root / "run.json").write_text(json.dumps({"config": {}, "summary": "done"})), "\"summary\" must be"),
    (lambda root: (root / "run.json").write_bytes(b"\xff\xfe\x00"), "not valid JSON"),
])
def test_malformed_runs_give_a_clear_message(tmp_path, damage, message):
    session = Session()
    last(handlers.search(**GMM, session=session))
    root = Path(session.last_run_dir)
    damage(root)
    with pytest.raises(gr.Error, match=message):
        files_tab.load(files_tab.export(session) if False else _zip(root, tmp_path), Session())


def _zip(root: Path, tmp_path: Path) -> str:
    target = tmp_path / "damaged.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in root.rglob("*"):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return str(target)


def test_damaged_rows_are_passed_over_and_the_rows_after_them_load(tmp_path):
    session = Session()
    done = last(handlers.search(**GMM, session=session))
    root = Path(session.last_run_dir)
    lines = (root / "candidates.jsonl").read_text().splitlines()
    lines[3] = lines[3][:20]                                   # torn in the middle
    lines[5] = json.dumps({"id": "five", "recipe": 3})         # malformed fields
    lines[7] = json.dumps([1, 2, 3])                           # not an object
    (root / "candidates.jsonl").write_text("\n".join(lines) + "\n")
    run = load_run(root)
    assert len(run.candidates) == done["details"]["candidates"] - 3 and run.skipped == 3
    assert run.candidates[-1].id == done["details"]["candidates"] - 1
    loaded = dict(zip(handlers.SEARCH_OUTPUTS, files_tab.load(_zip(root, tmp_path), Session())))
    assert loaded["details"]["candidates"] == len(run.candidates)


# --- errors while scoring, conditions, seeds ---------------------------------------------------------

def test_a_verifier_from_another_world_is_refused_before_anything_runs(runs_in_tmp):
    with pytest.raises(gr.Error, match="verifier 'shapes-clip' cannot score this search"):
        list(handlers.search(**dict(GMM, verifiers=["shapes-clip"]), session=Session()))
    assert not runs_in_tmp.exists() or not [p for p in runs_in_tmp.iterdir() if p.is_dir()]


def test_the_shapes_verifiers_read_the_caption_as_the_model_does():
    done = last(handlers.search(model="shapes", prompt="A red circle.", cls=None, verifiers=["shapes-clip"],
                                algorithm="random", budget=8, steps=2, seed=0, evaluator="shapes-oracle",
                                baseline=False, batch_size=4, session=Session()))
    assert done["status"].startswith("Done") and done["details"]["candidates"] == 2


def failing(images, condition):
    raise RuntimeError("the reward server is down")


def test_an_error_while_scoring_is_a_clear_message_and_keeps_what_was_found(runs_in_tmp, monkeypatch):
    calls = {"n": 0, "scored": 0}

    class Flaky:
        name = "flaky"

        def score(self, images, condition):
            calls["n"] += 1
            if calls["n"] > 2:
                raise RuntimeError("the reward server is down")
            calls["scored"] += len(images)
            return images.mean((1, 2, 3))

    monkeypatch.setattr("tsearch.app.pool.load_verifier", lambda name, model=None, device="cpu": Flaky())
    from tsearch.verifiers import VERIFIERS

    monkeypatch.setitem(VERIFIERS, "flaky", Entry("tsearch.verifiers.gmm_density:build", "stand-in"))
    session = Session()
    with pytest.raises(gr.Error, match="verifier 'flaky' failed: RuntimeError: the reward server is down"):
        list(handlers.search(**dict(GMM, model="gmm", verifiers=["flaky"]), session=session))
    run = load_run(session.last_run_dir)
    # every candidate scored before the failure is kept (how many depends on the batching: the first
    # candidate goes alone, then batches of the calibrated size)
    assert calls["scored"] >= 2 and len(run.candidates) == calls["scored"]
    assert "reward server is down" in run.summary["error"]


@pytest.mark.parametrize("seed", [2**63, 2**63 + 1, 2**64, -1, 2.5, float(2**60)])
def test_seeds_are_integers_in_range_refused_up_front(seed, runs_in_tmp):
    with pytest.raises(gr.Error, match="seed"):
        list(handlers.search(**dict(GMM, seed=seed), session=Session()))
    assert not runs_in_tmp.exists() or not list(runs_in_tmp.iterdir())


def test_a_large_integer_seed_is_used_exactly():
    seed = 2**62 + 1
    done = last(handlers.search(**dict(GMM, seed=seed), session=Session()))
    assert done["details"]["seed"] == seed
    assert load_run(done["details"]["run_dir"]).config["seed"] == seed


# --- Stop ------------------------------------------------------------------------------------------

def test_stop_pressed_while_a_search_waits_in_the_queue_stops_it():
    session = Session()
    handlers.arm(session)                                                  # Run pressed
    search = handlers.search(**dict(GMM, budget=20000), session=session)   # queued: gradio starts it later
    assert handlers.stop(session) is None and session.stop_requested is not None
    done = last(search)
    assert done["status"].startswith("Stopped") and done["details"]["candidates"] == 0
    handlers.stop(session)                                                 # a stray Stop with nothing running
    handlers.arm(session)                                                  # then Run: it is not stopped
    again = last(handlers.search(**GMM, session=session))   # the next Run is not stopped by it
    assert again["status"].startswith("Done")


def test_stopping_during_the_baseline_says_stopped(monkeypatch):
    monkeypatch.setattr(state, "UPDATE_INTERVAL", 0.0)   # every candidate is an update
    session = Session()
    updates = handlers.search(**dict(GMM, budget=400, baseline=True, batch_size=1), session=session)
    for update in updates:
        if "more-steps baseline" in update[0]:
            handlers.stop(session)
            break
    done = last(updates)
    assert done["status"].startswith("Stopped during the more-steps baseline")


# --- which models visitors may load --------------------------------------------------------------

def test_a_public_app_never_downloads_a_hub_model_a_caller_names(monkeypatch):
    monkeypatch.setitem(MODELS, "hub-model", Entry("tsearch.models.gmm:build", "a hub model", kind="diffusers"))
    monkeypatch.delenv("TSEARCH_APP_MODELS", raising=False)
    with pytest.raises(gr.Error, match="'hub-model' is not offered by this app"):
        list(handlers.search(**dict(GMM, model="hub-model"), session=Session()))
    monkeypatch.setenv("TSEARCH_APP_MODELS", "hub-model")
    assert last(handlers.search(**dict(GMM, model="hub-model"), session=Session()))["status"].startswith("Done")


@pytest.mark.parametrize("change, message", [
    (dict(verifiers=[["gmm-density"]]), "verifiers is a list of registered verifier names"),
    (dict(verifiers=5), "verifiers is a list of registered verifier names"),
    (dict(baseline="no"), "baseline must be true or false"),
    (dict(bogus_option=1), "unknown parameter\\(s\\) bogus_option"),
    (dict(budget=10**30), "budget must be in"),
])
def test_what_the_bad_input_tally_found_in_the_app(change, message):
    with pytest.raises(gr.Error, match=message):
        list(handlers.search(**dict(GMM, **change), session=Session()))


def test_loading_odd_files_and_damaged_summaries_is_a_clear_message(tmp_path):
    with pytest.raises(gr.Error, match="missing.zip was not found"):
        files_tab.load(str(tmp_path / "missing.zip"), Session())
    with pytest.raises(gr.Error, match="load takes the path"):
        files_tab.load(3, Session())
    with pytest.raises(gr.Error, match="algorithms is a list of algorithm names"):
        list(compare.compare(**GMM, mode="algorithms", algorithms="random", session=Session()))
    session = Session()
    last(handlers.search(**GMM, session=session))
    root = Path(session.last_run_dir)
    for key, value in (("seconds", "abc"), ("best_score", "x"), ("best_id", [1])):
        meta = json.loads((root / "run.json").read_text())
        good = meta["summary"][key]
        meta["summary"][key] = value
        (root / "run.json").write_text(json.dumps(meta))
        with pytest.raises(gr.Error, match=f"summary {key} is"):
            files_tab.load(_zip(root, tmp_path), Session())
        meta["summary"][key] = good
        (root / "run.json").write_text(json.dumps(meta))
