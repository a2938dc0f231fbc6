"""Real architectures with random weights, built in code: benchmarks and tests without downloads.

`build_random("sd15-random" | "flux-random", device, dtype)` assembles the diffusers pipeline of
SD 1.5 or FLUX.1-dev at its published sizes (configs below, from the models' config.json files)
with randomly initialised weights, and wraps it in the same adapter as the real model. The images
are noise, but every layer, shape and FLOP is the real one, so timings and memory are. `size="tiny"`
builds the same classes at toy sizes for CPU tests. The tokenizers are tiny character vocabularies
made here (the token ids fit the real vocabularies, the sequence lengths are the real ones).
"""

from __future__ import annotations

import contextlib
import string
from dataclasses import dataclass

import torch

from tsearch.models.base import Model
from tsearch.models.batching import choose_dtype

LETTERS = string.ascii_lowercase + string.digits


def clip_tokenizer(max_length: int = 77):
    """A CLIP BPE tokenizer over single characters (no merges): ids 0 = start, 1 = end/pad."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for piece in [*LETTERS, *(c + "</w>" for c in LETTERS)]:
        vocab[piece] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def t5_tokenizer(max_length: int = 512):
    """A T5 unigram tokenizer over single characters: ids 0 = pad, 1 = end, 2 = unknown."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)] + [(c, -2.0) for c in LETTERS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


@dataclass(frozen=True)
class ClipTextSize:
    hidden: int = 768           # CLIP ViT-L/14 text tower (SD 1.5, FLUX's pooled prompt)
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    vocab: int = 49408


@dataclass(frozen=True)
class VaeSize:
    channels: tuple[int, ...] = (128, 256, 512, 512)  # 8x downsampling
    layers: int = 2
    groups: int = 32


def clip_text(size: ClipTextSize, with_projection: bool = False, projection: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(vocab_size=size.vocab, hidden_size=size.hidden, intermediate_size=size.intermediate,
                            num_hidden_layers=size.layers, num_attention_heads=size.heads, max_position_embeddings=77,
                            hidden_act="quick_gelu", projection_dim=projection or size.hidden,
                            bos_token_id=0, eos_token_id=1, pad_token_id=1)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def t5_encoder(d_model: int, d_ff: int, layers: int, heads: int, d_kv: int, vocab: int = 32128):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(vocab_size=vocab, d_model=d_model, d_ff=d_ff, d_kv=d_kv, num_layers=layers, num_heads=heads,
                      feed_forward_proj="gated-gelu", relative_attention_num_buckets=32 if d_model > 64 else 8,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config)


def vae(size: VaeSize, latent_channels: int, **scaling):
    from diffusers import AutoencoderKL

    n = len(size.channels)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=size.channels,
                         layers_per_block=size.layers, norm_num_groups=size.groups, latent_channels=latent_channels,
                         **scaling)


def sd15_pipeline(size: str = "full"):
    """StableDiffusionPipeline at SD 1.5's sizes (860M UNet, CLIP ViT-L/14 text) or tiny ones."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    full = size == "full"
    text = ClipTextSize() if full else ClipTextSize(hidden=32, layers=2, heads=4, intermediate=37, vocab=100)
    unet = UNet2DConditionModel(
        sample_size=64 if full else 8, in_channels=4, out_channels=4, layers_per_block=2 if full else 1,
        block_out_channels=(320, 640, 1280, 1280) if full else (16, 32),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",) if full else ("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3 if full else ("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=text.hidden, attention_head_dim=8 if full else 4, norm_num_groups=32 if full else 8)
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
    return StableDiffusionPipeline(
        vae=vae(VaeSize() if full else VaeSize((8, 16), 1, 8), 4, scaling_factor=0.18215),
        text_encoder=clip_text(text), tokenizer=clip_tokenizer(), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def flux_pipeline(size: str = "full", guidance_embeds: bool = True):
    """FluxPipeline at FLUX.1-dev's sizes (12B transformer, T5-XXL, CLIP-L) or tiny ones."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    full = size == "full"
    text = ClipTextSize() if full else ClipTextSize(hidden=32, layers=2, heads=4, intermediate=37, vocab=100)
    t5 = t5_encoder(4096, 10240, 24, 64, 64) if full else t5_encoder(32, 37, 2, 4, 8, vocab=100)
    latent_channels = 16 if full else 4
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4 * latent_channels, num_layers=19 if full else 1,
        num_single_layers=38 if full else 1, attention_head_dim=128 if full else 16,
        num_attention_heads=24 if full else 2, joint_attention_dim=t5.config.d_model,
        pooled_projection_dim=text.hidden, guidance_embeds=guidance_embeds,
        axes_dims_rope=(16, 56, 56) if full else (4, 4, 8))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    autoencoder = vae(VaeSize() if full else VaeSize((8, 16), 1, 8), latent_channels, scaling_factor=0.3611,
                      shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False)
    return FluxPipeline(scheduler=scheduler, vae=autoencoder, text_encoder=clip_text(text), tokenizer=clip_tokenizer(),
                        text_encoder_2=t5, tokenizer_2=t5_tokenizer(), transformer=transformer)


BUILDERS = {"sd15-random": sd15_pipeline, "flux-random": flux_pipeline}


@contextlib.contextmanager
def _creating_on(device: torch.device, dtype: torch.dtype):
    """Create parameters directly on `device` in `dtype`: a 12B model never passes through CPU float32."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            yield
    finally:
        torch.set_default_dtype(previous)


def random_pipeline(name: str, device: str | torch.device = "cpu", dtype=None, size: str = "full", seed: int = 0):
    """The diffusers pipeline behind `build_random`, on `device` in `dtype` (half precision on CUDA)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown random architecture {name!r}; choose one of {sorted(BUILDERS)}")
    if size not in ("full", "tiny"):
        raise ValueError(f"size must be 'full' or 'tiny', got {size!r}")
    device = torch.device(device)
    dtype = choose_dtype(device, dtype, torch.float16 if name == "sd15-random" else torch.bfloat16)
    torch.manual_seed(seed)
    with _creating_on(device, dtype):
        pipe = BUILDERS[name](size)
    return pipe.to(device, dtype)


def build_random(name: str, device: str | torch.device = "cpu", dtype=None, size: str = "full", seed: int = 0,
                 **options) -> Model:
    """A Model over a randomly initialised SD 1.5 or FLUX.1-dev (see the module docstring)."""
    from tsearch.models.flux import Flux
    from tsearch.models.pipeline import parse_options
    from tsearch.models.unet import StableDiffusion

    adapter = StableDiffusion if name == "sd15-random" else Flux
    if size == "tiny" and adapter is Flux:
        options = {"height": 16, "width": 16, "max_sequence_length": 32, **options}
    parsed = parse_options(adapter.options_class, options, name)
    pipe = random_pipeline(name, device, dtype, size, seed)
    return adapter(pipe, name, device, parsed)
