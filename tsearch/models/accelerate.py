"""Opt-in speed options for the diffusers adapters: channels_last memory and torch.compile.

- `channels_last=True` stores the convolutional modules (the UNet, the VAE) as NHWC, which cuDNN's
  tensor-core kernels prefer; transformers (FLUX, SD3, PixArt) have no 4-D weights and are unaffected.
- `compile=True` compiles the denoiser in place (`nn.Module.compile`, inductor, `dynamic=False`:
  one graph per batch shape, so a search that keeps its batch size compiles once or twice: the
  calibration's sizes and a last, smaller batch add shapes); a string names another torch.compile
  backend (e.g. "aot_eager", which the CPU tests use to exercise the path without a C++ build).
Both change the pipeline's modules in place (no copy), as asked; results agree with the plain path
to float tolerance, not bit for bit, so a run records them in its model_options.
"""

from __future__ import annotations

import torch


def check(channels_last, compile) -> None:
    if not isinstance(channels_last, bool):
        raise ValueError(f"channels_last is true or false, got {channels_last!r}")
    if not (isinstance(compile, bool) or (isinstance(compile, str) and compile.strip())):
        raise ValueError(f"compile is true, false or a torch.compile backend name (e.g. 'inductor'), got {compile!r}")


def has_convolutions(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in module.modules())


def apply(denoiser: torch.nn.Module, vae: torch.nn.Module | None, channels_last: bool, compile) -> None:
    """Apply the options to the pipeline's own modules."""
    check(channels_last, compile)
    if channels_last:
        for module in (denoiser, vae):
            if module is not None and has_convolutions(module):
                module.to(memory_format=torch.channels_last)
    if compile and getattr(denoiser, "_compiled_call_impl", None) is None:   # once per module: adapters over
        # the same pipeline (with_options) share its compiled graphs
        backend = "inductor" if compile is True else compile.strip()
        denoiser.compile(backend=backend, dynamic=False)
