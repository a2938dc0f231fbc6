"""Real-model adapters on tiny random pipelines of the real diffusers classes, loaded like real ones.

Each family's pipeline is built in code at toy sizes, saved with save_pretrained and loaded back
through `tsearch.models.hub.load_pretrained` (model_index.json picks the adapter). Checked per
family: denoise then decode; the same noise gives the same image; two slices equal one pass; exact
NFE counts; agreement with the diffusers pipeline's own loop for the same start latents and the
same Euler schedule, to ATOL on [0, 1] images (float32 on the CPU).
"""

import json
import os

import pytest
import torch

import tsearch  # noqa: F401  (torchvision fix before diffusers)
from tsearch import noise
from tsearch.models import load_model, model_status
from tsearch.models import hub
from tsearch.models import random_arch as ra
from tsearch.models.batching import Batcher
from tsearch.recipes import Counter, denoise
from tsearch.registry import Unavailable

ATOL = 1e-5      # images in [0, 1]: ours against the pipeline's own loop, same latents and sigmas (seen: < 1e-6)
PROMPT = "a red circle"
STEPS = 3


def _sd3():
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    small = ra.ClipTextSize(hidden=16, layers=2, heads=2, intermediate=37, vocab=100)
    transformer = SD3Transformer2DModel(sample_size=8, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8,
                                        num_attention_heads=4, joint_attention_dim=32, caption_projection_dim=32,
                                        pooled_projection_dim=32, out_channels=4)
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=ra.vae(ra.VaeSize((8, 16), 1, 8), 4, scaling_factor=1.5305, shift_factor=0.0609,
                   use_quant_conv=False, use_post_quant_conv=False),
        text_encoder=ra.clip_text(small, with_projection=True), tokenizer=ra.clip_tokenizer(),
        text_encoder_2=ra.clip_text(small, with_projection=True), tokenizer_2=ra.clip_tokenizer(),
        text_encoder_3=ra.t5_encoder(32, 37, 2, 4, 8, vocab=100), tokenizer_3=ra.t5_tokenizer())


def _sdxl():
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    small = ra.ClipTextSize(hidden=32, layers=2, heads=4, intermediate=37, vocab=100)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
                                projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64,
                                norm_num_groups=8)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return StableDiffusionXLPipeline(
        vae=ra.vae(ra.VaeSize((8, 16), 1, 8), 4, scaling_factor=0.13025), unet=unet, scheduler=scheduler,
        text_encoder=ra.clip_text(small), tokenizer=ra.clip_tokenizer(),
        text_encoder_2=ra.clip_text(small, with_projection=True, projection=32), tokenizer_2=ra.clip_tokenizer())


def _pixart():
    from diffusers import DPMSolverMultistepScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel

    transformer = PixArtTransformer2DModel(sample_size=8, num_layers=1, patch_size=2, attention_head_dim=8,
                                           num_attention_heads=3, caption_channels=32, in_channels=4,
                                           cross_attention_dim=24, out_channels=8, norm_type="ada_norm_single")
    return PixArtSigmaPipeline(tokenizer=ra.t5_tokenizer(), text_encoder=ra.t5_encoder(32, 37, 2, 4, 8, vocab=100),
                               vae=ra.vae(ra.VaeSize((8, 16), 1, 8), 4), transformer=transformer,
                               scheduler=DPMSolverMultistepScheduler())


def _dit():
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    transformer = DiTTransformer2DModel(sample_size=8, num_layers=1, patch_size=2, attention_head_dim=8,
                                        num_attention_heads=2, in_channels=4, out_channels=8, num_embeds_ada_norm=1000)
    return DiTPipeline(transformer=transformer, vae=ra.vae(ra.VaeSize((8, 16), 1, 8), 4),
                       scheduler=DDIMScheduler(clip_sample=False))


DIT_LABELS = {"0": "tench, Tinca tinca", "1": "goldfish, Carassius auratus"}  # as in DiT-XL-2-256's model_index.json


# family -> (builder, load options, condition)
FAMILIES = {
    "flux": (lambda: ra.flux_pipeline("tiny"), {"height": 16, "width": 16, "max_sequence_length": 16}, PROMPT),
    "flux-schnell": (lambda: ra.flux_pipeline("tiny", guidance_embeds=False),
                     {"height": 16, "width": 24, "max_sequence_length": 16}, PROMPT),
    "sd3": (_sd3, {"height": 16, "width": 16, "max_sequence_length": 16}, PROMPT),
    "sd15": (lambda: ra.sd15_pipeline("tiny"), {}, PROMPT),
    "sdxl": (_sdxl, {}, PROMPT),
    "pixart": (_pixart, {"max_sequence_length": 16}, PROMPT),
    "dit": (_dit, {}, 1),
}


