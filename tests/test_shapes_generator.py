"""The shapes generator: its training script, saved folder, Model adapter and evaluation script."""

import json
import os

import pytest
import torch

from tsearch import noise
from tsearch.models import load_model
from tsearch.models.shapes import DEFAULT_PATH, ShapesModel, available, build
from tsearch.recipes import Counter, denoise
from tsearch.registry import Unavailable
from tsearch.worlds.shapes import grammar
from tsearch.worlds.shapes.text_encoder import PAD, UNK, ShapesTextEncoder, TextEncoderConfig, vocabulary


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Three CPU training steps of the real script, written where a trained model would be."""
    from tsearch.worlds.shapes import train_generator

    out = str(tmp_path_factory.mktemp("generator"))
    log = train_generator.main(["--steps", "3", "--batch-size", "4", "--out", out, "--threads", "1"])
    assert log["steps"] == 3 and log["final_loss"] > 0
    return out


def test_training_writes_a_diffusers_style_folder(weights):
    with open(os.path.join(weights, "model_index.json")) as f:
        meta = json.load(f)
    assert meta["parameterization"] == "rf" and meta["prediction"] == "velocity"
    assert meta["training"]["steps"] == 3
    with open(os.path.join(weights, "train_log.json")) as f:
        assert json.load(f)["steps"] == 3
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    unet_files = os.listdir(os.path.join(weights, "unet"))
    assert "config.json" in unet_files and "diffusion_pytorch_model.safetensors" in unet_files
    # fp16 on disk, so the bundled folder stays a few MB
    state = load_file(os.path.join(weights, "unet", "diffusion_pytorch_model.safetensors"))
    assert all(v.dtype == torch.float16 for v in state.values())
    assert UNet2DConditionModel.from_pretrained(os.path.join(weights, "unet")).config.sample_size == 32
    text = load_file(os.path.join(weights, "text_encoder", "model.safetensors"))
    assert text["embed.weight"].shape[0] < 64  # compact vocabulary, not open_clip's 49k rows
    assert not os.path.exists(os.path.join(weights, "snapshots"))  # tiny runs keep only the final weights


def test_adapter_denoises_to_images_in_unit_range(weights):
    model = build(path=weights)
    assert isinstance(model, ShapesModel)
    assert model.parameterization == "rf" and model.noise_shape == (3, 32, 32) and model.conditioning == "text"
    cond = model.encode("a red circle and a blue square")
    x = torch.stack([noise.gaussian(model.noise_shape, s) for s in range(3)])
    images = model.decode(denoise(model, cond, x, model.sigmas(2)))
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1


def test_same_noise_gives_the_same_image_and_slices_compose(weights):
    model = build(path=weights)
    cond = model.encode("two squares")
    x = noise.gaussian((2, 3, 32, 32), 7)
    sigmas = model.sigmas(4)
    assert torch.equal(denoise(model, cond, x, sigmas), denoise(model, cond, x.clone(), sigmas))   # the default solver
    # a one-step solver's trajectory composes from its slices (a multistep one restarts its history at a cut)
    full = denoise(model, cond, x, sigmas, "euler")
    halves = denoise(model, cond, denoise(model, cond, x, sigmas[:3], "euler"), sigmas[2:], "euler")
    assert torch.allclose(halves, full, atol=1e-6)
    # the clean estimate at t = 0 leaves the state unchanged (x0 = x - 0 * v)
    assert torch.allclose(model.predict_x0(full, cond, 0.0), full)


def test_guidance_counts_two_nfes_per_eval_and_changes_the_result(weights):
    plain, guided = build(path=weights, guidance=1.0), build(path=weights, guidance=3.0)
    assert plain.nfe_per_eval == 1 and guided.nfe_per_eval == 2
    x = noise.gaussian((2, 3, 32, 32), 1)
    plain_count, guided_count = Counter(), Counter()
    out_plain = denoise(plain, plain.encode("a green triangle"), x, plain.sigmas(3), counter=plain_count)
    out_guided = denoise(guided, guided.encode("a green triangle"), x, guided.sigmas(3), counter=guided_count)
    assert plain_count.nfe == 2 * 3 and guided_count.nfe == 2 * 3 * 2
    assert not torch.allclose(out_plain, out_guided)
    with pytest.raises(ValueError, match="guidance"):
        build(path=weights, guidance=-1.0)


def test_an_invalid_prompt_raises_the_grammars_error(weights):
    model = build(path=weights)
    with pytest.raises(ValueError) as grammar_error:
        grammar.parse("a purple hexagon")
    with pytest.raises(ValueError) as model_error:
        model.encode("a purple hexagon")
    assert str(model_error.value) == str(grammar_error.value)
    with pytest.raises(ValueError, match="caption"):
        model.encode(3)
    # the grammar's leniency (case, trailing full stop) reaches the same conditioning
    a, b = model.encode("A red circle."), model.encode("a red circle")
    assert torch.equal(a.states, b.states) and torch.equal(a.pooled, b.pooled)


def test_registry_builds_it_and_reports_missing_weights(weights, tmp_path):
    assert isinstance(load_model("shapes", path=weights), ShapesModel)
    with pytest.raises(Unavailable, match="train_generator"):
        build(path=str(tmp_path / "absent"))
    ok, reason = available()
    assert ok == os.path.exists(os.path.join(DEFAULT_PATH, "model_index.json"))
    assert ok or "train_generator" in reason
    with pytest.raises(ValueError, match="unknown options"):
        build(path=weights, colour="red")


def test_text_encoder_uses_a_compact_table_and_round_trips(tmp_path):
    encoder = ShapesTextEncoder(TextEncoderConfig(vocab=vocabulary()))
    rows = encoder.tokenize(["a circle to the left of a square", "a purple circle", ""])
    assert rows.shape == (3, 16)
    assert (rows[0] > UNK).sum() == 10  # start + the longest caption's 8 words + end, all in the table
    assert (rows[1] == UNK).sum() == 1 and (rows[2] != PAD).sum() == 2
    states, pooled = encoder(rows)
    assert states.shape == (3, 16, 128) and pooled.shape == (3, 128)
    encoder.save_pretrained(str(tmp_path))
    loaded = ShapesTextEncoder.from_pretrained(str(tmp_path))
    assert torch.allclose(loaded(rows)[1], encoder.half().float()(rows)[1], atol=1e-3)


def test_eval_script_reports_accuracy_per_category(weights, capsys, tmp_path):
    from tsearch.bench import eval_shapes as eval_generator

    out = tmp_path / "results.json"
    results = eval_generator.main(["--weights", weights, "--captions", "6", "--steps", "1", "--guidance", "1", "2",
                                   "--out", str(out)])
    assert [r["guidance"] for r in results] == [1.0, 2.0]
    assert json.loads(out.read_text()) == results
    assert set(results[0]["per_category"]) == set(grammar.CATEGORIES)
    assert 0.0 <= results[0]["overall"] <= 1.0 and results[1]["nfe"] == 6 * 2
    r = results[0]
    assert r["meets_bar"] == (0.3 <= r["overall"] <= 0.8 and min(r["per_category"].values()) >= 0.1)
    assert "overall" in capsys.readouterr().out
    with pytest.raises(ValueError, match="multiple of 6"):
        eval_generator.eval_captions(7)


@pytest.mark.skipif(not os.path.exists(os.path.join(DEFAULT_PATH, "model_index.json")),
                    reason="bundled weights not trained yet (python -m tsearch.worlds.shapes.train_generator)")
def test_bundled_weights_load_with_the_documented_shapes():
    model = load_model("shapes")
    assert model.noise_shape == (3, 32, 32) and model.default_steps >= 1
    x = noise.gaussian((2, 3, 32, 32), 0)
    images = model.decode(denoise(model, model.encode("a red circle"), x, model.sigmas(2)))
    assert images.shape == (2, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(DEFAULT_PATH) for f in files)
    assert size < 20e6  # a few MB of fp16 safetensors
