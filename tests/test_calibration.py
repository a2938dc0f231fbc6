"""Calibration of the denoiser chunk: the fastest size is found, cached, recorded, free, and changes no result."""

import json
import time

import pytest
import torch

import tsearch
from tsearch import engine
from tsearch.api import prepare
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored
from tsearch.models import calibrate, load_model
from tsearch.models import shapes as shapes_module
from tsearch.models.gmm import GaussianMixture

pytestmark = pytest.mark.usefixtures("one_thread")  # the fixture lives in conftest.py


class Timed(GaussianMixture):
    """gmm whose denoiser call takes a set CPU time per batch size, recording the sizes it was called with."""

    def __init__(self, seconds: dict, out_of_memory_from: int | None = None):
        super().__init__()
        self.seconds, self.out_of_memory_from, self.calls, self.nfe = seconds, out_of_memory_from, [], 0

    def predict_x0(self, x, cond, sigma):   # what a search evaluates (calibration calls forward_x0 directly)
        self.nfe += x.shape[0] * self.nfe_per_eval
        return super().predict_x0(x, cond, sigma)

    def forward_x0(self, x, cond, sigma):
        n = x.shape[0]
        self.calls.append(n)
        if self.out_of_memory_from and n >= self.out_of_memory_from:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        start, seconds = time.process_time(), self.seconds.get(n, 0.0)
        while time.process_time() - start < seconds:   # busy: calibration on one CPU thread reads CPU time
            pass
        return super().forward_x0(x, cond, sigma)


def test_sizes_are_powers_of_two_up_to_the_maximum_and_multiples_of_the_micro_batch():
    assert calibrate.sizes(16) == [1, 2, 4, 8, 16]
    assert calibrate.sizes(12) == [1, 2, 4, 8, 12]
    assert calibrate.sizes(16, micro_batch=4) == [16] == calibrate.sizes(16, micro_batch=16)   # same work at any chunk
    assert calibrate.sizes(1) == [1]
    assert calibrate.samples_measured(16) == 31 + calibrate.CALLS * 5 * 16 and calibrate.samples_measured(16, 4) == 0
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        calibrate.sizes(0)


@pytest.fixture(scope="module")
def shapes():
    ok, reason = shapes_module.available()
    if not ok:
        pytest.skip(reason)
    return load_model("shapes")


def test_a_micro_batched_model_is_not_timed_and_denoises_whole_batches(shapes):
    model = shapes
    result = calibrate.measure(model, None, 16)   # never calls the network: cond is not even looked at
    assert result.chunk == 16 and result.per_sample == {} and result.seconds == 0.0


def test_the_fastest_size_per_sample_is_chosen():
    # per call: 1 -> 20 ms, 2 -> 20 ms, 4 -> 24 ms (6 ms a sample: the fastest), 8 -> 80 ms
    model = Timed({1: 0.020, 2: 0.020, 4: 0.024, 8: 0.080})
    result = calibrate.measure(model, model.encode(0), 8)
    assert result.chunk == 4 and sorted(result.per_sample) == [1, 2, 4, 8]
    assert result.per_sample[4] < result.per_sample[2] < result.per_sample[1]
    assert result.per_sample[4] >= 0.024 / 4   # the busy wait is never shorter than asked
    assert model.calls.count(4) == 1 + 2 * calibrate.CALLS   # a warm-up, then CALLS rounds of 8 rows: 2 calls each
    assert model.calls.count(1) == 1 + 8 * calibrate.CALLS


def test_a_size_that_runs_out_of_memory_is_never_chosen_nor_are_larger_ones():
    model = Timed({1: 0.010, 2: 0.010, 4: 0.010}, out_of_memory_from=8)   # bigger is faster, until memory runs out
    result = calibrate.measure(model, model.encode(0), 16)
    assert result.chunk == 4 and sorted(result.per_sample) == [1, 2, 4] and 16 not in model.calls


def test_measured_once_per_model_and_batch_size_then_cached():
    model = Timed({})
    first = calibrate.calibrated(model, model.encode(0), 4)
    calls = len(model.calls)
    again = calibrate.calibrated(model, model.encode(0), 4)
    assert len(model.calls) == calls and again.cached and not first.cached and again.chunk == first.chunk
    calibrate.calibrated(model, model.encode(0), 8)
    assert len(model.calls) > calls   # another maximum is another measurement
    calibrate.forget(model)
    assert not calibrate.calibrated(model, model.encode(0), 4).cached


