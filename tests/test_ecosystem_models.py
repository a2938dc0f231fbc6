"""Working with the ecosystem: loaded diffusers pipelines as the model, PIL-image verifiers, model options.

Pipelines are tiny random ones of the real diffusers classes, built in code (tsearch.models.random_arch);
the verifiers are plain functions over PIL images, the way reward models' own code takes them.
"""

from __future__ import annotations

import json
import sys
import textwrap
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

import tsearch
from tsearch import api, cli
from tsearch.config import SearchConfig
from tsearch.models import MODELS, check_model_options, load_model
from tsearch.models import hub
from tsearch.models import random_arch as ra
from tsearch.registry import Entry
from tsearch.verifiers import VERIFIERS
from tsearch.verifiers.deadline import VerifierError

PROMPT = "a red circle"
TINY = dict(steps=2, batch_size=4, seed=1)

pytestmark = pytest.mark.usefixtures("one_thread")  # the fixture lives in conftest.py


def brightness(images, condition):
    """A verifier as a reward model's code is written: PIL images in, one number each out."""
    return [float(np.asarray(image, dtype=np.float64).mean()) for image in images]


@pytest.fixture(scope="module")
def pipe(one_thread):
    torch.manual_seed(0)
    return ra.sd15_pipeline("tiny")


@pytest.fixture(scope="module")
def folder(pipe, tmp_path_factory):
    path = tmp_path_factory.mktemp("sd15") / "pipe"
    pipe.save_pretrained(path)
    return str(path)


# --- 1. a loaded pipeline is the model ------------------------------------------------------------------------------
def test_search_takes_a_loaded_pipeline_itself_with_model_options(pipe, tmp_path):
    plan = api.prepare(model=pipe, prompt=PROMPT, verifiers=[brightness], budget=40, **TINY,
                       model_options={"height": 16, "width": 24, "guidance": 1.0, "negative_prompt": "blurry"})
    assert plan.model.pipe is pipe and type(plan.model).__name__ == "StableDiffusion"
    assert plan.model.noise_shape == (4, 8, 12)            # 16 x 24 pixels over the tiny VAE's factor 2
    assert plan.model.nfe_per_eval == 1 and plan.model.options.negative_prompt == "blurry"
    result = tsearch.search(model=pipe, prompt=PROMPT, verifiers=[brightness], budget=40, **TINY,
                            model_options={"height": 16, "width": 24}, out=str(tmp_path / "run"))
    assert result.best_image.size == (24, 16) and result.summary.nfe_spent <= 40 and len(result.history) >= 2
    stored = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert stored["model"] == "StableDiffusionPipeline"     # built in memory: no folder, so its class
    assert stored["model_options"] == {"height": 16, "width": 24}


def test_stream_takes_a_pipeline_loaded_from_a_folder_and_the_run_starts_again_from_it(folder, tmp_path):
    from diffusers import StableDiffusionPipeline

    loaded = StableDiffusionPipeline.from_pretrained(folder)
    events = list(tsearch.stream(model=loaded, prompt=PROMPT, verifiers=[brightness], budget=30, **TINY,
                                 model_options={"guidance_scale": 2.0}, out=str(tmp_path / "run")))
    assert type(events[-1]).__name__ == "SearchDone"
    stored = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert stored["model"] == folder and stored["model_options"] == {"guidance": 2.0}   # one name, recorded
    again = SearchConfig.from_run(tmp_path / "run", verifiers=("gmm-density",))
    assert again.model == folder and again.model_options == {"guidance": 2.0}


@pytest.mark.parametrize("family", ["flux", "flux-schnell", "sd3", "sdxl", "pixart", "dit"])
def test_every_family_is_picked_from_the_pipeline_object_and_wraps_it(family):
    from test_real_models import FAMILIES   # the tiny builders of every family (tests/ is on sys.path)

    builder, options, condition = FAMILIES[family]
    torch.manual_seed(0)
    pipe = builder()
    model = hub.from_pipeline(pipe, **options)
    assert model.pipe is pipe and type(model) is hub.adapter_class(type(pipe).__name__)
    assert model.name == type(pipe).__name__                 # built in memory: named by its class
    x = torch.randn(2, *model.noise_shape) * model.prior_scale
    out = model.predict_x0(x, model.encode(condition), model.sigma_max)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_a_pipeline_on_another_device_than_the_search_is_named(one_thread):
    meta = ra.sd15_pipeline("tiny").to("meta")
    with pytest.raises(ValueError, match="device: the pipeline passed as the model is on meta .* pass device='meta'"):
        api.prepare(model=meta, prompt=PROMPT, verifiers=[brightness])


