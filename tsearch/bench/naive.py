"""The loop peers run (PEERS.md): one diffusers pipeline call per candidate, prompt re-encoded each time.

tt-scale-flux and its forks call `pipe(prompt, generator=...)` once per noise, so every candidate
pays the text encoders, a batch of one through the denoiser and a PIL conversion. This is that
loop over the same random-architecture pipelines the engine benchmark uses; it returns seconds.
"""

from __future__ import annotations

import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def naive_pipeline_loop(name: str, prompt: str, n: int, steps: int, device: str = "cpu", size: str = "full",
                        model=None) -> float:
    """Seconds for `n` candidates of `steps` steps, one `pipe(prompt, ...)` call each (PIL output, as peers).

    `name` is "sd15-random" or "flux-random" (tsearch.models.random_arch); pass an already built
    `model` of that name to reuse its pipeline instead of building another (a 12B FLUX twice would
    not fit beside itself). Guidance and image size are the model's, so both loops do the same work.
    """
    if n < 1 or steps < 1:
        raise ValueError(f"n and steps must be at least 1, got n={n}, steps={steps}")
    if model is None:
        from tsearch.models.random_arch import build_random

        model = build_random(name, device, size=size)
    pipe, device = model.pipe, torch.device(device)
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    kwargs = {"height": model.noise_shape[1] * factor, "width": model.noise_shape[2] * factor,
              "num_inference_steps": steps, "output_type": "pil"}
    if name == "flux-random":
        kwargs.update(guidance_scale=model.options.guidance_scale, max_sequence_length=model.options.max_sequence_length)
    else:
        kwargs.update(guidance_scale=model.guidance)
    _sync(device)
    start = time.perf_counter()
    for seed in range(n):
        pipe(prompt, generator=torch.Generator().manual_seed(seed), **kwargs)
    _sync(device)
    return time.perf_counter() - start
