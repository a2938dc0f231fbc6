"""FLOPs as a cost axis (issue 28, item 1): counted once per model on a real forward with torch's FLOP counter,
recorded in run.json, carried by every candidate, and offered beside NFEs, seconds and verifier calls."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import tsearch
from tsearch import flops
from tsearch.models import load_model
from tsearch.models import random_arch as ra
from tsearch.models.hub import from_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def counted(fn) -> int:
    """torch's own counter around fn, without tsearch.flops in between (the CPU attention kernel excepted)."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=flops._EXTRA) as counter:
        fn()
    return counter.get_total_flops()


def test_flops_per_nfe_of_a_bundled_model_is_the_counters_figure_for_one_forward_per_sample():
    model = load_model("digits")
    cond = model.encode(3)
    x = torch.randn(model.micro_batch, *model.noise_shape)
    one_forward = counted(lambda: model.forward_x0(x, cond, 0.5))
    assert one_forward > 0
    assert model.flops_per_nfe(cond) == round(one_forward / model.micro_batch) == flops.per_nfe(model, cond)


def test_a_tiny_random_pipeline_counts_one_unet_pass_per_nfe_and_more_at_a_higher_resolution():
    torch.manual_seed(0)
    pipe = ra.sd15_pipeline("tiny")
    model = from_pipeline(pipe, "sd15-tiny")
    assert model.nfe_per_eval == 2   # classifier-free guidance: two passes, two NFEs
    cond = model.encode("a red circle")
    per_nfe = model.flops_per_nfe(cond)
    latent = torch.randn(1, *model.noise_shape)
    states = pipe.encode_prompt("a red circle", "cpu", 1, False)[0]
    unet = counted(lambda: pipe.unet(latent, 500, encoder_hidden_states=states))
    assert per_nfe == unet > 0   # one NFE is one pass of the UNet over one sample
    bigger = from_pipeline(pipe, "sd15-tiny", height=32, width=32)
    assert bigger.noise_shape[1:] == (4, 4) != model.noise_shape[1:] or bigger.noise_shape[1] > model.noise_shape[1]
    assert bigger.flops_per_nfe(bigger.encode("a red circle")) > per_nfe
    assert flops.per_decode(model) > 0   # its VAE decoder


def test_run_json_records_the_count_and_candidates_carry_cumulative_flops_monotone_in_nfes(tmp_path):
    result = tsearch.search(model="digits", cls=3, verifiers=["digits-classifier"], budget=48, steps=4, seed=1,
                            batch_size=4, out=str(tmp_path / "run"))
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    cost = meta["flops"]
    model = load_model("digits")
    assert cost["per_nfe"] == flops.per_nfe(model, model.encode(3)) > 0
    assert cost["per_verifier_call"]["digits-classifier"] > 0 and cost["per_decode"] == 0
    per_candidate = cost["per_decode"] + cost["per_verifier_call"]["digits-classifier"]
    history = result.history
    assert [c.flops for c in history] == [c.nfe_spent * cost["per_nfe"] + (i + 1) * per_candidate
                                          for i, c in enumerate(history)]
    assert all(a.flops < b.flops for a, b in zip(history, history[1:]))   # monotone, as the NFEs are
    assert meta["summary"]["flops_spent"] == history[-1].flops
    rows = [json.loads(line) for line in (tmp_path / "run" / "candidates.jsonl").read_text().splitlines()]
    assert [r["flops"] for r in rows] == [c.flops for c in history]


def test_the_app_and_the_arena_offer_flops_beside_nfes_seconds_and_calls(tmp_path):
    pytest.importorskip("gradio")
    from tsearch.app import axis
    from tsearch.app import best as best_lib
    from tsearch.arena.curves import outcomes_of_cell

    assert ("FLOPs", "flops") in axis.CHOICES and axis.check_cost("flops") == "flops"
    result = tsearch.search(model="digits", cls=5, verifiers=["digits-classifier"], budget=32, steps=4, seed=2,
                            out=str(tmp_path / "r"))
    xs = best_lib.costs(result.history, "flops")
    assert xs == [c.flops for c in result.history] and xs == sorted(xs) and xs[0] > 0
    from tsearch.app import charts
    from tsearch.app.state import LiveRun

    live = LiveRun()
    for event in tsearch.stream(result.config):
        live.add(event)
    figure = charts.run_figure(live, cost="flops")   # the chart the radio's FLOPs draws, on the same search
    dots = next(t for t in figure["data"] if t.get("name") == "candidates")
    assert dots["x"] == xs and figure["layout"]["xaxis"]["title"]["text"] == best_lib.COSTS["flops"]
    row = {"config": result.config.to_dict(), "summary": result.summary.to_row(), "run_dir": "r"}
    [outcome] = outcomes_of_cell(tmp_path, row, "random", [32], anytime=False)
    assert outcome.flops == result.history[-1].flops


def test_a_verifier_that_cannot_be_counted_leaves_the_total_unknown_not_guessed():
    model = load_model("gmm")
    cost = flops.of_search(model, model.encode(1), [tsearch.verifiers.custom.CallableVerifier(lambda im, c: [0.0])], 1)
    assert cost.per_nfe == 0   # an analytic mixture: elementwise work only, which the counter does not count
    assert cost.per_call == {"<lambda>": None} and cost.spent(10, 1) is None
    assert json.dumps(cost.to_dict())


def test_the_small_shapes_size_trains_and_costs_about_a_quarter_of_the_teachers_flops_per_nfe(tmp_path):
    from tsearch.models.shapes import ShapesModel
    from tsearch.worlds.shapes import train_generator
    from tsearch.worlds.shapes.generator import Generator

    out = str(tmp_path / "small")
    log = train_generator.main(["--size", "small", "--steps", "2", "--batch-size", "4", "--out", out, "--threads", "1"])
    assert log["steps"] == 2 and log["config"]["size"] == "small"
    small = ShapesModel(Generator.load(out), dtype="float32")
    teacher = load_model("shapes-teacher", dtype="float32")
    ratio = small.flops_per_nfe(small.encode("a red circle")) / teacher.flops_per_nfe(teacher.encode("a red circle"))
    assert 0.2 < ratio < 0.3   # measured: 230.7 / 904.6 MFLOPs per pass = 0.255
    with pytest.raises(SystemExit):
        train_generator.main(["--size", "huge", "--out", out])


def test_shapes_small_is_registered_with_a_quarter_of_the_teachers_flops_per_nfe():
    from tsearch.models import shapes

    ok, reason = shapes.build_small.available()
    if not ok:
        pytest.skip(reason)
    small, teacher = load_model("shapes-small", dtype="float32"), load_model("shapes-teacher", dtype="float32")
    assert small.nfe_per_eval == teacher.nfe_per_eval == 2 and small.guidance == teacher.guidance
    ratio = small.flops_per_nfe(small.encode("a red circle")) / teacher.flops_per_nfe(teacher.encode("a red circle"))
    assert 0.2 < ratio < 0.3
