"""ZeroGPU: one GPU call per engine batch, only picklable values across, the search's state kept here.

`forked` stands in for ZeroGPU: every call runs in a fresh process forked from this one (as
ZeroGPU forks its worker), its arguments and its result pickled both ways explicitly, so anything
unpicklable fails the test rather than being shared through the fork.
"""

import json
import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tsearch import engine
from tsearch.api import prepare
from tsearch.app import gpu
from tsearch.app.pool import ModelPool
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored, SearchDone
from tsearch.runs import load_run

pytestmark = pytest.mark.usefixtures("one_thread")  # the fixture lives in conftest.py

POOL = gpu.register_pool("test-zerogpu", ModelPool("cpu"))


class Forked:
    """Runs fn(*args) in a process forked for this call; args and result cross as pickles, as on ZeroGPU."""

    def __init__(self, fn):
        self.fn, self.calls, self.sizes = fn, 0, []

    def __call__(self, *args):
        payload = pickle.dumps(args)   # raises here if anything unpicklable would cross
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(self.fn, payload, send))
        process.start()
        send.close()
        data = receive.recv_bytes()
        process.join(timeout=60)
        self.calls += 1
        self.sizes.append((len(payload), len(data)))
        kind, value = pickle.loads(data)
        if kind == "error":
            raise RuntimeError(f"the GPU call failed: {value}")
        return value


def _child(fn, payload, send):
    try:
        result = ("ok", fn(*pickle.loads(payload)))
        data = pickle.dumps(result)
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        data = pickle.dumps(("error", f"{type(error).__name__}: {error}"))
    send.send_bytes(data)
    send.close()
    os._exit(0)   # no atexit handlers of the parent's copy


def plan_for(algorithm="random", budget=200, out=None, model="gmm", condition=1, verifiers=("gmm-density",),
             evaluators=(), model_options=None, **options):
    slot = POOL.get(model, model_options)
    config = SearchConfig(model=model, condition=condition, verifiers=verifiers, evaluators=evaluators,
                          model_options=model_options or {},
                          algorithm=algorithm, budget=budget, steps=options.pop("steps", 8), seed=3,
                          batch_size=options.pop("batch_size", 4), final_steps=options.pop("final_steps", None),
                          options=options or None)
    return prepare(config, loader=slot, out=out)


def history(events):
    return [(e.candidate.id, e.candidate.parent, e.candidate.score, e.candidate.scores.values_tuple, e.candidate.evals.values_tuple,
             e.candidate.recipe, e.candidate.nfe_spent) for e in events if isinstance(e, CandidateScored)]


@pytest.mark.parametrize("algorithm,budget,options", [("random", 200, {}), ("zero-order", 240, {}),
                                                      ("paths", 1500, {"n": 2, "m": 4})])
