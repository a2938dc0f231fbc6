"""FLUX.1 (dev, schnell) behind the Model interface, in its native rectified-flow sigma view.

FLUX is a flow-matching transformer: x_s = (1 - s) x0 + s e and the network predicts the velocity
v = e - x0, so x0 = x - s v. Its latents are 2x2-packed into tokens ([b, h/2 * w/2, 4C]); tsearch
keeps the unpacked [C, h, w] state (neighbours and re-noising do not care) and packs per call.
FLUX.1-dev is guidance-distilled: the guidance scale is an input embedding, so one pass per
sample (nfe_per_eval = 1); schnell has no guidance input. The schedule is the pipeline's: linear
in t, shifted with mu from the image's token count (`flow_shift`), as in diffusers' FluxPipeline.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from tsearch.schedule import RectifiedFlow
from tsearch.models.pipeline import PipelineModel, PipelineOptions, check_prompt, check_size


@dataclass
class FluxOptions(PipelineOptions):
    height: int = 1024                # image height in pixels (multiple of 16)
    width: int = 1024                 # image width in pixels (multiple of 16)
    guidance: float | None = None     # FLUX.1-dev's embedded guidance; None: 3.5 (the paper's). schnell takes none
    max_sequence_length: int = 512    # T5 tokens per prompt (schnell was trained with 256)


@dataclass(frozen=True)
class FluxCond:
    """A prompt's T5 token states [1, L, D], CLIP pooled vector [1, P] and text position ids [L, 3]."""
    prompt: str
    states: torch.Tensor
    pooled: torch.Tensor
    text_ids: torch.Tensor


def flow_shift(scheduler_config, image_seq_len: int) -> float:
    """The timestep shift of a FlowMatchEulerDiscreteScheduler as one number (SD3 paper, eq. 23).

    With dynamic shifting, diffusers maps t to exp(mu) / (exp(mu) + 1/t - 1) with mu linear in the
    token count; that is the static shift s t / (1 + (s - 1) t) with s = exp(mu) ("linear": s = mu).
    """
    for flag in ("shift_terminal", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas"):
        if scheduler_config.get(flag):
            raise ValueError(f"the pipeline's scheduler sets {flag}; tsearch supports the plain shifted flow schedule")
    if not scheduler_config.get("use_dynamic_shifting"):
        return float(scheduler_config.get("shift", 1.0))
    base_len, max_len = scheduler_config.get("base_image_seq_len", 256), scheduler_config.get("max_image_seq_len", 4096)
    base_shift, max_shift = scheduler_config.get("base_shift", 0.5), scheduler_config.get("max_shift", 1.15)
    mu = base_shift + (max_shift - base_shift) * (image_seq_len - base_len) / (max_len - base_len)
    return math.exp(mu) if scheduler_config.get("time_shift_type", "exponential") == "exponential" else mu


def pack(x: torch.Tensor) -> torch.Tensor:
    """[b, C, h, w] -> [b, h/2 * w/2, 4C]: each 2x2 patch of latents becomes one token."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The inverse of `pack`."""
    b, _, d = tokens.shape
    return tokens.view(b, h // 2, w // 2, d // 4, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, d // 4, h, w)


def image_ids(h: int, w: int) -> torch.Tensor:
    """Rotary position ids (0, row, column) of the packed tokens, [h/2 * w/2, 3]."""
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 1] = torch.arange(h // 2)[:, None]
    ids[..., 2] = torch.arange(w // 2)[None, :]
    return ids.reshape(-1, 3)


class Flux(PipelineModel):
    pipeline_name = "FluxPipeline"
    options_class = FluxOptions
    gpu_dtype = torch.bfloat16
    conditioning = "text"

    default_guidance = 3.5

    def __init__(self, pipe, name: str, device, options: FluxOptions):
        guided = bool(pipe.transformer.config.guidance_embeds)  # dev: True (distilled guidance); schnell: False
        if not guided and options.guidance is not None:
            raise ValueError(f"guidance: {name} has no guidance input (FLUX.1-schnell is distilled without it); "
                             f"leave guidance unset")
        if guided and options.guidance is None:
            options = dataclasses.replace(options, guidance=self.default_guidance)
        super().__init__(pipe, name, device, options)
        factor = pipe.vae_scale_factor
        check_size(options.height, options.width, 2 * factor, "FLUX")
        h, w = options.height // factor, options.width // factor
        config = pipe.transformer.config
        self.noise_shape = (config.in_channels // 4, h, w)
        self.guided = guided
        self.default_steps = 30 if self.guided else 4
        self.schedule = RectifiedFlow(shift=flow_shift(pipe.scheduler.config, (h // 2) * (w // 2)))
        self.img_ids = image_ids(h, w).to(self.device, self.dtype)

    @torch.no_grad()
    def encode(self, condition: str) -> FluxCond:
        prompt = check_prompt(condition)
        states, pooled, text_ids = self.pipe.encode_prompt(
            prompt=prompt, prompt_2=None, device=self.device, num_images_per_prompt=1,
            max_sequence_length=self.options.max_sequence_length)
        return FluxCond(prompt, states.to(self.dtype), pooled.to(self.dtype), text_ids.to(self.dtype))

    def clean_estimate(self, x: torch.Tensor, cond: FluxCond, sigma: float) -> torch.Tensor:
        b, _, h, w = x.shape
        guidance = torch.full((b,), self.options.guidance, device=self.device) if self.guided else None
        velocity = self.pipe.transformer(
            hidden_states=pack(x.to(self.dtype)),
            timestep=torch.full((b,), sigma, device=self.device, dtype=self.dtype),
            guidance=guidance,
            pooled_projections=cond.pooled.expand(b, -1),
            encoder_hidden_states=cond.states.expand(b, -1, -1),
            txt_ids=cond.text_ids, img_ids=self.img_ids, return_dict=False)[0]
        return x.float() - sigma * unpack(velocity, h, w).float()
