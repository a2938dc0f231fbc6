"""What every adapter over a diffusers pipeline shares: options, batching, VAE decoding, prompts.

An adapter keeps the loaded pipeline and calls its own text encoders once per search (`encode`)
and its denoiser once per evaluation (`forward_x0`, both classifier-free-guidance passes in one
batched call). Denoiser calls and VAE decodes go through `Batcher`s, which split large batches and
halve them on CUDA out-of-memory. Loading (hub ids, local folders, errors) lives in `models.hub`.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, fields

import torch

from tsearch.models import accelerate
from tsearch.models.base import Model
from tsearch.models.batching import Batcher


@dataclass
class PipelineOptions:
    max_batch: int = 8      # most samples per denoiser call (guidance doubles the rows); halved on out-of-memory
    decode_batch: int = 4   # most latents per VAE decode; halved on out-of-memory
    channels_last: bool = False   # NHWC convolutions (UNet, VAE): faster on CUDA tensor cores (models/accelerate.py)
    compile: bool | str = False   # torch.compile the denoiser in place (True: inductor; or a backend name)

    @property
    def guidance_scale(self):
        """The diffusers pipelines' name for `guidance` (tsearch uses one name for every family)."""
        return self.guidance


def parse_options(options_class, options: dict, family: str):
    """Options dict -> the family's dataclass; a ValueError that lists the accepted names otherwise.

    `guidance_scale` (the diffusers keyword) is read as `guidance`."""
    from tsearch.models.table import normalise_options, option_error

    options = normalise_options(options)
    accepted = {f.name for f in fields(options_class)}
    unknown = sorted(set(options) - accepted)
    for name in unknown:
        error = option_error(name, f"{family} (a diffusers pipeline)", accepted)
        if error is not None:
            raise error
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {family}; accepted: {sorted(accepted)}")
    return options_class(**options)


def check_prompt(condition) -> str:
    if not isinstance(condition, str) or not condition.strip():
        raise ValueError(f"this model is text-to-image: give a non-empty prompt string, got {condition!r}")
    return condition


def check_size(height: int, width: int, multiple: int, family: str) -> None:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (height, width)):
        raise ValueError(f"height and width are whole numbers of pixels, got {height!r} x {width!r}")
    if height <= 0 or width <= 0 or height % multiple or width % multiple:
        raise ValueError(f"{family} needs height and width that are positive multiples of {multiple}, "
                         f"got {height}x{width}")


def _check_common(options) -> None:
    """The options every family names the same way: a ValueError naming the one that is wrong."""
    import math

    guidance = getattr(options, "guidance", None)
    if guidance is not None and (isinstance(guidance, bool) or not isinstance(guidance, (int, float))
                                 or not math.isfinite(guidance) or guidance < 0):
        raise ValueError(f"guidance must be a scale >= 0 (1 = no classifier-free guidance), got {guidance!r}")
    length = getattr(options, "max_sequence_length", None)
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        raise ValueError(f"max_sequence_length must be a whole number of tokens >= 1, got {length!r}")
    negative = getattr(options, "negative_prompt", None)
    if negative is not None and not isinstance(negative, str):
        raise ValueError(f"negative_prompt must be a string, got {negative!r}")


class PipelineModel(Model):
    """Base of the diffusers adapters: holds the pipeline, its dtype and the two batchers."""

    pipeline_name: str = ""                     # the diffusers pipeline class this adapter drives
    options_class = PipelineOptions
    gpu_dtype: torch.dtype = torch.bfloat16     # default weights dtype on CUDA (float32 on the CPU)

    def __init__(self, pipe, name: str, device: str | torch.device, options: PipelineOptions):
        super().__init__()
        _check_common(options)
        self.pipe = pipe
        self.name = name
        self.options = options
        self.device = torch.device(device)
        pipe.set_progress_bar_config(disable=True)
        self.encode_lock = threading.Lock()   # fast tokenizers refuse concurrent calls ("Already borrowed")
        self.dtype = self.denoiser_module.dtype
        vae = pipe.vae
        if vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False):
            vae.to(torch.float32)  # SDXL's VAE overflows in float16 (its config says so)
        accelerate.apply(self.denoiser_module, vae, options.channels_last, options.compile)
        self.denoiser = Batcher(options.max_batch, f"{name}'s denoiser")
        self.decoder = Batcher(options.decode_batch, f"{name}'s VAE decoder")

    def with_options(self, **options) -> "PipelineModel":
        """The same pipeline (no reload, no copy) behind a new adapter with some options changed."""
        merged = {**dataclasses.asdict(self.options), **options}
        return type(self)(self.pipe, self.name, self.device, parse_options(self.options_class, merged,
                                                                           self.pipeline_name))

    @property
    def denoiser_module(self) -> torch.nn.Module:
        return self.pipe.transformer

    @torch.no_grad()
    def forward_x0(self, x: torch.Tensor, cond, sigma: float) -> torch.Tensor:
        return self.denoiser(lambda chunk: self.clean_estimate(chunk, cond, sigma), x)

    def clean_estimate(self, x: torch.Tensor, cond, sigma: float) -> torch.Tensor:
        """One batched network call (both guidance passes) -> float32 x0 of the same shape as x."""
        raise NotImplementedError

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self._decode_chunk, x)

    def _decode_chunk(self, x: torch.Tensor) -> torch.Tensor:
        vae, config = self.pipe.vae, self.pipe.vae.config
        z = x.to(vae.device, vae.dtype)
        mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
        if mean is not None and std is not None:  # SDXL-style per-channel latent statistics
            mean = torch.tensor(mean, device=z.device, dtype=z.dtype).view(1, -1, 1, 1)
            std = torch.tensor(std, device=z.device, dtype=z.dtype).view(1, -1, 1, 1)
            z = z * std / config.scaling_factor + mean
        else:
            z = z / config.scaling_factor + (getattr(config, "shift_factor", None) or 0.0)
        image = vae.decode(z, return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)
