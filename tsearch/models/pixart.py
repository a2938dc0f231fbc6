"""PixArt-Sigma behind the Model interface, converted to the sigma view.

PixArt-Sigma (Chen et al. 2024) is a DiT over SDXL-VAE latents with a T5 text encoder, trained as a
discrete variance-preserving epsilon model with a learned variance (the second half of its output
channels, unused by an ODE sampler). `VPAsVE` gives the variance-exploding view; guidance runs the
negative and the positive prompt as one batch (nfe_per_eval = 2). The paper's settings for PixArt:
guidance 4.5, 30 NFEs per candidate (PAPER.md). Unlike the pipeline we do not snap the size to its
aspect-ratio bins: the requested size is used as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tsearch.models.pipeline import PipelineModel, PipelineOptions, check_prompt, check_size
from tsearch.schedule import VarianceExploding
from tsearch.models.vp import VPAsVE


@dataclass
class PixArtOptions(PipelineOptions):
    height: int | None = None         # pixels; None: the transformer's native size (1024 for XL-2-1024-MS)
    width: int | None = None
    guidance: float = 4.5             # the paper's setting; 1 turns guidance off (one pass)
    negative_prompt: str = ""         # the unconditional side of guidance
    max_sequence_length: int = 300    # T5 tokens per prompt (PixArt-Sigma was trained with 300)


@dataclass(frozen=True)
class PixArtCond:
    """T5 token states [1, L, D] and attention masks [1, L] of the prompt and the negative."""
    prompt: str
    states: torch.Tensor
    mask: torch.Tensor
    null_states: torch.Tensor | None
    null_mask: torch.Tensor | None


class PixArtSigma(PipelineModel):
    pipeline_name = "PixArtSigmaPipeline"
    options_class = PixArtOptions
    gpu_dtype = torch.bfloat16
    conditioning = "text"
    default_steps = 30

    def __init__(self, pipe, name: str, device, options: PixArtOptions):
        super().__init__(pipe, name, device, options)
        config, factor = pipe.transformer.config, pipe.vae_scale_factor
        native = config.sample_size * factor
        self.height, self.width = options.height or native, options.width or native
        check_size(self.height, self.width, factor * config.patch_size, "PixArt-Sigma")
        self.noise_shape = (config.in_channels, self.height // factor, self.width // factor)
        self.learned_sigma = config.out_channels == 2 * config.in_channels
        self.vp = VPAsVE(pipe.scheduler.alphas_cumprod, pipe.scheduler.config.prediction_type)
        self.schedule = VarianceExploding(self.vp.sigma_min, self.vp.sigma_max)
        self.guided = options.guidance > 1.0
        self.nfe_per_eval = 2 if self.guided else 1

    @torch.no_grad()
    def encode(self, condition: str) -> PixArtCond:
        prompt = check_prompt(condition)
        states, mask, null_states, null_mask = self.pipe.encode_prompt(
            prompt, do_classifier_free_guidance=self.guided, negative_prompt=self.options.negative_prompt,
            num_images_per_prompt=1, device=self.device, clean_caption=False,
            max_sequence_length=self.options.max_sequence_length)
        cast = (lambda t: None if t is None else t.to(self.dtype))
        return PixArtCond(prompt, cast(states), mask, cast(null_states), null_mask)

    def clean_estimate(self, x: torch.Tensor, cond: PixArtCond, sigma: float) -> torch.Tensor:
        b = x.shape[0]
        latents = self.vp.scale_input(x, sigma).to(self.dtype)
        states, mask = cond.states.expand(b, -1, -1), cond.mask.expand(b, -1)
        if self.guided:  # [negative, positive] as one batch, the pipeline's order
            latents = torch.cat([latents, latents])
            states = torch.cat([cond.null_states.expand(b, -1, -1), states])
            mask = torch.cat([cond.null_mask.expand(b, -1), mask])
        timestep = torch.full((latents.shape[0],), self.vp.timestep(sigma), device=self.device)
        out = self.pipe.transformer(latents, encoder_hidden_states=states, encoder_attention_mask=mask,
                                    timestep=timestep, added_cond_kwargs={"resolution": None, "aspect_ratio": None},
                                    return_dict=False)[0].float()
        if self.guided:
            uncond, text = out.chunk(2)
            out = uncond + self.options.guidance * (text - uncond)
        if self.learned_sigma:
            out = out.chunk(2, dim=1)[0]
        return self.vp.clean_estimate(out, x, sigma)
