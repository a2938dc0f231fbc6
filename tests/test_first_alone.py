"""The first image after one candidate (issues 20 and 28): with `first_alone` (every watched search: the app, the
API's stream, the CLI's progress) the search's first candidate is a batch of its own, sent before the batch-size
calibration, and the search is the same as without it."""

from __future__ import annotations

import pytest

from tsearch import engine
from tsearch import api
from tsearch.api import prepare
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored
from tsearch.models import calibrate

pytestmark = pytest.mark.usefixtures("one_thread")


def config(algorithm="random", options=None) -> SearchConfig:
    return SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), algorithm=algorithm, budget=96,
                        steps=4, batch_size=4, seed=2, options=options or {"per_round": 12})


def rows(events):
    return [(e.candidate.id, e.candidate.score, e.candidate.recipe, e.candidate.nfe_spent)
            for e in events if isinstance(e, CandidateScored)]


@pytest.mark.parametrize("algorithm, options", [("random", {"per_round": 12}), ("zero-order", {"n": 4}),
                                                 ("paths", {"n": 2, "m": 2, "L": 2})])
def test_the_first_batch_holds_one_uncalibrated_candidate_and_the_search_is_unchanged(algorithm, options):
    sent = []
    plan = prepare(config(algorithm, options))
    calibrate.forget(plan.model)
    runner = engine.LocalRunner(plan, None)
    alone = list(engine.run(plan, batch_runner=lambda batch: sent.append(batch) or runner(batch), first_alone=True))
    assert len(sent[0].ops) == 1 and sent[0].chunk == 1 and sent[0].calibrate_up_to is None
    assert sent[1].calibrate_up_to is not None and sent[1].chunk is None   # the calibration moved to the second
    calibrate.forget(plan.model)
    whole = list(engine.run(prepare(config(algorithm, options))))
    assert rows(alone) == rows(whole) and len(rows(alone)) > 4


def test_the_first_candidate_is_reported_before_any_calibration(monkeypatch):
    measured, real = [], calibrate.measure
    monkeypatch.setattr(calibrate, "measure", lambda *args, **kwargs: measured.append(1) or real(*args, **kwargs))
    plan = prepare(config())
    calibrate.forget(plan.model)
    events = engine.run(plan, first_alone=True)
    first = next(e for e in events if isinstance(e, CandidateScored))
    assert first.candidate.id == 0 and measured == []   # one candidate's compute, nothing measured before it
    list(events)
    assert measured == [1]
    calibrate.forget(plan.model)


def test_a_model_with_a_fixed_micro_batch_sends_one_micro_batch_first():
    from tsearch.models import shapes

    ok, reason = shapes.available()
    if not ok:
        pytest.skip(reason)
    sent = []
    plan = prepare(SearchConfig(model="shapes", condition="a red circle", verifiers=("shapes-clip",), budget=12 * 2 * 2,
                                steps=2, batch_size=8, seed=1, options={"per_round": 12}))
    runner = engine.LocalRunner(plan, None)
    alone = list(engine.run(plan, batch_runner=lambda batch: sent.append(batch) or runner(batch), first_alone=True))
    assert [len(batch.ops) for batch in sent] == [4, 4, 4]   # padded calls of 4 cost the same for 1 row or 4
    assert rows(alone) == rows(list(engine.run(prepare(plan.config))))


class Watching(api.Loader):
    """Lends each model with its denoiser wrapped: the rows of every batch the engine asks of it, in order."""

    def __init__(self):
        self.rows = []

    def load_model(self, name, device, options):
        model = super().load_model(name, device, options)
        forward = model.forward_x0
        model.forward_x0 = lambda x, cond, sigma: self.rows.append(x.shape[0]) or forward(x, cond, sigma)
        return model


def test_the_api_stream_asks_the_model_for_one_sample_first_and_finds_the_same_search():
    watching = Watching()
    streamed = list(api.stream(config(), loader=watching))
    assert watching.rows[0] == 1 and max(watching.rows) > 1   # the first batch asked of the model: one sample
    whole = list(engine.run(prepare(config()), first_alone=False))
    assert rows(streamed) == rows(whole) and len(rows(whole)) == 24   # same candidates, scores, recipes, NFEs


def test_the_stream_and_the_cli_send_the_first_candidate_alone_and_search_keeps_whole_batches(monkeypatch):
    seen = []
    real = engine.run
    monkeypatch.setattr(engine, "run",
                        lambda plan, *a, **k: seen.append(k.get("first_alone", False)) or real(plan, *a, **k))
    list(api.stream(config()))
    from tsearch.cli import main

    assert main(["run", "--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--budget", "16",
                 "--algorithm", "random", "--steps", "4"]) == 0
    api.search(config())
    assert seen == [True, True, False]   # watched: the stream, the CLI's progress; the end only: search()