def test_a_pipeline_class_without_an_adapter_and_a_wrong_dtype_are_named():
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    with pytest.raises(ValueError, match=r"'DDPMPipeline' is not supported; tsearch drives: .*FluxPipeline.*"
                                         r"StableDiffusionPipeline"):
        api.prepare(model=DDPMPipeline(unet=unet, scheduler=DDPMScheduler()), prompt=PROMPT, verifiers=[brightness])


def test_a_pipeline_keeps_its_dtype_and_refuses_options_it_does_not_take(pipe):
    with pytest.raises(ValueError, match="dtype: the pipeline passed as the model is in float32, not bfloat16"):
        api.prepare(model=pipe, prompt=PROMPT, verifiers=[brightness], dtype="bfloat16")
    with pytest.raises(ValueError, match="max_sequence_length applies to flux-dev.*StableDiffusionPipeline"):
        api.prepare(model=pipe, prompt=PROMPT, verifiers=[brightness], model_options={"max_sequence_length": 8})
    with pytest.raises(ValueError, match="guidance must be a scale >= 0"):
        api.prepare(model=pipe, prompt=PROMPT, verifiers=[brightness], model_options={"guidance": -1.0})


def test_a_loaded_adapter_takes_model_options_over_the_same_pipeline(pipe):
    model = hub.from_pipeline(pipe, "tiny-sd15")
    plan = api.prepare(model=model, prompt=PROMPT, verifiers=[brightness], model_options={"height": 20}, **TINY)
    assert plan.model is not model and plan.model.pipe is pipe and plan.model.noise_shape == (4, 10, 8)
    with pytest.raises(ValueError, match="model_options: the loaded model 'gmm' keeps the options it was built with"):
        api.prepare(model=load_model("gmm"), cls=1, verifiers=["gmm-density"], model_options={"guidance": 2.0})


# --- 2. callable verifiers get PIL images ---------------------------------------------------------------------------
def test_callables_get_pil_images_and_objects_with_score_keep_the_tensor():
    seen = {}

    def looks(images, condition):
        seen.setdefault("function", (type(images).__name__, [(im.mode, im.size) for im in images], condition))
        return brightness(images, condition)

    class TensorScorer:
        name = "tensor-scorer"

        def score(self, images, condition):
            seen.setdefault("object", (type(images).__name__, tuple(images.shape), images.dtype))
            return images.mean((1, 2, 3))

    tsearch.search(model="gmm", cls=1, verifiers=[looks, TensorScorer()], budget=40, steps=4, batch_size=4)
    kind, shapes, condition = seen["function"]
    assert kind == "list" and shapes == [("RGB", (8, 8))] * 4 and condition == 1
    assert seen["object"] == ("Tensor", (4, 3, 8, 8), torch.float32)


def test_an_imagereward_style_model_wrapped_in_two_lines():
    class RewardModel:   # stands in for ImageReward: score(prompt, images) -> one reward per image
        def score(self, prompt, images):
            assert isinstance(prompt, str) and all(isinstance(im, Image.Image) for im in images)
            return [float(np.asarray(im)[..., 0].mean()) - float(np.asarray(im)[..., 2].mean()) for im in images]

    reward = RewardModel()

    def image_reward(images, prompt):
        return reward.score(prompt, images)

    result = tsearch.search(model=ra.sd15_pipeline("tiny"), prompt=PROMPT, verifiers=[image_reward], budget=30, **TINY)
    red = np.asarray(result.best_image, dtype=np.float64)
    assert result.best_score == pytest.approx(red[..., 0].mean() - red[..., 2].mean(), abs=1e-9)
    assert result.best_score == max(c.score for c in result.history)


@pytest.mark.parametrize("answer,message", [
    (lambda images, c: [0.0], r"verifier 'bad' returned 1 scores for 4 images"),
    (lambda images, c: ["high"] * len(images), r"verifier 'bad' returned a list holding 'high', not a number"),
    (lambda images, c: None, r"verifier 'bad' returned None; f\(images, condition\) gets a list of 4 PIL images"),
    (lambda images, c: images[0].missing, r"verifier 'bad' failed: AttributeError"),
])
def test_a_callable_answering_wrongly_is_named(answer, message):
    answer.__name__ = "bad"
    with pytest.raises(VerifierError, match=message):
        tsearch.search(model="gmm", cls=1, verifiers=[answer], budget=40, steps=4, batch_size=4)


