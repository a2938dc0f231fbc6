"""Real models by hub id, local folder or loaded pipeline object, and the registered names that point at them.

A diffusers pipeline folder names its pipeline class in model_index.json (`_class_name`); that
name, looked up in the plain dict `ADAPTERS`, picks the adapter. A pipeline object already loaded
(`from_pipeline`) is looked up by the same name, the one its `save_pretrained` would write; the
adapter wraps that very object. Weights come from a local folder or the Hugging Face hub (honouring HF_HUB_OFFLINE);
when they cannot be reached the error names the model and says how to provide it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re

import torch

from tsearch.models.base import Model
from tsearch.models.batching import choose_dtype
from tsearch.models.pipeline import parse_options
from tsearch.registry import Unavailable

# pipeline class in model_index.json -> "module:adapter class"
ADAPTERS: dict[str, str] = {
    "FluxPipeline": "tsearch.models.flux:Flux",
    "StableDiffusion3Pipeline": "tsearch.models.sd3:SD3",
    "StableDiffusionPipeline": "tsearch.models.unet:StableDiffusion",
    "StableDiffusionXLPipeline": "tsearch.models.unet:StableDiffusionXL",
    "PixArtSigmaPipeline": "tsearch.models.pixart:PixArtSigma",
    "DiTPipeline": "tsearch.models.dit:DiT",
}


def how_to_provide(repo_id: str) -> str:
    return (f"log in with `huggingface-cli login` (or set HF_TOKEN), accept the licence on "
            f"https://huggingface.co/{repo_id} if the model is gated, and run where the hub is reachable "
            f"(unset HF_HUB_OFFLINE); or download it elsewhere (`huggingface-cli download {repo_id} "
            f"--local-dir DIR`) and point --model at that local folder")


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")   # the hub's "org/name" form


def check_name(name_or_path: str) -> None:
    """ValueError unless `name_or_path` is a local folder or has the form of a hub id (org/name, no '..')."""
    if os.path.isdir(name_or_path):
        return
    if not HUB_ID.fullmatch(name_or_path) or ".." in name_or_path:
        raise ValueError(f"model {name_or_path!r} is not a registered model (see `python -m tsearch models`), a hub "
                         f"id of the form org/name, or an existing diffusers folder; check the name or the path")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def read_model_index(name_or_path: str, name: str | None = None) -> dict:
    """model_index.json of a local diffusers folder or a hub repository (cached copy when offline)."""
    if os.path.isdir(name_or_path):
        path = os.path.join(name_or_path, "model_index.json")
        if not os.path.isfile(path):
            raise ValueError(f"{name_or_path!r} is a folder without model_index.json: not a diffusers pipeline "
                             f"(save one with pipeline.save_pretrained(folder))")
    else:
        check_name(name_or_path)
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            path = hf_hub_download(name_or_path, "model_index.json")
        except (OSError, EntryNotFoundError, ValueError) as error:
            what = f"{name} ({name_or_path})" if name and name != name_or_path else repr(name_or_path)
            raise Unavailable(f"cannot reach model {what} ({type(error).__name__}: {_first_line(error)}); "
                              f"to use it, {how_to_provide(name_or_path)}") from error
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def adapter_class(pipeline_name: str):
    if pipeline_name not in ADAPTERS:
        raise ValueError(f"pipeline class {pipeline_name!r} is not supported; tsearch drives: {', '.join(sorted(ADAPTERS))}")
    module_name, _, attribute = ADAPTERS[pipeline_name].partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_pretrained(name_or_path: str, device: str | torch.device = "cpu", dtype: str | torch.dtype | None = None,
                    variant: str | None = None, name: str | None = None, **options) -> Model:
    """A hub id or local diffusers folder -> the adapter its model_index.json's pipeline class names.

    dtype: None = float32 on the CPU and the family's half precision on CUDA; variant: a weights
    variant on the hub such as "fp16"; options: the adapter's options (size, guidance, batch sizes).
    """
    import diffusers

    index = read_model_index(name_or_path, name)
    adapter = adapter_class(index.get("_class_name", "<missing _class_name>"))
    parsed = parse_options(adapter.options_class, options, adapter.pipeline_name)
    device = torch.device(device)
    dtype = choose_dtype(device, dtype, adapter.gpu_dtype)
    pipeline_class = getattr(diffusers, adapter.pipeline_name)
    try:
        pipe = pipeline_class.from_pretrained(name_or_path, variant=variant, **{_dtype_keyword(): dtype})
    except (OSError, ValueError) as error:
        if os.path.isdir(name_or_path) and not isinstance(error, OSError):
            raise
        raise Unavailable(f"cannot load the weights of {name or name_or_path!r} ({type(error).__name__}: "
                          f"{_first_line(error)}); to use it, {how_to_provide(name_or_path)}") from error
    return adapter(pipe.to(device), name or name_or_path, device, parsed)


def is_pipeline(obj) -> bool:
    """Whether `obj` is a loaded diffusers pipeline (diffusers is imported already if it is one)."""
    import sys

    diffusers = sys.modules.get("diffusers")
    return diffusers is not None and isinstance(obj, diffusers.DiffusionPipeline)


def pipeline_class_name(pipe) -> str:
    """The pipeline class a diffusers pipeline records for itself (model_index.json's `_class_name`)."""
    return pipe.config.get("_class_name") or type(pipe).__name__


def pipeline_label(pipe) -> str:
    """A name for a loaded pipeline in run.json and listings: the folder or hub id it came from, else its class."""
    return getattr(pipe, "name_or_path", None) or pipeline_class_name(pipe)


def from_pipeline(pipe, name: str | None = None, dtype: str | torch.dtype | None = None, **options) -> Model:
    """A loaded diffusers pipeline -> the adapter its class names, over that very object (no reload, no copy).

    The pipeline stays on its device and in its dtype (move it first with `pipe.to(...)`); options are
    the adapter's, as for `load_pretrained`."""
    adapter = adapter_class(pipeline_class_name(pipe))
    parsed = parse_options(adapter.options_class, options, adapter.pipeline_name)
    if dtype not in (None, "auto"):
        wanted = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if wanted != pipe.dtype:
            raise ValueError(f"dtype: the pipeline passed as the model is in {str(pipe.dtype).removeprefix('torch.')}, "
                             f"not {str(wanted).removeprefix('torch.')}; it is used as it is, so leave dtype unset "
                             f"(or convert it first with pipe.to(torch.{str(wanted).removeprefix('torch.')}))")
    return adapter(pipe, name or pipeline_label(pipe), pipe.device, parsed)


def hub_status(repo_id: str, gated: bool) -> tuple[bool, str]:
    """Cheap availability: local cache, offline mode and login are checked; nothing is loaded."""
    from huggingface_hub import get_token, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str):
        return True, f"{repo_id} is in the local Hugging Face cache"
    if hub_offline():
        return False, f"{repo_id} is not in the local cache and HF_HUB_OFFLINE is set; to use it, {how_to_provide(repo_id)}"
    if gated and not get_token():
        return False, f"{repo_id} is gated and no Hugging Face token is set; to use it, {how_to_provide(repo_id)}"
    return True, f"downloads {repo_id} from the hub on first use"


