"""`SearchConfig`: the whole description of one search, and its one validation (DESIGN.md).

The CLI, the Python API, the app and sweeps each build a SearchConfig; `validate` checks it once and
raises a ValueError that names the field; nothing patches it afterwards. `run.json` stores it whole
(`to_dict`), and a run can be started again from it (`from_dict`, `from_run`).

A setting is one field: its `setting(...)` metadata (help, default, range, label, group; `when_set`,
`remote`) is all a front door reads, so a new field is validated, stored, restored, a flag of `run` and
`arena`, a sweep key, a parameter of the app and of its MCP tool with no other edit (docs/cli.md, "One
setting, every door"; tests/test_one_field.py).

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

from tsearch.config_checks import (MAX_PROMPT_CHARS, _algorithm_options, _check_model, _condition,  # noqa: F401
                                   _device, _scorers, check_worlds, whole, world_of)
from tsearch.options import Setting, check, setting, settings_of, shown

MAX_SEED = 2**63            # seeds are integers in [0, 2^63)
MAX_BUDGET = 10**9          # NFEs; more would run for years even on the fastest model
DTYPES = ("float32", "bfloat16", "float16", "auto", "fp32", "bf16", "fp16")   # the last three: aliases
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# One batch size for every front door (the app used 4, the CLI and sweeps 16): on the shapes model on a 2-core CPU,
# 8 showed the first candidate about as soon as 4 and finished a random search about as fast as 16.
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class SearchConfig:
    model: Any = setting(None, "registered name (see `python -m tsearch models`), hub id or local diffusers folder",
                         kind=str, label="model")   # or a loaded Model or diffusers pipeline (API)
    condition: str | int | None = setting(None, "a prompt (text models) or a class index (class-conditional)",
                                          kind=str, label="prompt or class", optional=True, blank="none")
    verifiers: tuple = setting((), "registered names that score each candidate; several combine by mean rank",
                               kind=tuple, label="verifiers")   # also "module:function", objects with .score, callables
    evaluators: tuple = setting((), "held-out scorers recorded beside the verifiers, never told to the search",
                                kind=tuple, label="held-out evaluators")
    algorithm: str = setting("random", "the search algorithm (see `run --algorithm NAME --help`)", label="algorithm")
    options: Any = setting(None, "the algorithm's options (None: its defaults)", kind=dict, group="algorithm",
                           optional=True, blank="its defaults")   # its Options instance once validated
    budget: int = setting(200, "NFEs to spend in all (one NFE = one denoiser pass over one sample)",
                          label="budget (NFEs)", minimum=1, maximum=MAX_BUDGET)
    steps: int | None = setting(None, "denoising steps per candidate", kind=int,
                                label="denoising steps per candidate", minimum=1, optional=True)
    seed: int = setting(0, "the algorithm's seed; every noise follows from it", label="seed", minimum=0,
                        maximum=MAX_SEED, exclusive=(False, True))
    batch_size: int = setting(DEFAULT_BATCH, "most candidates denoised together; smaller gives quicker updates and "
                              "Stop", label="batch size", group="advanced", minimum=1,
                              maximum=MAX_BUDGET)   # a candidate costs at least one NFE
    solver: str | None = setting(None, "ODE solver", kind=str, label="solver",
                                 group="advanced", optional=True)   # choices: tsearch.sampling.SOLVERS
    final_steps: int | None = setting(None, "re-render the winning noise with this many steps (counted in the "
                                      "budget)", kind=int, label="final render steps", group="advanced", minimum=1,
                                      optional=True, blank="none (no final render)")
    final_top: int = setting(1, "with final steps: the best this many drafts are re-rendered and scored; the best "
                             "commit wins (draft-then-commit)", label="drafts committed", group="advanced",
                             minimum=1, maximum=MAX_BUDGET // 2,   # each costs a draft and a commit, >= 2 NFEs
                             when_set=True)   # stored only when set: sweep keys from before final_top stay the same
    device: str = setting("cpu", "cpu, cuda, cuda:1 or mps", label="device", group="advanced", remote=False)
    dtype: str | None = setting(None, "model weights' dtype (run.json stores it resolved)",
                                kind=str, label="dtype", group="advanced", choices=DTYPES, optional=True,
                                remote=False)
    model_options: Mapping = setting({}, "the model's options: height, width, guidance, ... (see MODEL_OPTIONS)",
                                     kind=dict, group="model")

    # --- validation -----------------------------------------------------------------------
    def validate(self, here: bool = True) -> "SearchConfig":
        """This config with its values checked and normalised; ValueError naming the field otherwise."""
        from tsearch.models import check_model_options, checked_model_options
        from tsearch.registry import unknown
        from tsearch.sampling import SOLVERS

        _check_model(self.model)
        check_option_names(self.algorithm)
        options = _algorithm_options(self.algorithm, self.options)
        if self.solver is not None and self.solver not in SOLVERS:
            raise unknown("solver", self.solver, SOLVERS)
        dtype = self.dtype
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"dtype: choose one of {', '.join(DTYPES)}, got {dtype!r}")
        model_options = checked_model_options(self.model_options)   # guidance_scale (older runs) -> guidance
        check_model_options(self.model, model_options)
        verifiers = _scorers("verifiers", self.verifiers, 1)
        evaluators = _scorers("evaluators", self.evaluators, 0)
        check_worlds(self.model, verifiers, evaluators)
        numbers = {name: checked(s, getattr(self, name)) for name, s in SETTINGS.items() if name not in OWN_CHECKS}
        for name in ("steps", "final_steps"):   # O(1), before any cost is computed from them
            if (numbers[name] or 0) > MAX_BUDGET:
                raise ValueError(f"{name}={shown(numbers[name])}: one render of that many steps costs more NFEs than "
                                 f"any budget (at most {MAX_BUDGET}); use fewer steps")
        return dataclasses.replace(
            self, condition=_condition(self.condition), verifiers=verifiers, evaluators=evaluators, options=options,
            dtype=DTYPE_ALIASES.get(dtype, dtype), device=_device(self.device, here), model_options=model_options,
            final_top=_final_top(self.final_top, self.final_steps, numbers["budget"]), **numbers)

    # --- on disk --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form stored in run.json: names for models and scorers, options as a dict."""
        # every field in field order, then those stored only when set (a sweep cell's key hashes this dict, so
        # the keys and run.json files from before such a field stay the same)
        always = {name: self._stored(name) for name, s in SETTINGS.items() if not s.when_set}
        return {**always, **{name: self._stored(name) for name, s in SETTINGS.items()
                             if s.when_set and getattr(self, name) != s.default}}

    def _stored(self, name: str):
        """One field's JSON form: names for the model and the scorers, the changed options, plain values else."""
        value = getattr(self, name)
        if name == "model":
            return self.model_name
        if SETTINGS[name].kind is tuple:
            return [scorer_name(v) for v in value]
        if name == "options":
            return changed_options(value)
        if SETTINGS[name].kind is dict:
            return dict(value)
        return value

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
        for key, s in SETTINGS.items():
            if s.kind is tuple and isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values).validate()

    def to_row(self) -> dict:
        """The stored form (`to_dict`), the name every record shares."""
        return self.to_dict()

    @classmethod
    def from_row(cls, row: Mapping) -> "SearchConfig":
        """A stored config (run.json's "config") as its dataclass, to show it: each field's kind checked, nothing
        looked up (its model need not be here, nor its device). To start it again use `from_dict` (validated)."""
        from tsearch.events import damaged

        if not isinstance(row, Mapping):
            raise ValueError(f"run.json is damaged: its config is {row!r}, not an object")
        values = {}
        for name, s in SETTINGS.items():
            value = row.get(name, s.default)
            if s.kind is tuple:
                if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                    raise damaged(f"config {name}", value)
                value = tuple(value)
            elif s.kind is dict:
                if value is not None and not isinstance(value, Mapping):
                    raise damaged(f"config {name}", value)
                value = dict(value or {})
            elif name == "condition":
                if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
                    raise damaged(f"config {name}", value)
            elif value is not None and s.kind is int:   # float() of a huge int would overflow: ints stay ints
                if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                        (isinstance(value, float) and not value.is_integer()):
                    raise damaged(f"config {name}", value)
                value = int(value)
                try:   # a stored value outside its range was never written by a search (seed 2^70, budget 10^12)
                    whole_setting(s, value)
                except ValueError:
                    raise damaged(f"config {name} (outside its range, {s.range_text()})", value) from None
            elif value is not None and s.kind in (float, bool):
                try:
                    value = check(s, value)
                except ValueError:
                    raise damaged(f"config {name} ({s.kind.__name__}, {s.range_text() or 'any'})", value) from None
            elif value is not None and not isinstance(value, str):
                raise damaged(f"config {name}", value)
            values[name] = value
        return cls(**values)

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


