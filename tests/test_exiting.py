"""An interpreter exit while a search runs on a daemon thread (a web server's worker, the page's time estimate):
the search stops at its next batch with everything kept, and the process exits 0 instead of aborting
(`terminate called without an active exception`, status 134, as it did before `tsearch.engine.exiting`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tsearch.engine import exiting

ROOT = Path(__file__).resolve().parents[1]

DAEMON = r'''
import sys, threading, time
from tsearch import api
from tsearch.config import SearchConfig

started = threading.Event()

def search():
    plan = api.plan_for(SearchConfig(model="shapes", condition="a red circle", verifiers=("shapes-clip",),
                                     algorithm="random", budget=4000, steps=10), out=sys.argv[1])
    for event in api.search_events(plan):
        started.set()

threading.Thread(target=search, daemon=True).start()
if not started.wait(120):
    sys.exit("the search did not start")
time.sleep(0.3)
print("exiting", flush=True)
'''


def test_an_exit_during_a_search_on_a_daemon_thread_stops_it_and_keeps_what_it_found(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", DAEMON, str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]
    summary = json.loads((out / "run.json").read_text())["summary"]
    assert summary["stopped"] and 0 < summary["nfe_spent"] < 4000 and summary["best_id"] is not None


@pytest.fixture
def fresh(monkeypatch):
    """The module's state as at start-up, so the flag set here does not stop this process's other searches."""
    monkeypatch.setattr(exiting, "_exiting", threading.Event())
    monkeypatch.setattr(exiting, "_idle", threading.Condition())
    monkeypatch.setattr(exiting, "_busy", 0)
    monkeypatch.setattr(exiting, "_entries", 0)
    monkeypatch.setattr(exiting, "_left", float("-inf"))


def test_the_exit_waits_for_busy_threads_and_not_for_ever(fresh):
    def work(seconds):
        with exiting.busy():
            time.sleep(seconds)

    worker = threading.Thread(target=work, args=(0.4,))
    worker.start()
    time.sleep(0.05)
    began = time.monotonic()
    assert exiting.wait_idle(seconds=5, grace=0.1) and exiting.exiting()
    waited = time.monotonic() - began
    assert not worker.is_alive() and 0.25 < waited < 3   # until the busy thread left, plus the grace
    stuck = threading.Thread(target=work, args=(2.0,), daemon=True)
    stuck.start()
    time.sleep(0.05)
    assert not exiting.wait_idle(seconds=0.3, grace=0.1)   # bounded: an exit never hangs on a long batch


def test_a_search_stops_at_its_next_batch_once_the_interpreter_exits(fresh):
    from tsearch import api
    from tsearch.config import SearchConfig
    from tsearch.events import CandidateScored, SearchDone

    plan = api.plan_for(SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), algorithm="random",
                                     budget=400, steps=4, batch_size=4))
    scored, done = 0, None
    for event in api.search_events(plan):
        if isinstance(event, CandidateScored):
            scored += 1
            exiting._exiting.set()
        elif isinstance(event, SearchDone):
            done = event.summary
    assert done.stopped and scored == done.candidates < 100 and done.best_id is not None


def test_an_exit_with_no_search_on_another_thread_does_not_wait(fresh):
    with exiting.busy():   # the main thread's own search (the CLI's) is over before the exit begins
        pass
    began = time.monotonic()
    assert exiting.wait_idle(seconds=5, grace=2.0) and time.monotonic() - began < 0.5
