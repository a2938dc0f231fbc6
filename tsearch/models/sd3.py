"""Stable Diffusion 3.x (3.5 Medium/Large, 3 Medium) behind the Model interface, rectified-flow view.

SD3 is a flow-matching MMDiT (Esser et al. 2024): x_s = (1 - s) x0 + s e, the network predicts
v = e - x0 at timestep 1000 s, so x0 = x - s v; the schedule is linear in t with the scheduler's
shift (3.0 for SD3.5, eq. 23 of the paper). Classifier-free guidance runs the negative and the
positive prompt as one batch of 2b rows (nfe_per_eval = 2), as the pipeline does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tsearch.models.flux import flow_shift
from tsearch.schedule import RectifiedFlow
from tsearch.models.pipeline import PipelineModel, PipelineOptions, check_prompt, check_size


@dataclass
class SD3Options(PipelineOptions):
    height: int = 1024                # image height in pixels (multiple of 16)
    width: int = 1024                 # image width in pixels (multiple of 16)
    guidance: float = 4.5             # SD3.5 Medium's recommended scale; 1 turns guidance off (one pass)
    negative_prompt: str = ""         # the unconditional side of guidance
    max_sequence_length: int = 256    # T5 tokens per prompt


@dataclass(frozen=True)
class SD3Cond:
    """Joint CLIP+T5 token states [1, L, D] and pooled CLIP vectors [1, P], for the prompt and the negative."""
    prompt: str
    states: torch.Tensor
    pooled: torch.Tensor
    null_states: torch.Tensor | None
    null_pooled: torch.Tensor | None


class SD3(PipelineModel):
    pipeline_name = "StableDiffusion3Pipeline"
    options_class = SD3Options
    gpu_dtype = torch.bfloat16
    conditioning = "text"
    default_steps = 28

    def __init__(self, pipe, name: str, device, options: SD3Options):
        super().__init__(pipe, name, device, options)
        factor, patch = pipe.vae_scale_factor, pipe.transformer.config.patch_size
        check_size(options.height, options.width, factor * patch, "SD3")
        h, w = options.height // factor, options.width // factor
        self.noise_shape = (pipe.transformer.config.in_channels, h, w)
        self.schedule = RectifiedFlow(shift=flow_shift(pipe.scheduler.config, (h // patch) * (w // patch)))
        self.guided = options.guidance > 1.0
        self.nfe_per_eval = 2 if self.guided else 1

    @torch.no_grad()
    def encode(self, condition: str) -> SD3Cond:
        prompt = check_prompt(condition)
        states, null_states, pooled, null_pooled = self.pipe.encode_prompt(
            prompt=prompt, prompt_2=None, prompt_3=None, device=self.device, num_images_per_prompt=1,
            do_classifier_free_guidance=self.guided, negative_prompt=self.options.negative_prompt,
            max_sequence_length=self.options.max_sequence_length)
        cast = (lambda t: None if t is None else t.to(self.dtype))
        return SD3Cond(prompt, cast(states), cast(pooled), cast(null_states), cast(null_pooled))

    def clean_estimate(self, x: torch.Tensor, cond: SD3Cond, sigma: float) -> torch.Tensor:
        b = x.shape[0]
        states, pooled = cond.states.expand(b, -1, -1), cond.pooled.expand(b, -1)
        latents = x.to(self.dtype)
        if self.guided:  # [negative, positive] as one batch, the pipeline's order
            states = torch.cat([cond.null_states.expand(b, -1, -1), states])
            pooled = torch.cat([cond.null_pooled.expand(b, -1), pooled])
            latents = torch.cat([latents, latents])
        out = self.pipe.transformer(
            hidden_states=latents,
            timestep=torch.full((latents.shape[0],), sigma * 1000.0, device=self.device),
            encoder_hidden_states=states, pooled_projections=pooled, return_dict=False)[0].float()
        if self.guided:
            uncond, text = out.chunk(2)
            out = uncond + self.options.guidance * (text - uncond)
        return x.float() - sigma * out
