"""Model registry: one line per model family or bundled model (DESIGN.md, "The parts")."""

from __future__ import annotations

import inspect
import os

from tsearch.models.base import Model
from tsearch.registry import Entry, resolve, status, unknown

MODELS: dict[str, Entry] = {
    "gmm": Entry("tsearch.models.gmm:build", "analytic Gaussian mixture in a 3x8x8 space, exact denoiser (tests, teaching)", kind="analytic"),
    "shapes": Entry("tsearch.models.shapes:build", "bundled text-to-image model of 32x32 shape scenes (miniature of FLUX/GenEval)", kind="bundled"),
    "digits": Entry("tsearch.models.digits:build", "bundled class-conditional model of handwritten digits (miniature of SiT/ImageNet)", kind="bundled"),
    "flux-dev": Entry("tsearch.models.hub:flux_dev", "FLUX.1-dev, 12B rectified flow, guidance-distilled (black-forest-labs/FLUX.1-dev, gated)", requires=("diffusers", "transformers"), kind="diffusers"),
    "flux-schnell": Entry("tsearch.models.hub:flux_schnell", "FLUX.1-schnell, 12B rectified flow, 4-step distilled (black-forest-labs/FLUX.1-schnell)", requires=("diffusers", "transformers"), kind="diffusers"),
    "sd3.5-medium": Entry("tsearch.models.hub:sd35_medium", "Stable Diffusion 3.5 Medium, rectified-flow MMDiT (stabilityai/stable-diffusion-3.5-medium, gated)", requires=("diffusers", "transformers"), kind="diffusers"),
    "sdxl": Entry("tsearch.models.hub:sdxl", "Stable Diffusion XL base 1.0, epsilon UNet seen as variance-exploding (stabilityai/stable-diffusion-xl-base-1.0)", requires=("diffusers", "transformers"), kind="diffusers"),
    "sd15": Entry("tsearch.models.hub:sd15", "Stable Diffusion 1.5, epsilon UNet seen as variance-exploding (stable-diffusion-v1-5/stable-diffusion-v1-5)", requires=("diffusers", "transformers"), kind="diffusers"),
    "pixart-sigma": Entry("tsearch.models.hub:pixart_sigma", "PixArt-Sigma XL-2 1024, T5-conditioned DiT seen as variance-exploding (PixArt-alpha/PixArt-Sigma-XL-2-1024-MS)", requires=("diffusers", "transformers"), kind="diffusers"),
    "dit-xl-2-256": Entry("tsearch.models.hub:dit_xl_2_256", "DiT-XL/2, class-conditional ImageNet 256 (facebook/DiT-XL-2-256); condition = class index", requires=("diffusers", "transformers"), kind="diffusers"),
}


def load_model(name: str, device: str = "cpu", **options) -> Model:
    """Build a registered model by name. Hub ids and local folders are resolved by `models.hub`."""
    if name not in MODELS:
        if "/" in name or os.path.isdir(name):
            from tsearch.models import hub

            return hub.load_pretrained(name, device, **options)
        raise unknown("model", name, MODELS)
    factory = resolve(MODELS[name])
    if "dtype" in options and "dtype" not in inspect.signature(factory).parameters:
        dtype = options.pop("dtype")
        if dtype not in (None, "float32", "auto"):
            raise ValueError(f"model {name!r} runs in float32 only; dtype={dtype!r} applies to the diffusers models")
    try:
        return factory(device=device, **options)
    except TypeError as error:  # an option this model does not take (e.g. guidance for gmm)
        raise ValueError(f"model {name!r} does not take these options: {error}") from None


def model_status() -> list[tuple[str, bool, str, str]]:
    """(name, available, reason, description) for every registered model."""
    return [(name, *status(entry), entry.description) for name, entry in MODELS.items()]


__all__ = ["MODELS", "Model", "load_model", "model_status"]