def test_the_engine_denoises_in_the_calibrated_chunk_and_records_it_without_charging_its_nfes(tmp_path):
    model = Timed({1: 0.002, 2: 0.002, 4: 0.003, 8: 0.040})   # 4 is the fastest per sample
    result = tsearch.search(model=model, cls=2, verifiers=["gmm-density"], algorithm="random", budget=16 * 4,
                            steps=4, batch_size=8, seed=0, out=str(tmp_path / "run"))
    assert result.summary.nfe_spent == 64 == model.nfe   # the calibration's calls are no NFEs of the search
    measured = 4 + calibrate.CALLS * (8 + 4 + 2 + 1)   # a warm-up at each of 1, 2, 4, 8, then 8 rows of each per round
    rest = model.calls[measured:]   # 16 x 4 steps, 4 at a time, and the FLOP count's one row (tsearch.flops)
    assert [rows for rows in rest if rows != 1] == [4] * 16 and rest.count(1) == 1
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["calibration"]["chunk"] == 4 and set(meta["calibration"]["per_sample_seconds"]) == {"1", "2", "4", "8"}
    off = Timed({})
    plan = prepare(SearchConfig(model=off, condition=2, verifiers=("gmm-density",), budget=64, steps=4, batch_size=8))
    list(engine.run(plan, chunked=False))
    assert [rows for rows in off.calls if rows != 1] == [8] * 8   # calibration off: every batch whole, nothing
    assert off.calls.count(1) == 1                                 # measured; one row counted its FLOPs


def scored(plan, **run_kwargs):
    return [(e.candidate.id, e.candidate.score, e.candidate.scores.values_tuple, e.candidate.recipe)
            for e in engine.run(plan, **run_kwargs) if isinstance(e, CandidateScored)]


def forced(monkeypatch, chunk):
    """Calibration that always picks `chunk` (the real measurement picks by timing, which a test cannot fix)."""
    monkeypatch.setattr(calibrate, "measure", lambda model, cond, max_batch, calls=calibrate.CALLS:
                        calibrate.Calibration(chunk, {chunk: 1e-3}, str(model.device), torch.get_num_threads()))


@pytest.mark.parametrize("algorithm,options,chunks", [("random", {"per_round": 16}, (4, 8)),
                                                      ("paths", {"n": 4, "m": 4, "L": 1}, (4,))])
def test_a_shapes_search_is_identical_with_calibration_on_or_off(monkeypatch, shapes, algorithm, options, chunks):
    model = shapes
    config = SearchConfig(model=model, condition="a red circle and a blue square", verifiers=("shapes-clip",),
                          algorithm=algorithm, budget=16 * 2 * 4 if algorithm == "random" else 264,
                          steps=4, batch_size=16, seed=5, options=options)
    off = scored(prepare(config), chunked=False)
    if algorithm == "random":
        calibrate.forget(model)
        assert off == scored(prepare(config))   # the real calibration (for a micro-batched model: whole batches)
    for chunk in chunks:   # chunks smaller than the round, in micro-batches of 4 (models.invariant)
        calibrate.forget(model)
        forced(monkeypatch, chunk)
        assert scored(prepare(config)) == off, f"chunk {chunk}"
    calibrate.forget(model)
    assert len(off) >= 16


def test_digits_is_identical_with_a_chunk_smaller_than_its_batch(monkeypatch):
    from tsearch.models import digits as digits_module

    ok, reason = digits_module.available()
    if not ok:
        pytest.skip(reason)
    model = load_model("digits")
    config = SearchConfig(model=model, condition=3, verifiers=("digits-classifier",), algorithm="zero-order",
                          budget=3 * 32 * 4, steps=4, batch_size=32, seed=1, options={"n": 32})
    off = scored(prepare(config), chunked=False)
    forced(monkeypatch, 16)   # its micro-batch: two calls of 16 rows per batch of 32
    assert scored(prepare(config)) == off and len(off) == 96