pytestmark = pytest.mark.usefixtures("one_thread")  # the fixture lives in conftest.py


@pytest.fixture(scope="module")
def saved(tmp_path_factory, one_thread):
    """Each family's tiny pipeline saved once with save_pretrained; loading happens per test."""
    root = tmp_path_factory.mktemp("pipelines")
    paths = {}
    for family, (builder, _, _) in FAMILIES.items():
        torch.manual_seed(0)
        builder().save_pretrained(root / family)
        paths[family] = str(root / family)
    index = json.loads((root / "dit" / "model_index.json").read_text())
    (root / "dit" / "model_index.json").write_text(json.dumps({**index, "id2label": DIT_LABELS}))
    return paths


def _load(saved, family, **extra):
    _, options, condition = FAMILIES[family]
    return hub.load_pretrained(saved[family], "cpu", **{**options, **extra}), condition


@pytest.mark.parametrize("family", list(FAMILIES))
def test_denoise_decode_deterministic_sliced_and_counted(saved, family):
    model, condition = _load(saved, family)
    cond = model.encode(condition)
    x = torch.stack([noise.gaussian(model.noise_shape, seed) for seed in (1, 2)]) * model.prior_scale
    sigmas = model.sigmas(STEPS)
    counter = Counter()
    out = denoise(model, cond, x, sigmas, "euler", counter)
    assert counter.nfe == 2 * STEPS * model.nfe_per_eval
    images = model.decode(out)
    factor = 2 ** (len(model.pipe.vae.config.block_out_channels) - 1)
    assert images.shape == (2, 3, model.noise_shape[1] * factor, model.noise_shape[2] * factor)
    assert images.dtype == torch.float32 and torch.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0
    assert torch.equal(model.decode(denoise(model, cond, x, sigmas, "euler")), images)
    sliced = denoise(model, cond, denoise(model, cond, x, sigmas[:2], "euler"), sigmas[1:], "euler")
    assert torch.allclose(sliced, out, atol=1e-6)
    one = denoise(model, cond, x[1:], sigmas, "euler")  # batch composition does not change a sample
    assert torch.allclose(one, out[1:], rtol=1e-4, atol=1e-4)


def _pipeline_images(model, family, x, sigmas, condition):
    """The diffusers pipeline's own denoising loop from the same start state and Euler schedule."""
    from diffusers import EulerDiscreteScheduler

    pipe = model.pipe
    common = {"output_type": "pt", "return_dict": False}
    if family in ("flux", "flux-schnell", "sd3"):  # the pipeline's default schedule is ours: check, then use it
        from tsearch.models.flux import pack

        size = {"height": model.options.height, "width": model.options.width,
                "max_sequence_length": model.options.max_sequence_length}
        if family == "sd3":  # SD3's default spacing differs: give it our unshifted times, it shifts them
            times = torch.linspace(1, 0, STEPS + 1)[:-1].tolist()
            images = pipe([PROMPT] * len(x), latents=x, sigmas=times, guidance_scale=model.options.guidance_scale,
                          **size, **common)[0]
        else:
            images = pipe([PROMPT] * len(x), latents=pack(x), num_inference_steps=STEPS,
                          guidance_scale=model.options.guidance_scale, **size, **common)[0]
        assert torch.allclose(pipe.scheduler.sigmas.double(), sigmas, atol=1e-6)
        return images
    if family == "dit":  # DiTPipeline takes neither latents nor sigmas: its DDIM loop, its generator's latents
        generator = torch.Generator().manual_seed(7)
        return pipe(class_labels=[condition] * x.shape[0], guidance_scale=model.options.guidance_scale,
                    generator=generator, num_inference_steps=STEPS, **common)[0]
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    schedule = sigmas.tolist()
    pipe.scheduler.set_timesteps(sigmas=schedule)
    latents = x / pipe.scheduler.init_noise_sigma  # the pipeline multiplies its latents by this
    kwargs = {"latents": latents, "sigmas": schedule, "guidance_scale": model.guidance if family != "pixart"
              else model.options.guidance_scale, "height": model.height, "width": model.width}
    if family == "pixart":
        kwargs.update(use_resolution_binning=False, max_sequence_length=model.options.max_sequence_length)
    return pipe([PROMPT] * len(x), **kwargs, **common)[0]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_agrees_with_the_diffusers_pipeline(saved, family):
    model, condition = _load(saved, family)
    sigmas = model.sigmas(STEPS)
    if family == "dit":
        # Deterministic DDIM is Euler in the VE view (Karras et al. 2022, sec. 3): the same schedule is
        # the VE sigmas of DDIM's timesteps, and its VP start latents are ours times sqrt(1 + sigma^2).
        model.pipe.scheduler.set_timesteps(STEPS)
        table = model.vp.sigmas
        sigmas = torch.cat([table[model.pipe.scheduler.timesteps.long()], torch.zeros(1, dtype=table.dtype)])
        vp = torch.randn((2, *model.noise_shape), generator=torch.Generator().manual_seed(7))
        x = vp * (1 + sigmas[0] ** 2).sqrt().float()
    else:
        x = torch.stack([noise.gaussian(model.noise_shape, seed) for seed in (3, 4)]) * model.prior_scale
    ours = model.decode(denoise(model, model.encode(condition), x, sigmas, "euler"))
    theirs = _pipeline_images(model, family, x, sigmas, condition)
    assert theirs.shape == ours.shape
    assert (ours - theirs.float()).abs().max() < ATOL


