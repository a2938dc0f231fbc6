"""The guidance-distilled shapes generator: a student that takes the scale as an input, one pass per step.

A tiny teacher (the real text encoder, a small random UNet) keeps these fast; the distillation script
runs two real steps on it."""

import numpy as np
import pytest
import torch

from tsearch import noise
from tsearch.models import shapes as shapes_module
from tsearch.models import supported_options
from tsearch.recipes import Counter, denoise
from tsearch.regenerate import regenerate_candidate
from tsearch.runs import load_run
from tsearch.worlds.shapes import distill
from tsearch.worlds.shapes.generator import Generator, UNetConfig, build_unet

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    if not shapes_module.available()[0]:
        pytest.skip(shapes_module.available()[1])
    generator = Generator.load(shapes_module.DEFAULT_PATH)
    torch.manual_seed(0)
    generator.unet = build_unet(UNetConfig(channels=(8, 16, 16), heads=2)).eval()
    folder = str(tmp_path_factory.mktemp("teacher"))
    generator.save(folder)
    return folder


@pytest.fixture(scope="module")
def student(teacher, tmp_path_factory):
    """Two steps of the real distillation script, then two more resumed from its checkpoint."""
    out = str(tmp_path_factory.mktemp("student"))
    args = ["--teacher", teacher, "--batch-size", "4", "--out", out, "--threads", "1"]
    assert distill.main([*args, "--steps", "2"])["steps"] == 2
    assert distill.main([*args, "--steps", "4", "--resume"])["steps"] == 4   # resumed, not restarted
    return out


def test_the_student_starts_as_the_teachers_conditional_pass(teacher):
    t = Generator.load(teacher)
    s = distill.student_of(t, (0.0, 6.0))
    assert s.distilled and not t.distilled
    cond = t.condition("a red circle")
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(s.x0(x, 0.7, cond, 3.0), t.x0(x, 0.7, cond, 1.0), atol=1e-6)


def test_guidance_one_is_exactly_the_plain_conditional_pass(student):
    g = Generator.load(student)
    torch.nn.init.normal_(g.unet.time_embedding.cond_proj.weight)   # a guidance input that surely matters
    states, pooled, _, _ = cond = g.condition("two squares")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    t = torch.full((2,), 0.4)
    with torch.no_grad():
        plain = g.unet(x, t * 1000, encoder_hidden_states=states.expand(2, -1, -1), class_labels=pooled.expand(2, -1)).sample
        assert torch.equal(g.x0(x, 0.4, cond, 1.0), x - 0.4 * plain)
        assert not torch.allclose(g.x0(x, 0.4, cond, 3.0), g.x0(x, 0.4, cond, 1.0))


def test_the_student_costs_one_nfe_per_step_at_any_guidance_within_its_range(student):
    for guidance in (0.0, 1.0, 3.0, 6.0):
        assert shapes_module.build(path=student, guidance=guidance, dtype="float32").nfe_per_eval == 1
    model = shapes_module.build(path=student, dtype="float32")
    assert model.guidance == 3.0 and model.default_steps == 10
    assert shapes_module.build(path=shapes_module.DEFAULT_PATH, dtype="float32").nfe_per_eval == 2   # the teacher
    with pytest.raises(ValueError, match="guidance: .*trained for 0 to 6.*shapes-teacher"):
        shapes_module.build(path=student, guidance=7.5)
    cond = model.encode("a blue triangle")
    x = torch.stack([noise.gaussian(model.noise_shape, s) for s in range(2)])
    counter = Counter()
    denoise(model, cond, x, model.sigmas(3), None, counter)
    assert counter.nfe == 2 * 3   # two samples, three steps, one pass each


def test_guidance_is_a_model_option_of_both_names_in_the_cli_and_the_app():
    from tsearch.app import catalog

    for name in ("shapes-distilled", "shapes-teacher", "shapes"):
        assert "guidance" in supported_options(name)
        assert "guidance" in catalog.model_options(name)


def test_a_distilled_candidate_from_the_cli_regenerates_bit_for_bit(student, tmp_path, monkeypatch):
    from tsearch.cli import main

    monkeypatch.setattr(shapes_module, "DISTILLED_PATH", student)
    out = tmp_path / "run"
    assert main(["run", "--model", "shapes-distilled", "--prompt", "a red square", "--verifier", "shapes-clip",
                 "--algorithm", "random", "--budget", "6", "--steps", "3", "--seed", "4", "--guidance", "2",
                 "--out", str(out)]) == 0
    run = load_run(out)
    assert run.config["model"] == "shapes-distilled" and run.config["model_options"]["guidance"] == 2.0
    assert len(run.candidates) == 2 and run.candidates[-1].nfe_spent == 6   # three one-pass steps each
    for candidate in run.candidates:
        again = regenerate_candidate(str(out), candidate.id)
        assert np.array_equal(np.asarray(again), np.asarray(run.image(candidate.id))), candidate.id


def test_the_bundled_models_default_to_auto_bf16_only_where_native(teacher, monkeypatch):
    from tsearch.models import base
    from tsearch.models.digits import DigitsModel

    for native, expected in ((False, torch.float32), (True, torch.bfloat16)):
        monkeypatch.setattr(base, "native_bf16", lambda device="cpu", native=native: native)
        assert shapes_module.build(path=teacher).dtype == expected
        assert DigitsModel(torch.nn.Identity()).dtype == expected
    assert shapes_module.build(path=teacher, dtype="float32").dtype == torch.float32   # pinned stays pinned


def test_the_shipped_student_loads_by_name_as_one_pass():
    if not shapes_module.build_distilled.available()[0]:
        pytest.skip(shapes_module.build_distilled.available()[1])
    from tsearch.models import load_model

    model = load_model("shapes-distilled", dtype="float32")
    assert model.generator.distilled and model.nfe_per_eval == 1 and model.guidance == 3.0
    assert model.default_steps == 10 and model.generator.meta["guidance_range"] == [0.0, 6.0]
    assert load_model("shapes-teacher", dtype="float32").nfe_per_eval == 2
