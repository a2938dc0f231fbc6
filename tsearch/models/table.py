"""The model registry (one line per model family or bundled model) and the model options every interface offers.

A leaf of the models package: adapters (tsearch.models.pipeline) read the options' names and messages here
without importing the package's loaders, so no import runs in a circle.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from tsearch.options import Setting, check
from tsearch.registry import Entry, resolve

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
    "shapes-teacher": Entry("tsearch.models.shapes:build_teacher", "the bundled shapes generator with two-pass classifier-free guidance (the distilled model's teacher)", kind="bundled"),
    "shapes-distilled": Entry("tsearch.models.shapes:build_distilled", "the bundled shapes generator, guidance distilled into one pass per step (guidance is an input)", kind="bundled"),
    "shapes-small": Entry("tsearch.models.shapes:build_small", "a smaller bundled shapes generator: a quarter of the teacher's FLOPs per NFE, two-pass guidance", kind="bundled"),
}


# The model options every interface offers under one name (CLI --height, API model_options, the app's model
# options); each family takes those it has a use for. Blank (None): the model's own default.
MODEL_OPTIONS: dict[str, Setting] = {s.name: s for s in (
    Setting("height", int, None, "image height in pixels (diffusers models)", label="height (pixels)", group="model",
            minimum=8, maximum=8192, optional=True),
    Setting("width", int, None, "image width in pixels (diffusers models)", label="width (pixels)", group="model",
            minimum=8, maximum=8192, optional=True),
    Setting("guidance", float, None, "classifier-free guidance scale; 1 = off (one pass per step)",
            label="guidance scale", group="model", minimum=0.0, maximum=30.0, optional=True, noun="a scale"),
    Setting("negative_prompt", str, None, "the unconditional side of guidance (SD 1.5, SDXL, SD3.5, PixArt)",
            label="negative prompt", group="model", maximum=4000, optional=True),
    Setting("max_sequence_length", int, None, "T5 tokens per prompt (FLUX, SD3.5, PixArt)",
            label="max sequence length", group="model", minimum=1, maximum=512, optional=True),
)}
ALIASES = {"guidance_scale": "guidance"}   # the diffusers keyword, read as tsearch's name (and in old run.json)


def normalise_options(options) -> dict:
    """Model options with aliases under their one name; ValueError when both spellings are given."""
    options = dict(options)
    for alias, name in ALIASES.items():
        if alias in options:
            if name in options:
                raise ValueError(f"model_options: give {name} or {alias}, not both ({alias} is the old name)")
            options[name] = options.pop(alias)
    return options


def checked_model_options(options) -> dict:
    """Model options under their one name, each of MODEL_OPTIONS checked (kind, finite, range); ValueError naming it.

    Options of a model's own beyond MODEL_OPTIONS are its loader's to check."""
    if not isinstance(options, Mapping):
        raise ValueError(f"model_options: a dict of the model's options, got {options!r}")
    options = normalise_options(options)
    return {name: check(MODEL_OPTIONS[name], value) if name in MODEL_OPTIONS else value
            for name, value in options.items()}


def accepted_options(name: str) -> tuple[str, ...] | None:
    """Every option a registered model's loader takes (None when that cannot be told here without loading)."""
    from tsearch.registry import Unavailable

    try:
        factory = resolve(MODELS[name])
    except Unavailable:
        return None
    listed = getattr(factory, "options", None)
    if listed is not None:
        return tuple(listed)
    parameters = inspect.signature(factory).parameters
    return tuple(p for p, spec in parameters.items() if p != "device"
                 and spec.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL))


def supported_options(name: str) -> tuple[str, ...] | None:
    """Which of MODEL_OPTIONS a registered model takes (None: not known without loading it)."""
    accepted = accepted_options(name)
    return None if accepted is None else tuple(o for o in MODEL_OPTIONS if o in accepted)


def option_error(option: str, what: str, accepted, flag: str | None = None) -> ValueError | None:
    """The ValueError for a model option `what` does not take, naming the models that do (None: not one of ours)."""
    if option not in MODEL_OPTIONS:
        return None
    takers = [n for n in MODELS if option in (supported_options(n) or ())]
    takes = [o for o in MODEL_OPTIONS if o in accepted]
    reason = "takes none of the model options" if not takes else f"takes only {', '.join(takes)}"
    if option in ("height", "width") and "height" not in takes:
        reason = "has a fixed image size" + ("" if not takes else f" (it {reason})")
    return ValueError(f"{flag or option} applies to {', '.join(takers)} (and to diffusers folders and loaded "
                      f"pipelines of the same kinds); {what} {reason}")
