"""dtype: float32, bfloat16, float16 or auto; the bundled models autocast their network (weights and states
stay fp32); run.json records the resolved dtype, so a bf16 candidate regenerates bit for bit; batch
invariance holds in bf16. Tiny random-weight networks keep this fast: bf16 convolutions have no native
kernel on an AVX2 CPU and run through a slow reference path there."""

import json

import numpy as np
import pytest
import torch

import tsearch
from tsearch.config import SearchConfig
from tsearch.models import base, load_model
from tsearch.models import digits as digits_module
from tsearch.models import shapes as shapes_module
from tsearch.models.base import native_bf16, resolve_dtype
from tsearch.models.digits import DigitsModel
from tsearch.regenerate import regenerate_candidate
from tsearch.runs import load_run
from tsearch.worlds.digits import generator as digits_gen

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_unet(seed=0):
    torch.manual_seed(seed)
    return digits_gen.build_unet(channels=(16, 32)).eval()


@pytest.fixture
def tiny_digits(monkeypatch):
    """`load_model("digits", ...)` builds the real adapter over a tiny random UNet (micro-batch 4)."""
    if not digits_module.available()[0]:
        pytest.skip(digits_module.available()[1])
    unet = tiny_unet()
    monkeypatch.setattr(digits_module.gen, "load", lambda path, device: (unet, {}))
    monkeypatch.setattr(DigitsModel, "micro_batch", 4)
    return unet


def test_dtype_names_aliases_and_auto(monkeypatch):
    assert resolve_dtype(None) == "float32" and resolve_dtype(None, default="bfloat16") == "bfloat16"
    assert [resolve_dtype(d) for d in ("bf16", "fp16", "fp32", "float16")] == ["bfloat16", "float16", "float32", "float16"]
    monkeypatch.setattr(base, "native_bf16", lambda device="cpu": True)
    assert resolve_dtype("auto") == "bfloat16"
    monkeypatch.setattr(base, "native_bf16", lambda device="cpu": False)
    assert resolve_dtype("auto") == "float32"
    with pytest.raises(ValueError, match="choose one of float32, bfloat16, float16, auto"):
        resolve_dtype("int8")
    assert SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), dtype="bf16").validate().dtype == "bfloat16"


def test_native_bf16_is_what_onednn_reports_on_this_cpu():
    expected = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert native_bf16("cpu") is expected
    assert resolve_dtype("auto", "cpu") == ("bfloat16" if expected else "float32")


def test_gmm_is_float32_only_with_a_clear_error_and_auto_is_float32_there(monkeypatch):
    monkeypatch.setattr(base, "native_bf16", lambda device="cpu": True)   # even where bf16 is native
    assert load_model("gmm", dtype="auto").dtype == torch.float32
    for dtype in ("bfloat16", "float16"):
        with pytest.raises(ValueError, match="runs in float32 only"):
            load_model("gmm", dtype=dtype)
    with pytest.raises(ValueError, match="dtype: choose one of"):
        load_model("digits", dtype="float64")


def test_bf16_autocasts_the_network_and_hands_back_fp32_states():
    unet = tiny_unet()
    full, half = DigitsModel(unet, dtype="float32"), DigitsModel(unet, dtype="bfloat16")
    assert (full.dtype, half.dtype) == (torch.float32, torch.bfloat16)
    x, cond = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(1)), half.encode(3)
    a, b = full.forward_x0(x, cond, 0.5), half.forward_x0(x, cond, 0.5)
    assert b.dtype == torch.float32 and all(p.dtype == torch.float32 for p in unet.parameters())
    assert 0 < (a - b).abs().max() < 0.1   # bf16 arithmetic: close, not equal
    guided = DigitsModel(unet, guidance=2.0, dtype="bfloat16").forward_x0(x, cond, 0.5)
    assert guided.dtype == torch.float32 and torch.isfinite(guided).all()


def test_batch_invariance_holds_in_bf16():
    """Row i of a bf16 batch has the same bits alone, reordered and with other batch mates (models.invariant)."""
    model = DigitsModel(tiny_unet(), dtype="bfloat16")
    model.micro_batch = 4
    x = torch.randn(6, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    cond = model.encode(7)
    for sigma in (0.9, 0.2):
        full = model.forward_x0(x, cond, sigma)
        assert torch.equal(model.forward_x0(x[5:6], cond, sigma)[0], full[5])
        assert torch.equal(model.forward_x0(x[[4, 0, 2]], cond, sigma), full[[4, 0, 2]])


def test_batch_invariance_holds_in_bf16_for_the_shapes_adapter():
    """The shapes adapter (two-pass guidance in one batch) over its real text encoder and a tiny UNet."""
    if not shapes_module.available()[0]:
        pytest.skip(shapes_module.available()[1])
    from tsearch.worlds.shapes.generator import Generator, UNetConfig, build_unet

    generator = Generator.load(shapes_module.DEFAULT_PATH)
    torch.manual_seed(0)
    generator.unet = build_unet(UNetConfig(channels=(8, 16, 16), heads=2)).eval()
    model = shapes_module.ShapesModel(generator, dtype="bfloat16")
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    cond = model.encode("a red circle")
    full = model.forward_x0(x, cond, 0.6)
    assert full.dtype == torch.float32
    assert torch.equal(model.forward_x0(x[4:5], cond, 0.6)[0], full[4])
    assert torch.equal(model.forward_x0(x[[3, 1]], cond, 0.6), full[[3, 1]])


@pytest.mark.parametrize("solver", ["euler", "dpmpp-2m"])
def test_an_auto_search_records_bfloat16_and_its_candidates_regenerate_bit_for_bit(tmp_path, monkeypatch, tiny_digits,
                                                                                  solver):
    monkeypatch.setattr(base, "native_bf16", lambda device="cpu": True)   # as on a CPU with AVX512-BF16 or AMX
    out = tmp_path / "bf16"
    tsearch.search(model="digits", cls=4, verifiers=["digits-classifier"], algorithm="zero-order", n=3, budget=9,
                   steps=3, solver=solver, seed=5, batch_size=3, dtype="auto", out=str(out))
    stored = json.loads((out / "run.json").read_text())["config"]
    assert stored["dtype"] == "bfloat16" and stored["solver"] == solver
    run = load_run(out)
    assert len(run.candidates) == 3
    for candidate in run.candidates:   # loaded again by name, from run.json's dtype
        again = regenerate_candidate(str(out), candidate.id)
        assert np.array_equal(np.asarray(again), np.asarray(run.image(candidate.id))), candidate.id


def test_a_float32_run_records_float32_and_differs_from_bf16(tmp_path, tiny_digits, monkeypatch):
    monkeypatch.setattr(base, "native_bf16", lambda device="cpu": False)   # the default (auto) on an AVX2-only CPU
    runs = {}
    for dtype in (None, "bfloat16"):
        out = tmp_path / str(dtype)
        tsearch.search(model="digits", cls=4, verifiers=["digits-classifier"], algorithm="random", budget=2, steps=2,
                       seed=5, dtype=dtype, out=str(out))
        runs[dtype] = load_run(out)
    assert runs[None].config["dtype"] == "float32" and runs["bfloat16"].config["dtype"] == "bfloat16"
    assert runs[None].candidates[0].recipe == runs["bfloat16"].candidates[0].recipe
    a, b = (np.asarray(r.image(r.candidates[0].id), dtype=int) for r in (runs[None], runs["bfloat16"]))
    assert 0 < np.abs(a - b).max() < 60