def test_a_search_through_forked_gpu_calls_equals_the_in_process_search(algorithm, budget, options):
    here = list(engine.run(plan_for(algorithm, budget, **options)))
    plan = plan_for(algorithm, budget, **options)
    runner = gpu.ZeroGPURunner("test-zerogpu", plan, call=Forked(gpu.gpu_batch))
    there = list(engine.run(plan, batch_runner=runner))
    assert history(there) == history(here) and len(history(here)) > 4
    assert there[-1].summary.nfe_spent == here[-1].summary.nfe_spent and there[-1].summary.best_id == here[-1].summary.best_id
    assert runner.call.calls >= -(-len(history(here)) // 4)   # one GPU call per batch (of at most 4), never one for all
    assert max(size for size, _ in runner.call.sizes) < 64_000   # ops and small states in, never a model


def test_the_shapes_model_through_forked_gpu_calls_equals_in_process_with_a_final_render():
    """With a model option: the worker must take the pool's variant (guidance 2), not the default model."""
    from tsearch.models import shapes

    ok, reason = shapes.available()
    if not ok:
        pytest.skip(reason)
    kw = dict(model="shapes", condition="a red circle", verifiers=("shapes-clip",), budget=4 * 2 * 4 + 2 * 6,
              steps=4, batch_size=4, final_steps=6, model_options={"guidance": 2.0})
    here = list(engine.run(plan_for(**kw)))
    runner = gpu.ZeroGPURunner("test-zerogpu", plan_for(**kw), call=Forked(gpu.gpu_batch))
    there = list(engine.run(runner.plan, batch_runner=runner))
    assert history(there) == history(here)
    assert there[-1].summary.final_nfe == here[-1].summary.final_nfe == 12
    assert (np.asarray(there[-1].best_image) == np.asarray(here[-1].best_image)).all()   # the final render, bit for bit


def test_stop_between_two_gpu_calls_keeps_everything_scored(tmp_path):
    plan = plan_for("random", 8 * 12, out=str(tmp_path / "run"), per_round=12)   # one round of three batches
    runner = gpu.ZeroGPURunner("test-zerogpu", plan, call=Forked(gpu.gpu_batch))
    seen = []
    events = list(engine.run(plan, should_stop=lambda: len(seen) >= 4,
                             batch_runner=lambda batch: seen.extend(batch.ops) or runner(batch)))
    done = events[-1]
    assert isinstance(done, SearchDone) and done.summary.stopped and done.summary.candidates == 4
    assert runner.call.calls == 1   # the second batch was never sent
    run = load_run(tmp_path / "run")
    assert len(run.candidates) == 4 and run.summary["nfe_spent"] == 4 * 8
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["calibration"]["chunk"] in (1, 2, 4) and set(meta["calibration"]["per_sample_seconds"]) == {"1", "2", "4"}


def test_each_call_asks_for_its_batch_nfes_times_the_measured_seconds_with_headroom():
    plan = plan_for("random", 8 * 12, per_round=12)
    asked = []
    runner = gpu.ZeroGPURunner("test-zerogpu", plan, per_nfe=0.05,
                               call=lambda *args: asked.append(args[-1]) or gpu.gpu_batch(*args))
    list(engine.run(plan, batch_runner=runner))
    from tsearch.models.calibrate import samples_measured

    first = gpu.HEADROOM_SECONDS + gpu.SAFETY * (4 * 8 + samples_measured(4)) * 0.05   # the first call also calibrates
    assert asked[0] == int(-(-first // 1)) and len(asked) == 3
    assert all(seconds <= gpu.ZEROGPU_MAX_SECONDS for seconds in asked)
    assert asked[1] < asked[0]   # then from what the first call really took (gmm is far faster than 50 ms per NFE)
    unmeasured = gpu.ZeroGPURunner("test-zerogpu", plan, call=lambda *args: asked.append(args[-1]) or gpu.gpu_batch(*args))
    list(engine.run(plan_for("random", 8 * 4), batch_runner=unmeasured))
    assert asked[-1] == gpu.ZEROGPU_MAX_SECONDS   # nothing measured yet: the cap


def test_a_batch_that_cannot_fit_one_call_is_refused_with_the_most_that_fits():
    with pytest.raises(ValueError, match=r"over the 120 s one ZeroGPU call may hold; a batch may spend at most 733 NFEs"):
        gpu.seconds_for(800, 0.1)
    assert gpu.seconds_for(700, 0.1) == 115 and gpu.seconds_for(10, None) == gpu.ZEROGPU_MAX_SECONDS
    gpu.check_batch_fits(plan_for(), 0.1)   # 4 x 8 NFEs
    with pytest.raises(ValueError, match="lower the batch size"):
        gpu.check_batch_fits(plan_for(batch_size=100), 0.1)


def test_the_runner_refuses_what_it_cannot_find_by_name():
    with pytest.raises(ValueError, match="no model pool is registered as 'nowhere'"):
        gpu.ZeroGPURunner("nowhere", plan_for())
    plan = prepare(SearchConfig(model="gmm", condition=1, verifiers=(lambda images, c: images.mean((1, 2, 3)),),
                                budget=80, steps=8))
    with pytest.raises(ValueError, match="finds the model and verifiers by registered name"):
        gpu.ZeroGPURunner("test-zerogpu", plan)
    with pytest.raises(RuntimeError, match="no model pool is registered as 'gone'"):
        gpu.gpu_batch("gone", "gmm", {}, ("gmm-density",), (), 1, None, None, 10)


def test_the_real_spaces_package_is_a_no_op_off_zerogpu_and_breaks_neither_torch_nor_gradio():
    code = ("import torch, gradio as gr, spaces\n"
            "from tsearch.app import gpu\n"
            "f = lambda: 1\n"
            "assert spaces.GPU(duration=5)(f) is f and spaces.GPU(f) is f\n"
            "assert gpu.gpu_call is gpu.gpu_batch and not gpu.on_zerogpu()\n"
            "assert torch.allclose(torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)), torch.tensor(9.))\n"
            "with gr.Blocks() as demo:\n    gr.Markdown('ok')\n"
            "print('ok', torch.ones(2).sum().item(), spaces.__name__)\n")
    env = {k: v for k, v in os.environ.items() if k != "SPACES_ZERO_GPU"}
    for first in ("", "import spaces\n"):   # imported after torch and gradio, and before them
        result = subprocess.run([sys.executable, "-c", first + code], capture_output=True, text=True, env=env,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.startswith("ok 2.0 spaces")


def test_on_zerogpu_reads_the_variable_spaces_reads(monkeypatch):
    from spaces.config import boolean

    for value in ("true", "1", "T", "false", "", "0"):
        monkeypatch.setenv("SPACES_ZERO_GPU", value)
        assert gpu.on_zerogpu() == boolean(value)
    monkeypatch.delenv("SPACES_ZERO_GPU")
    assert not gpu.on_zerogpu() and gpu.batch_runner(plan_for(), "test-zerogpu") is None
