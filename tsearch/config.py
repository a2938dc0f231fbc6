"""`SearchConfig`: the whole description of one search, and its one validation (DESIGN.md).

The CLI, the Python API, the app and sweeps each build a SearchConfig; `validate` checks it once and
raises a ValueError that names the field; nothing patches it afterwards. `run.json` stores it whole
(`to_dict`), and a run can be started again from it (`from_dict`, `from_run`).

    config = SearchConfig(model="gmm", condition=2, verifiers=("gmm-density",), algorithm="zero-order",
                          budget=400).validate()
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

MAX_SEED = 2**63            # seeds are integers in [0, 2^63)
MAX_BUDGET = 10**9          # NFEs; more would run for years even on the fastest model
MAX_PROMPT_CHARS = 4000     # longer prompts are refused (encoders truncate far earlier)
DTYPES = ("float32", "bfloat16", "float16", "auto", "fp32", "bf16", "fp16")   # the last three: aliases
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class SearchConfig:
    model: Any                                  # registered name, hub id, local folder, a loaded Model or diffusers pipeline
    condition: str | int | None = None          # a prompt (text models) or a class index (class-conditional)
    verifiers: tuple = ()                       # registered names, "module:function", objects with .score, callables
    evaluators: tuple = ()                      # held-out scorers, recorded but never told to the search
    algorithm: str = "random"                   # a name in tsearch.search.ALGORITHMS
    options: Any = None                         # the algorithm's Options instance (None: its defaults)
    budget: int = 200                           # NFEs in all (one NFE = one denoiser pass over one sample)
    steps: int | None = None                    # denoising steps per candidate (None: the model's default)
    seed: int = 0                               # the algorithm's generator; every noise follows from it
    batch_size: int = 16                        # most candidates denoised together
    solver: str | None = None                   # "euler", "heun" or "dpmpp-2m" (None: the model's default)
    final_steps: int | None = None              # re-render the winning noise with this many steps (counted)
    final_top: int = 1                          # drafts re-rendered with final_steps and scored; the best commit wins
    device: str = "cpu"                         # "cpu", "cuda", "cuda:1", "mps"
    dtype: str | None = None                    # None: the model's default; float32, bfloat16, float16 or auto (run.json: resolved)
    model_options: Mapping = field(default_factory=dict)   # the model's options: height, width, guidance, ...

    # --- validation -----------------------------------------------------------------------
    def validate(self, here: bool = True) -> "SearchConfig":
        """This config with its values checked and normalised; ValueError naming the field otherwise."""
        from tsearch.search import ALGORITHMS, make_options
        from tsearch.registry import unknown
        from tsearch.sampling import SOLVERS

        from tsearch.models import check_model_options, normalise_options
        from tsearch.models.hub import is_pipeline

        if isinstance(self.model, str):
            if not self.model.strip():
                raise ValueError("model: give a registered name (see `python -m tsearch models`), a hub id or a folder")
        elif not is_pipeline(self.model) and \
                not all(callable(getattr(self.model, name, None)) for name in ("encode", "forward_x0", "decode")):
            raise ValueError(f"model: give a registered name (see `python -m tsearch models`), a hub id, a folder, "
                             f"a loaded diffusers pipeline or a tsearch Model object; got {self.model!r}")
        if not isinstance(self.algorithm, str) or self.algorithm not in ALGORITHMS:
            raise unknown("algorithm", self.algorithm, ALGORITHMS)
        options = self.options
        if options is None:
            options = make_options(self.algorithm)
        elif isinstance(options, Mapping):
            options = make_options(self.algorithm, **options)
        elif not isinstance(options, ALGORITHMS[self.algorithm].Options):
            raise ValueError(f"options: algorithm {self.algorithm!r} takes a "
                             f"{ALGORITHMS[self.algorithm].__module__}.Options, got {type(options).__name__}")
        else:
            options = make_options(self.algorithm, **dataclasses.asdict(options))
        solver = self.solver
        if solver is not None and solver not in SOLVERS:
            raise unknown("solver", solver, SOLVERS)
        dtype = self.dtype
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"dtype: choose one of {', '.join(DTYPES)}, got {dtype!r}")
        dtype = DTYPE_ALIASES.get(dtype, dtype)
        if not isinstance(self.model_options, Mapping):
            raise ValueError(f"model_options: a dict of the model's options, got {self.model_options!r}")
        model_options = normalise_options(self.model_options)   # guidance_scale (older runs) -> guidance
        check_model_options(self.model, model_options)
        return dataclasses.replace(
            self, condition=_condition(self.condition), verifiers=_scorers("verifiers", self.verifiers, 1),
            evaluators=_scorers("evaluators", self.evaluators, 0), options=options, dtype=dtype,
            budget=whole("budget", self.budget, 1, MAX_BUDGET), steps=whole("steps", self.steps, 1, optional=True),
            seed=whole("seed", self.seed, 0, MAX_SEED - 1), batch_size=whole("batch_size", self.batch_size, 1),
            final_steps=whole("final_steps", self.final_steps, 1, optional=True), device=_device(self.device, here),
            final_top=_final_top(self.final_top, self.final_steps), model_options=model_options)

    # --- on disk --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form stored in run.json: names for models and scorers, options as a dict."""
        return {"model": self.model_name, "condition": self.condition,
                "verifiers": [scorer_name(v) for v in self.verifiers],
                "evaluators": [scorer_name(v) for v in self.evaluators], "algorithm": self.algorithm,
                "options": changed_options(self.options),
                "budget": self.budget, "steps": self.steps, "seed": self.seed, "batch_size": self.batch_size,
                "solver": self.solver, "final_steps": self.final_steps, "device": self.device, "dtype": self.dtype,
                "model_options": dict(self.model_options),
                # only when set: a sweep cell's key hashes this dict, and results from before final_top resume
                **({"final_top": self.final_top} if self.final_top != 1 else {})}

    @classmethod
    def from_dict(cls, data: Mapping) -> "SearchConfig":
        """A config from its stored form (run.json's "config"), validated; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a stored config is a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - known - {"nfe_per_eval"})   # nfe_per_eval: written by tsearch 0.1
        if extra:
            raise ValueError(f"unknown config field(s) {', '.join(extra)}; known: {', '.join(sorted(known))}")
        values = {k: v for k, v in data.items() if k in known}
        for key in ("verifiers", "evaluators"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values).validate()

    @classmethod
    def from_run(cls, path: str | Path, **overrides) -> "SearchConfig":
        """The config of a saved run (its folder or its run.json), to start the same search again.

        `overrides` replace stored values before validation (e.g. device="cpu" for a run made on a GPU)."""
        return cls.from_dict({**stored_config(path), **overrides})

    @property
    def model_name(self) -> str:
        """The name run.json records: the model's name; for a diffusers pipeline, its folder or hub id, else its class."""
        from tsearch.models.hub import is_pipeline, pipeline_label

        if isinstance(self.model, str):
            return self.model
        if is_pipeline(self.model):
            return pipeline_label(self.model)
        return getattr(self.model, "name", type(self.model).__name__)


