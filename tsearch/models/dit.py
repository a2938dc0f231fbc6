"""DiT (class-conditional ImageNet, e.g. DiT-XL/2-256) behind the Model interface, sigma view.

DiT (Peebles & Xie 2023) is a discrete variance-preserving epsilon model with a learned variance;
`VPAsVE` gives the variance-exploding view. It is the class-conditional stand-in for the paper's
SiT-XL on ImageNet (PAPER.md: Heun, 50 NFEs per candidate), so the default solver is Heun. Guidance
pairs the class with the null class (index = number of classes) in one batch, conditional first
and applied to the epsilon channels only, as diffusers' DiTPipeline does (nfe_per_eval = 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tsearch.models.pipeline import PipelineModel, PipelineOptions
from tsearch.schedule import VarianceExploding
from tsearch.models.vp import VPAsVE


@dataclass
class DiTOptions(PipelineOptions):
    guidance: float = 1.5             # DiT's FID-optimal scale (Peebles & Xie 2023, Table 4); 1 = off, one pass


class DiT(PipelineModel):
    pipeline_name = "DiTPipeline"
    options_class = DiTOptions
    gpu_dtype = torch.bfloat16
    conditioning = "class"
    default_steps = 25
    default_solver = "heun"

    def __init__(self, pipe, name: str, device, options: DiTOptions):
        super().__init__(pipe, name, device, options)
        config = pipe.transformer.config
        self.channels = config.in_channels
        self.noise_shape = (config.in_channels, config.sample_size, config.sample_size)
        self.num_classes = int(config.num_embeds_ada_norm)  # the label table has one more row: the null class
        synonyms: dict[int, list[str]] = {}  # from model_index.json's id2label, as the pipeline parsed it
        for label, index in pipe.labels.items():
            synonyms.setdefault(int(index), []).append(label)
        self.classes = [", ".join(sorted(synonyms.get(i, [str(i)]), key=str.lower)) for i in range(self.num_classes)]
        self.vp = VPAsVE(pipe.scheduler.alphas_cumprod, pipe.scheduler.config.prediction_type)
        self.schedule = VarianceExploding(self.vp.sigma_min, self.vp.sigma_max)
        self.guided = options.guidance > 1.0
        self.nfe_per_eval = 2 if self.guided else 1

    def encode(self, condition: int) -> torch.Tensor:
        if isinstance(condition, bool) or not isinstance(condition, int) or not 0 <= condition < self.num_classes:
            raise ValueError(f"{self.name} is class-conditional: give a class index in 0..{self.num_classes - 1}, "
                             f"got {condition!r}")
        return torch.tensor([condition], device=self.device)

    def clean_estimate(self, x: torch.Tensor, cond: torch.Tensor, sigma: float) -> torch.Tensor:
        b = x.shape[0]
        latents = self.vp.scale_input(x, sigma).to(self.dtype)
        labels = cond.expand(b)
        if self.guided:  # [class, null] as one batch, the pipeline's order
            latents = torch.cat([latents, latents])
            labels = torch.cat([labels, torch.full_like(labels, self.num_classes)])
        timestep = torch.full((latents.shape[0],), self.vp.timestep(sigma), device=self.device)
        out = self.pipe.transformer(latents, timestep=timestep, class_labels=labels).sample.float()
        eps = out[:, :self.channels]  # the rest is the learned variance, unused by an ODE sampler
        if self.guided:
            conditional, uncond = eps.chunk(2)
            eps = uncond + self.options.guidance * (conditional - uncond)
        return self.vp.clean_estimate(eps, x, sigma)