def test_guidance_is_one_batched_pass_and_counts_two(saved):
    model, _ = _load(saved, "sd15", guidance_scale=7.5)
    calls = []
    unet_forward = model.pipe.unet.forward
    model.pipe.unet.forward = lambda sample, *a, **k: (calls.append(sample.shape[0]), unet_forward(sample, *a, **k))[1]
    cond = model.encode(PROMPT)
    counter = Counter()
    counter.x0_fn(model, cond)(torch.randn(3, *model.noise_shape), 1.0)
    assert calls == [6] and counter.nfe == 6
    unguided, _ = _load(saved, "sd15", guidance_scale=1.0)
    assert unguided.nfe_per_eval == 1 and unguided.encode(PROMPT).null_states is None


def test_out_of_memory_halves_the_batch_and_keeps_results(saved):
    model, _ = _load(saved, "flux", max_batch=8)
    cond = model.encode(PROMPT)
    x = torch.stack([noise.gaussian(model.noise_shape, seed) for seed in range(5)])
    expected = model.predict_x0(x, cond, 0.5)
    forward = model.pipe.transformer.forward

    def limited(*args, **kwargs):  # a GPU that fits two samples
        if kwargs["hidden_states"].shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(*args, **kwargs)

    model.pipe.transformer.forward = limited
    got = model.predict_x0(x, cond, 0.5)
    assert torch.allclose(got, expected, atol=1e-5)
    assert model.denoiser.max_batch == 2 and model.denoiser.halvings == 1  # 5 -> 2


def test_batcher_gives_up_clearly_on_one_sample_and_passes_other_errors():
    def always_oom(chunk):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError, match="single sample"):
        Batcher(4, "test")(always_oom, torch.zeros(4, 2))
    with pytest.raises(KeyError):
        Batcher(4)(lambda chunk: {}["missing"], torch.zeros(4, 2))
    assert torch.equal(Batcher(3)(lambda c: c * 2, torch.arange(7.0)), torch.arange(7.0) * 2)


def test_vp_models_see_the_variance_exploding_view(saved):
    model, _ = _load(saved, "sd15")
    alphas = model.pipe.scheduler.alphas_cumprod.double()
    assert model.parameterization == "ve"
    assert model.sigma_max == pytest.approx(float(((1 - alphas[-1]) / alphas[-1]).sqrt()))
    assert model.sigma_min == pytest.approx(float(((1 - alphas[0]) / alphas[0]).sqrt()))
    assert model.prior_scale == pytest.approx(model.sigma_max)
    assert model.vp.timestep(model.sigma_max) == pytest.approx(999.0)
    assert model.vp.timestep(float(((1 - alphas[500]) / alphas[500]).sqrt())) == pytest.approx(500.0)