def _named(repo_id: str, name: str, pipeline: str | None = None, gated: bool = False, without: tuple = (), **defaults):
    """A registry factory for one hub repository, with a cheap `available()` and the options it takes.

    `pipeline` is the class its model_index.json names (so the options are known without loading);
    `without`: options of that family this checkpoint has no use for (FLUX.1-schnell: guidance)."""
    def factory(device: str = "cpu", **options) -> Model:
        return load_pretrained(repo_id, device, name=name, **{**defaults, **options})

    factory.available = lambda: hub_status(repo_id, gated)
    factory.repo_id = repo_id
    if pipeline is not None:
        factory.options = tuple(f.name for f in dataclasses.fields(adapter_class(pipeline).options_class)
                                if f.name not in without)
    return factory


def _dtype_keyword() -> str:
    """diffusers renamed from_pretrained's `torch_dtype` to `dtype` (the old name now warns)."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"


flux_dev = _named("black-forest-labs/FLUX.1-dev", "flux-dev", "FluxPipeline", gated=True)
flux_schnell = _named("black-forest-labs/FLUX.1-schnell", "flux-schnell", "FluxPipeline", without=("guidance",),
                      max_sequence_length=256)
sd35_medium = _named("stabilityai/stable-diffusion-3.5-medium", "sd3.5-medium", "StableDiffusion3Pipeline", gated=True)
sdxl = _named("stabilityai/stable-diffusion-xl-base-1.0", "sdxl", "StableDiffusionXLPipeline")
sd15 = _named("stable-diffusion-v1-5/stable-diffusion-v1-5", "sd15", "StableDiffusionPipeline")
pixart_sigma = _named("PixArt-alpha/PixArt-Sigma-XL-2-1024-MS", "pixart-sigma", "PixArtSigmaPipeline")
dit_xl_2_256 = _named("facebook/DiT-XL-2-256", "dit-xl-2-256", "DiTPipeline")