SETTINGS: dict[str, Setting] = settings_of(SearchConfig)   # every field's help, default, range, label, group
# fields with checks of their own in `validate` (names looked up, several fields together); every other field is
# checked against its setting alone (`checked`), so a new field is range-checked with no edit here
OWN_CHECKS = ("model", "condition", "verifiers", "evaluators", "algorithm", "options", "solver", "dtype", "device",
              "model_options", "final_top")


def reserved_names() -> dict[str, str]:
    """Names an algorithm option may not take, each with what already owns it: SearchConfig's fields and the
    keywords of tsearch.search(...) (an option named `steps` would be read as the search's steps)."""
    owners = {name: f"the search setting SearchConfig.{name} (--{name.replace('_', '-')})" for name in SETTINGS}
    for name in ("prompt", "cls", "class", "out", "should_stop", "verifier_timeout", "loader"):
        owners.setdefault(name, f"the keyword {name}= of tsearch.search")
    return owners


def check_option_names(algorithm) -> None:
    """ValueError naming both when a registered algorithm's option takes a name that a search setting owns (every
    front door checks before it offers the algorithm; the option would shadow the setting or be taken for it)."""
    from tsearch.search import ALGORITHMS, declared_fields

    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        return   # unknown: validate names the algorithms
    reserved = reserved_names()
    for option in declared_fields(algorithm):
        if option in reserved:
            raise ValueError(f"algorithm {algorithm!r} cannot be used: its option {option!r} has the name of "
                             f"{reserved[option]}; rename the option in {ALGORITHMS[algorithm].__module__}")