def stored_config(path: str | Path) -> dict:
    """The "config" object of a saved run's run.json (its folder or the file), not yet validated."""
    path = Path(path)
    if path.is_dir():
        path = path / "run.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path} holds no search config: is it a tsearch run.json?")
    return dict(meta["config"])


def changed_options(options) -> dict:
    """The options that differ from their defaults (what a user chose), as a dict."""
    if options is None:
        return {}
    if not dataclasses.is_dataclass(options):
        return dict(options)
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)
            if getattr(options, f.name) != f.default}


def scorer_name(scorer) -> str:
    if isinstance(scorer, str):
        return scorer
    return getattr(scorer, "name", None) or getattr(scorer, "__name__", None) or type(scorer).__name__


def whole(name: str, value, minimum: int, maximum: int | None = None, optional: bool = False) -> int | None:
    """An integer field: whole numbers only (2.0 is taken, 2.5 is refused, never truncated)."""
    import numpy as np

    if value is None and optional:
        return None
    bounds = f"at least {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
        if abs(value) > 2**53:
            raise ValueError(f"{name} must be given as an integer, not the float {value!r} (floats above 2^53 "
                             f"lose digits)")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return number


def _final_top(value, final_steps) -> int:
    """How many of the best drafts are committed: a whole number >= 1; above 1 only with final_steps."""
    number = whole("final_top", value, 1)
    if number > 1 and final_steps is None:
        raise ValueError(f"final_top={number} re-renders the best {number} drafts with final_steps steps: "
                         f"give final_steps too (e.g. final_steps=2*steps), or leave final_top at 1")
    return number


def _condition(value):
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"condition: the prompt has {len(text)} characters; at most {MAX_PROMPT_CHARS} are taken")
        return text
    return whole("condition (class)", value, 0)


def _scorers(name: str, values, minimum: int) -> tuple:
    if isinstance(values, str):
        raise ValueError(f"{name} is a list of names, got the single string {values!r}: "
                         f"write {name}=[{values!r}]")
    if values is None:
        values = ()
    if isinstance(values, Mapping):
        raise ValueError(f"{name} is a list of names, objects with .score or callables, not a dict: "
                         f"write {name}=[...]")
    try:
        values = tuple(values)
    except TypeError:
        values = (values,) if callable(values) or hasattr(values, "score") else None
        if values is None:
            raise ValueError(f"{name} is a list of registered names, objects with .score or callables") from None
    for value in values:
        if not (isinstance(value, str) and value.strip()) and not callable(value) and not hasattr(value, "score"):
            raise ValueError(f"{name}: each is a registered name, 'module:function', an object with .score or a "
                             f"callable; got {value!r}")
    if len(values) < minimum:
        raise ValueError("choose at least one verifier (several are combined by mean rank)")
    return values


def _device(value, here: bool = True) -> str:
    """The device name, checked as a name; `here`: also that this machine has it (a sweep's driver
    may lack the GPUs its workers have, so the spec is checked with here=False)."""
    import torch

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {value!r}")
    try:
        device = torch.device(value.strip())
    except (RuntimeError, ValueError):
        raise ValueError(f"device {value!r} is not a torch device; use 'cpu', 'cuda', 'cuda:1' or 'mps'") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {value!r}: tsearch runs on 'cpu', 'cuda' or 'mps'")
    if not here:
        return value.strip()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {value!r}: no CUDA GPU is visible here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {value!r}: Apple's MPS is not available here; use --device cpu")
    return value.strip()
