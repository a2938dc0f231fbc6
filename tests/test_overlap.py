"""The overlapped batch runner (issue 13, the GPU path) on the CPU: the same search as without it,
batch i scored while batch i+1 is denoised, Stop keeps the batch in flight, errors surface."""

from __future__ import annotations

import threading

import pytest

from tsearch import engine
from tsearch.api import prepare
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored, SearchDone

pytestmark = pytest.mark.usefixtures("one_thread")


def config(**change) -> SearchConfig:
    values = dict(model="gmm", condition=1, verifiers=("gmm-density",), algorithm="random", budget=96, steps=4,
                  batch_size=4, options={"per_round": 12})
    return SearchConfig(**{**values, **change})


def events(cfg, **run):
    return list(engine.run(prepare(cfg), **run))


def rows(evts):
    return [(e.candidate.id, e.candidate.score, e.candidate.ops, e.candidate.nfe_spent)
            for e in evts if isinstance(e, CandidateScored)]


@pytest.mark.parametrize("algorithm, options", [("random", {"per_round": 12}), ("zero-order", {"n": 4}),
                                                 ("paths", {"n": 2, "m": 2, "L": 2})])
def test_overlapped_search_equals_the_plain_one(algorithm, options):
    cfg = config(algorithm=algorithm, options=options)
    plain, overlapped = events(cfg, overlap=False), events(cfg, overlap=True)
    assert rows(plain) == rows(overlapped) and len(rows(plain)) > 4
    assert plain[-1].summary.nfe_spent == overlapped[-1].summary.nfe_spent <= cfg.budget


def test_scoring_runs_on_the_worker_while_the_next_batch_is_denoised(monkeypatch):
    from tsearch.engine import overlap

    log, lock = [], threading.Lock()
    real_denoise, real_score = overlap.denoise_batch, overlap.score_batch

    def denoise(*args):
        with lock:
            log.append(("denoise", threading.current_thread().name))
        return real_denoise(*args)

    def score(*args):
        with lock:
            log.append(("score", threading.current_thread().name))
        return real_score(*args)

    monkeypatch.setattr(overlap, "denoise_batch", denoise)
    monkeypatch.setattr(overlap, "score_batch", score)
    denoised_at_first = None
    for event in engine.run(prepare(config()), overlap=True):
        if isinstance(event, CandidateScored) and denoised_at_first is None:
            denoised_at_first = [kind for kind, _ in log].count("denoise")
    assert {name for kind, name in log if kind == "score"} == {"tsearch-score_0"}
    assert {name for kind, name in log if kind == "denoise"} == {threading.current_thread().name}
    assert denoised_at_first == 2   # batch 1 was denoised before batch 0's candidates were reported
    assert [kind for kind, _ in log].count("score") == 96 // 16   # 24 candidates, batches of 4


def test_a_stop_keeps_the_batch_in_flight_and_nothing_after_it():
    scored = []

    def should_stop():
        return len(scored) >= 4   # asked before each submit: batch 2 is already denoised by then

    for event in engine.run(prepare(config(), out=None), should_stop=should_stop, overlap=True):
        if isinstance(event, CandidateScored):
            scored.append(event.candidate)
        if isinstance(event, SearchDone):
            done = event
    assert len(scored) == 8 and done.summary.stopped and done.summary.nfe_spent == 8 * 4


def test_a_verifier_error_on_the_worker_ends_the_search_with_its_message():
    def broken(images, condition):
        raise RuntimeError("scorer down")

    with pytest.raises(Exception, match="scorer down"):
        events(config(verifiers=(broken,)), overlap=True)


def test_a_verifier_that_hangs_on_the_worker_keeps_what_was_found(tmp_path):
    import time

    from tsearch.runs import load_run
    from tsearch.verifiers.deadline import VerifierError

    calls = {"n": 0}

    def hangs_on_the_third_batch(images, condition):
        calls["n"] += 1
        if calls["n"] == 3:
            time.sleep(30)
        return [0.0] * len(images)

    with pytest.raises(VerifierError, match="did not answer"):
        list(engine.run(prepare(config(verifiers=(hangs_on_the_third_batch,)), out=str(tmp_path / "r")),
                        verifier_timeout=0.5, overlap=True))
    run = load_run(tmp_path / "r")
    assert len(run.candidates) == 8 and "did not answer" in run.summary["error"]
    assert run.summary["nfe_spent"] >= 3 * 4 * 4   # the third batch was denoised (the fourth may be too)