def offered_settings(algorithm: str) -> dict[str, Setting]:
    """An algorithm's option settings, once its option names are checked (`check_option_names`)."""
    from tsearch.search import option_settings

    check_option_names(algorithm)
    return option_settings(algorithm)


def checked(s: Setting, value):
    """A field's value checked against its setting alone: whole numbers by `whole_setting`, the rest by `check`."""
    return whole_setting(s, value) if s.kind is int else check(s, value)


def whole_setting(s: Setting, value) -> int | None:
    """A whole-number field checked against its setting's range (`whole`)."""
    upper = None if s.maximum is None else s.maximum - (1 if s.exclusive[1] else 0)
    return whole(s.name, value, s.minimum, upper, optional=s.optional)


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


def _final_top(value, final_steps, budget: int) -> int:
    """How many of the best drafts are committed: a whole number >= 1; above 1 only with final_steps; at most the
    commits the budget could buy (each costs a draft and a final render, at least one NFE each). O(1): the exact
    check against the model's costs is `search.fit_budget`."""
    number = whole_setting(SETTINGS["final_top"], value)
    if number > 1 and final_steps is None:
        raise ValueError(f"final_top={number} re-renders the best {number} drafts with final_steps steps: "
                         f"give final_steps too (e.g. final_steps=2*steps), or leave final_top at 1")
    if number > max(1, budget // 2):
        raise ValueError(f"final_top={number}: each committed draft costs at least 2 NFEs (its draft and its final "
                         f"render), so a budget of {budget} NFEs commits at most {budget // 2}; lower final_top or "
                         f"raise the budget")
    return number