def test_flux_schedule_uses_the_resolution_shift(saved):
    model, _ = _load(saved, "flux")
    assert model.shift > 1.0 and model.guided and model.nfe_per_eval == 1
    schnell, _ = _load(saved, "flux-schnell")
    assert not schnell.guided and schnell.noise_shape == (4, 8, 12)


def test_bad_inputs_raise_actionable_errors(saved, tmp_path):
    model, _ = _load(saved, "sd15")
    with pytest.raises(ValueError, match="prompt"):
        model.encode(3)
    dit, _ = _load(saved, "dit")
    assert dit.classes[:2] == ["tench, Tinca tinca", "Carassius auratus, goldfish"]
    with pytest.raises(ValueError, match="class index"):
        dit.encode(1000)
    with pytest.raises(ValueError, match="unknown option"):
        _load(saved, "sd15", colour="red")
    with pytest.raises(ValueError, match="multiples of 4"):
        _load(saved, "flux", height=18)
    with pytest.raises(ValueError, match="model_index.json"):
        hub.load_pretrained(str(tmp_path))
    (tmp_path / "model_index.json").write_text('{"_class_name": "KandinskyPipeline"}')
    with pytest.raises(ValueError, match="not supported"):
        hub.load_pretrained(str(tmp_path))


def test_unreachable_weights_name_the_model_and_the_remedy(saved):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(Unavailable, match="huggingface-cli login.*local folder") as error:
        load_model("tsearch-tests/not-a-real-model")
    assert "tsearch-tests/not-a-real-model" in str(error.value)
    ok, reason = hub._named("tsearch-tests/not-a-real-model", "fake", gated=True).available()
    assert not ok and "HF_HUB_OFFLINE" in reason
    with pytest.raises(ValueError, match="unknown model"):
        load_model("no-such-model")
    model = load_model(saved["sd15"], device="cpu")  # a local folder goes through the same loader
    assert model.name == saved["sd15"] and model.parameterization == "ve"


def test_registered_real_models_are_listed_with_a_cheap_status():
    status = {name: (ok, reason) for name, ok, reason, _ in model_status()}
    names = ["flux-dev", "flux-schnell", "sd3.5-medium", "sdxl", "sd15", "pixart-sigma", "dit-xl-2-256"]
    assert set(names) <= set(status)
    ok, reason = status["flux-dev"]
    assert not ok and "black-forest-labs/FLUX.1-dev" in reason  # nothing cached here, HF_HUB_OFFLINE=1
    with pytest.raises(Unavailable, match=r"sd15 \(stable-diffusion-v1-5/stable-diffusion-v1-5\)"):
        load_model("sd15")


@pytest.mark.parametrize("family,algorithm,options", [
    ("flux", "zero-order", {}),
    ("sd15", "paths", {"n": 2, "m": 2, "L": 2}),   # variance-exploding re-noising and scored clean estimates
    ("dit", "random", {}),
])
def test_a_real_adapter_runs_a_search_through_the_python_api(saved, family, algorithm, options):
    _, model_options, condition = FAMILIES[family]
    brightness = lambda images, condition: [sum(image.getpixel((0, 0))) for image in images]  # noqa: E731  (PIL)
    kwargs = {"cls": condition} if family == "dit" else {"prompt": condition}
    budget = 120
    result = tsearch.search(model=saved[family], verifiers=[brightness], algorithm=algorithm, budget=budget, steps=3,
                            batch_size=4, seed=1, model_options=model_options, **kwargs, **options)
    assert result.best_image is not None and len(result.history) >= 2
    assert result.summary.nfe_spent <= budget


def test_full_size_random_architectures_have_the_published_sizes():
    """Built on the meta device (no memory, no time): parameter counts of SD 1.5 and FLUX.1-dev's parts."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    with ra._creating_on(torch.device("meta"), torch.float16):
        sd15 = ra.sd15_pipeline("full")
        flux = ra.flux_pipeline("full")
    assert round(count(sd15.unet) / 1e6, 1) == 859.5            # SD 1.5 UNet
    assert round(count(sd15.text_encoder) / 1e6, 1) == 123.1    # CLIP ViT-L/14 text tower
    assert round(count(flux.transformer) / 1e9, 2) == 11.90     # FLUX.1-dev transformer
    assert round(count(flux.text_encoder_2) / 1e9, 2) == 4.76   # T5-XXL encoder
    assert flux.transformer.config.guidance_embeds and flux.vae.config.latent_channels == 16