def test_one_number_is_taken_for_one_image_only():
    from tsearch.verifiers.custom import CallableVerifier

    one = CallableVerifier(lambda images, prompt: 0.25, "squeezed")   # ImageReward's score(prompt, [image])
    assert one.score(torch.zeros(1, 3, 4, 4), PROMPT).tolist() == [0.25]
    with pytest.raises(VerifierError, match="'squeezed' returned float 0.25; .* a list of 2 PIL images"):
        one.score(torch.zeros(2, 3, 4, 4), PROMPT)


def test_cli_module_function_verifiers_get_pil_images_and_model_options_are_kept(folder, tmp_path, monkeypatch, capsys):
    module = tmp_path / "pil_scorers.py"
    module.write_text(textwrap.dedent('''
        from PIL import Image

        def redness(images, prompt):
            assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in images), images
            return [sum(im.getpixel((0, 0))[:1]) for im in images]
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("pil_scorers", None)
    first = str(tmp_path / "first")
    base = ["run", "--steps", "2", "--batch-size", "4"]
    assert cli.main([*base, "--model", folder, "--prompt", PROMPT, "--verifier", "pil_scorers:redness",
                     "--algorithm", "random", "--budget", "20", "--height", "16", "--width", "20", "--guidance", "1",
                     "--negative-prompt", "blurry", "--out", first]) == 0
    stored = json.loads((tmp_path / "first" / "run.json").read_text())["config"]
    assert stored["model_options"] == {"height": 16, "width": 20, "guidance": 1.0, "negative_prompt": "blurry"}
    assert stored["verifiers"] == ["pil_scorers:redness"]
    again = str(tmp_path / "again")
    assert cli.main(["run", "--from", first, "--out", again, "--guidance", "2"]) == 0
    stored = json.loads((tmp_path / "again" / "run.json").read_text())["config"]
    assert stored["model_options"] == {"height": 16, "width": 20, "guidance": 2.0, "negative_prompt": "blurry"}
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["error"] is None


# --- 3. model options: one name each, refused by name where a model has no use for them ----------------------------
@pytest.mark.parametrize("argv,message", [
    (["--model", "shapes", "--prompt", "a circle", "--verifier", "shapes-clip", "--height", "64"],
     "--height applies to flux-dev, flux-schnell, sd3.5-medium, sdxl, sd15, pixart-sigma .*model 'shapes' has a "
     "fixed image size \\(it takes only guidance\\)"),
    (["--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--guidance", "2"],
     "--guidance applies to shapes, digits, flux-dev, sd3.5-medium.*model 'gmm' takes none of the model options"),
    (["--model", "dit-xl-2-256", "--class", "1", "--verifier", "gmm-density", "--negative-prompt", "x"],
     "--negative-prompt applies to sd3.5-medium, sdxl, sd15, pixart-sigma.*'dit-xl-2-256' takes only guidance"),
    (["--model", "flux-schnell", "--prompt", "a", "--verifier", "gmm-density", "--guidance", "3"],
     "--guidance applies to .*flux-dev, sd3.5.*'flux-schnell' takes only height, width, max_sequence_length"),
    (["--model", "gmm", "--class", "1", "--verifier", "gmm-density", "--max-sequence-length", "0"],
     "argument --max-sequence-length: must be a whole number at least 1"),
])
def test_cli_model_options_a_model_does_not_take_are_one_line_naming_who_does(argv, message, capsys):
    assert cli.main(["run", *argv, "--algorithm", "random", "--budget", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert __import__("re").search(message, err), err


def test_one_name_for_guidance_in_every_family_and_old_runs_still_load(folder, tmp_path):
    assert SearchConfig(model="sd15", verifiers=("x:y",), model_options={"guidance_scale": 3.0}).validate().model_options == {"guidance": 3.0}
    with pytest.raises(ValueError, match="give guidance or guidance_scale, not both"):
        SearchConfig(model="sd15", verifiers=("x:y",), model_options={"guidance_scale": 3.0, "guidance": 2.0}).validate()
    old = tmp_path / "old"
    old.mkdir()
    (old / "run.json").write_text(json.dumps({"config": {"model": folder, "condition": PROMPT, "verifiers": ["x:y"],
                                                         "algorithm": "random", "model_options": {"guidance_scale": 1.0}}}))
    assert SearchConfig.from_run(old).model_options == {"guidance": 1.0}
    for family, options in (("StableDiffusionPipeline", hub.load_pretrained(folder, guidance=1.0).options),
                            ("the flux adapter", ra.build_random("flux-random", size="tiny").options)):
        assert options.guidance == options.guidance_scale, family   # the diffusers spelling still reads
    with pytest.raises(ValueError, match="guidance applies to"):
        tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=10, model_options={"guidance": 2.0})
    check_model_options("shapes", {"guidance": 2.0, "path": None})   # its own options pass
    with pytest.raises(ValueError, match="guidance: flux-schnell-tiny has no guidance input"):
        hub.from_pipeline(ra.flux_pipeline("tiny", guidance_embeds=False), "flux-schnell-tiny", guidance=3.5,
                          height=16, width=16)


# --- the app: a loaded pipeline, its model options, random search by default, captions that fit -----------------
class _Brightness:
    name = "brightness"

    def score(self, images, condition):
        return images.mean((1, 2, 3))


def _build_brightness(model=None, device="cpu"):
    return _Brightness()


def test_the_app_serves_a_loaded_pipeline_with_model_options_and_opens_on_zero_order(pipe, tmp_path, monkeypatch):
    from tsearch.app import catalog, handlers, ui, views
    from tsearch.app.choices import model_option_updates
    from tsearch.app.pool import POOL
    from tsearch.app.state import Session

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setitem(VERIFIERS, "brightness", Entry(f"{__name__}:_build_brightness", "mean pixel value (test)"))
    demo = ui.build_demo(model=pipe)
    name = "StableDiffusionPipeline"
    assert POOL.get(name).model.pipe is pipe
    by_label = {getattr(block, "label", None): block for block in demo.blocks.values()}
    assert by_label["Search algorithm"].value == catalog.DEFAULT_ALGORITHM == catalog.PLANNED.algorithm == "random"
    assert by_label["Model"].value == name
    assert by_label["Height (pixels)"].visible and by_label["Negative prompt"].visible
    assert not by_label["Max sequence length"].visible         # SD 1.5 has no T5 encoder
    assert catalog.model_options("shapes") == ("guidance",) and catalog.model_options("gmm") == ()
    updates = model_option_updates("gmm")
    assert updates[0]["visible"] is False and all(u["visible"] is False for u in updates[1:])

    search = dict(model=name, prompt=PROMPT, verifiers=["brightness"], algorithm="zero-order", budget=30, steps=2,
                  seed=0, baseline=False, batch_size=4, session=Session())
    *_, last = handlers.search(**search, height=16, width=20, guidance=1.0)
    status, best, _, _, gallery, details = last
    assert status.startswith("Done") and Image.open(best).size == (20, 16)
    stored = json.loads(open(f"{details['run_dir']}/run.json").read())["config"]
    assert stored["model"] == name and stored["model_options"] == {"height": 16, "width": 20, "guidance": 1.0}
    assert POOL.get(name, {"height": 16, "width": 20, "guidance": 1.0}).model.pipe is pipe
    for path, caption in gallery:
        assert len(caption.splitlines()) == 2 and max(map(len, caption.splitlines())) <= 17 and " NFE · #" in caption
    with pytest.raises(gr.Error, match="max_sequence_length applies to flux-dev.*takes only height, width, guidance"):
        list(handlers.search(**search, max_sequence_length=16))
    with pytest.raises(gr.Error, match="guidance applies to .*model 'gmm' takes none"):
        list(handlers.search(**dict(search, model="gmm", prompt="", cls=1, verifiers=["gmm-density"]), guidance=2))


def test_gallery_captions_are_short_and_carry_the_full_score():
    from tsearch.app import views
    from tsearch.candidate import Candidate

    row = Candidate.from_row({"id": 1234, "parent": 7, "round": 3, "nfe_spent": 12000, "score": 1.23456789,
                              "recipe": [{"op": "gaussian", "seed": 1}]})
    text = views.caption(row, best_id=1234)
    assert text == "★ 1.23457\n12000 NFE · #1234" and max(len(line) for line in text.splitlines()) <= 17
    assert float(text.split()[1]) == pytest.approx(1.23456789, rel=1e-5)
    assert views.caption(row) == "1.23457\n12000 NFE · #1234"
