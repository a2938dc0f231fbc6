"""Stable Diffusion 1.x/2.x and SDXL behind the Model interface, converted to the sigma view.

Both are discrete variance-preserving UNets predicting epsilon (or v); `VPAsVE` turns them into
the variance-exploding form x0 + sigma e (Karras et al. 2022), so tsearch's solvers, zero-order
neighbours and re-noising apply unchanged. The schedule is the base class's Karras rho = 7
schedule between the training table's sigma_min and sigma_max. Classifier-free guidance runs the
negative and the positive prompt as one batch (nfe_per_eval = 2), as the pipelines do. SDXL adds
its pooled text embedding and size/crop micro-conditioning (Podell et al. 2023, sec. 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tsearch.models.pipeline import PipelineModel, PipelineOptions, check_prompt, check_size
from tsearch.schedule import VarianceExploding
from tsearch.models.vp import VPAsVE


@dataclass
class UNetOptions(PipelineOptions):
    height: int | None = None         # pixels; None: the UNet's native size (512 for SD 1.5, 1024 for SDXL)
    width: int | None = None
    guidance: float | None = None     # None: the pipeline's default (7.5 SD 1.5, 5.0 SDXL); 1 = off (one pass)
    negative_prompt: str | None = None  # the unconditional side of guidance; None: "" (SDXL: zero embeddings)


@dataclass(frozen=True)
class UNetCond:
    """Token states [1, L, D] of the prompt and the negative; SDXL's pooled vectors and micro-conditions."""
    prompt: str
    states: torch.Tensor
    null_states: torch.Tensor | None
    added: dict | None = None         # SDXL: {"text_embeds": [1, P], "time_ids": [1, 6]}
    null_added: dict | None = None


class StableDiffusion(PipelineModel):
    pipeline_name = "StableDiffusionPipeline"
    options_class = UNetOptions
    gpu_dtype = torch.float16
    conditioning = "text"
    default_steps = 30
    default_guidance = 7.5

    def __init__(self, pipe, name: str, device, options: UNetOptions):
        super().__init__(pipe, name, device, options)
        factor, native = pipe.vae_scale_factor, pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.height, self.width = options.height or native, options.width or native
        check_size(self.height, self.width, factor, self.pipeline_name)
        self.noise_shape = (pipe.unet.config.in_channels, self.height // factor, self.width // factor)
        self.vp = VPAsVE(pipe.scheduler.alphas_cumprod, pipe.scheduler.config.prediction_type)
        self.schedule = VarianceExploding(self.vp.sigma_min, self.vp.sigma_max)
        self.guidance = self.default_guidance if options.guidance is None else options.guidance
        self.guided = self.guidance > 1.0
        self.nfe_per_eval = 2 if self.guided else 1

    @property
    def denoiser_module(self) -> torch.nn.Module:
        return self.pipe.unet

    @torch.no_grad()
    def encode(self, condition: str) -> UNetCond:
        prompt = check_prompt(condition)
        states, null_states = self.pipe.encode_prompt(
            prompt=prompt, device=self.device, num_images_per_prompt=1,
            do_classifier_free_guidance=self.guided, negative_prompt=self.options.negative_prompt)
        return UNetCond(prompt, states.to(self.dtype), None if null_states is None else null_states.to(self.dtype))

    def clean_estimate(self, x: torch.Tensor, cond: UNetCond, sigma: float) -> torch.Tensor:
        b = x.shape[0]
        latents = self.vp.scale_input(x, sigma).to(self.dtype)
        states, added = cond.states.expand(b, -1, -1), _expand(cond.added, b)
        if self.guided:  # [negative, positive] as one batch, the pipeline's order
            latents = torch.cat([latents, latents])
            states = torch.cat([cond.null_states.expand(b, -1, -1), states])
            if added is not None:
                null = _expand(cond.null_added, b)
                added = {key: torch.cat([null[key], added[key]]) for key in added}
        timestep = torch.full((latents.shape[0],), self.vp.timestep(sigma), device=self.device)
        out = self.pipe.unet(latents, timestep, encoder_hidden_states=states, added_cond_kwargs=added,
                             return_dict=False)[0].float()
        if self.guided:
            uncond, text = out.chunk(2)
            out = uncond + self.guidance * (text - uncond)
        return self.vp.clean_estimate(out, x, sigma)


class StableDiffusionXL(StableDiffusion):
    pipeline_name = "StableDiffusionXLPipeline"
    default_guidance = 5.0

    @torch.no_grad()
    def encode(self, condition: str) -> UNetCond:
        prompt = check_prompt(condition)
        states, null_states, pooled, null_pooled = self.pipe.encode_prompt(
            prompt=prompt, device=self.device, num_images_per_prompt=1,
            do_classifier_free_guidance=self.guided, negative_prompt=self.options.negative_prompt)
        # original size, crop top-left, target size: an uncropped image at the requested size
        time_ids = torch.tensor([[self.height, self.width, 0, 0, self.height, self.width]],
                                device=self.device, dtype=self.dtype)
        added = {"text_embeds": pooled.to(self.dtype), "time_ids": time_ids}
        null_added = None if null_pooled is None else {"text_embeds": null_pooled.to(self.dtype), "time_ids": time_ids}
        return UNetCond(prompt, states.to(self.dtype), None if null_states is None else null_states.to(self.dtype),
                        added, null_added)


def _expand(added: dict | None, b: int) -> dict | None:
    return None if added is None else {key: value.expand(b, -1) for key, value in added.items()}
