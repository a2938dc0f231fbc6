"""The Python API for notebooks and scripts: `tsearch.search(...)` and its streaming form `tsearch.stream(...)`.

    import tsearch
    result = tsearch.search(model="gmm", cls=2, verifiers=["gmm-density"], algorithm="zero-order", budget=400)
    result.best_image, result.best_score, result.history, result.run_dir

Keywords build a `SearchConfig` (prompt= or cls= become its condition; a keyword of the chosen
algorithm's Options becomes an option), or pass one whole: `tsearch.search(config, out="run")`.
`prepare` validates the keywords or config once and plans it (`plan_for`, over a config already validated);
`search_events` is the one stream of a plan's events, which every interface consumes.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from tsearch import engine
from tsearch.candidate import Candidate
from tsearch.config import SearchConfig
from tsearch.events import CandidateScored, SearchDone, Summary
from tsearch.models import Model, load_model
from tsearch.models.base import resolved_dtype
from tsearch.runs import check_out
from tsearch.search import ALGORITHMS, Costs, fit_budget, option_fields
from tsearch.verifiers import load_verifier
from tsearch.verifiers.custom import CallableVerifier

RUN_KEYWORDS = ("out", "should_stop", "verifier_timeout", "loader")   # how to run, not what to search


class Loader:
    """Where models and verifiers come from: loaded by name here; the app's pool lends its own instead."""

    def load_model(self, name: str, device: str, options: dict) -> Model:
        return load_model(name, device=device, **options)

    def load_verifier(self, name: str, model: Model, device: str):
        return load_verifier(name, model=model, device=device)


def config_from(**kwargs) -> SearchConfig:
    """A validated SearchConfig from the API's keywords; ValueError naming any keyword it does not know."""
    kwargs = dict(kwargs)
    prompt, cls = kwargs.pop("prompt", None), kwargs.pop("cls", None)
    if prompt is not None and cls is not None:
        raise ValueError("give prompt= (text-to-image models) or cls= (class-conditional models), not both")
    if "condition" in kwargs and (prompt is not None or cls is not None):
        raise ValueError("give condition= or prompt=/cls=, not both")
    condition = kwargs.pop("condition", prompt if prompt is not None else cls)
    known = [f.name for f in dataclasses.fields(SearchConfig)]
    algorithm = kwargs.get("algorithm", "random")
    options_of = option_fields(algorithm) if isinstance(algorithm, str) and algorithm in ALGORITHMS else {}
    options = {key: kwargs.pop(key) for key in list(kwargs) if key not in known and key in options_of}
    unknown = [key for key in kwargs if key not in known]
    elsewhere = sorted(key for key in unknown if any(key in option_fields(a) for a in ALGORITHMS))
    if elsewhere:
        raise ValueError(f"option(s) {', '.join(elsewhere)} do not apply to algorithm {algorithm!r}; "
                         f"its options: {', '.join(options_of) or 'none'}")
    if unknown:
        everything = known + list(options_of) + ["prompt", "cls", *RUN_KEYWORDS]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, everything, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown argument(s) {', '.join(hints)}; search() takes {', '.join(known)}, prompt, cls, "
                         f"out, and the options of algorithm {algorithm!r}: {', '.join(options_of) or 'none'}")
    if "model" not in kwargs:
        raise ValueError("model: give a registered name (see `python -m tsearch models`), a hub id, a folder or a Model")
    if options:
        if kwargs.get("options") is not None:
            raise ValueError("give algorithm options as keywords or as options=, not both")
        kwargs["options"] = options
    return SearchConfig(condition=condition, **kwargs).validate()


def _scorer(spec, model, device, loader: Loader):
    if isinstance(spec, str):
        return loader.load_verifier(spec, model, device)
    if hasattr(spec, "score"):   # an object with .score gets the image tensor itself
        if not hasattr(spec, "name"):
            raise ValueError(f"a verifier object with .score also needs a .name (for run.json and the charts); "
                             f"{spec!r} has none")
        return spec
    if callable(spec):   # a plain function gets a list of PIL images
        return CallableVerifier(spec)
    raise ValueError(f"a verifier is a registered name, 'module:function', an object with .score, or a callable; got {spec!r}")


def _model(config: SearchConfig, loader: Loader) -> Model:
    """The config's model as a tsearch Model: loaded by name, wrapped (a diffusers pipeline) or as given."""
    from tsearch.models.hub import from_pipeline, is_pipeline

    model, options = config.model, dict(config.model_options)
    if isinstance(model, str):
        if config.dtype is not None:
            options["dtype"] = config.dtype
        return loader.load_model(model, config.device, options)
    if is_pipeline(model):   # the object itself, never reloaded or copied
        import torch

        if torch.device(config.device).type != model.device.type:
            raise ValueError(f"device: the pipeline passed as the model is on {model.device} and is used there, but "
                             f"device={config.device!r}; pass device={str(model.device)!r} (or move it first with "
                             f"pipe.to({config.device!r}))")
        return from_pipeline(model, config.model_name, config.dtype, **options)
    if options:
        if callable(getattr(model, "with_options", None)):
            return model.with_options(**options)   # the same weights behind an adapter with these options
        raise ValueError(f"model_options: the loaded model {config.model_name!r} keeps the options it was built "
                         f"with; give them when building it, or pass its registered name")
    return model


def _condition(model: Model, condition):
    """The condition as the model takes it: a class index, or a non-empty prompt."""
    if model.conditioning == "class":
        if condition is None or (isinstance(condition, str) and not condition):
            count = len(model.classes or [1])
            raise ValueError(f"model {model.name!r} is class-conditional: give cls= (a class index, 0..{count - 1})")
        if isinstance(condition, str) and condition.isdigit():
            return int(condition)
        return condition
    if not isinstance(condition, str) or not condition.strip():
        raise ValueError(f"model {model.name!r} is text-conditioned: give a non-empty prompt")
    return condition


def prepare(config: SearchConfig | None = None, *, out: str | None = None, loader: Loader | None = None,
            **kwargs) -> engine.Plan:
    """Validate everything and build the engine's plan: ValueError with an actionable message on bad input.

    Nothing is spent and nothing is written here; the run folder `out` is only checked."""
    if config is None:
        config = config_from(**kwargs)
    elif not isinstance(config, SearchConfig):
        raise ValueError(f"the first argument (config) is a SearchConfig, got {config!r}; or pass keywords, e.g. "
                         f"tsearch.search(model='gmm', cls=2, verifiers=['gmm-density'])")
    elif kwargs:
        raise ValueError(f"give a SearchConfig or keyword arguments, not both (got {', '.join(kwargs)})")
    else:
        config = config.validate()
    return plan_for(config, out=out, loader=loader)


def plan_for(config: SearchConfig, *, out: str | None = None, loader: Loader | None = None) -> engine.Plan:
    """The engine's plan of a config `validate` has already checked (so it is checked once): the model, the
    verifiers, the condition encoded, the budget against one candidate's cost. Nothing is spent or written;
    the run folder `out` is only checked."""
    loader = loader or Loader()
    if out is not None:
        check_out(out)
    model = _model(config, loader)
    condition = _condition(model, config.condition)
    with model.encode_lock:
        model.encode(condition)  # validates the condition before anything is spent
    verifiers = tuple(_scorer(v, model, config.device, loader) for v in config.verifiers)
    evaluators = tuple(_scorer(v, model, config.device, loader) for v in config.evaluators)
    for scorer in verifiers + evaluators:
        check = getattr(scorer, "check", None)
        if callable(check):
            try:
                check(condition)
            except ValueError as error:
                raise ValueError(f"verifier {scorer.name!r} cannot score this search: {error}") from None
    return planned(replace(config, condition=condition), model, verifiers, evaluators, out)


def planned(config: SearchConfig, model: Model, verifiers: tuple, evaluators: tuple,
            out: str | None = None) -> engine.Plan:
    """The plan of a checked config over its loaded model and scorers (what `plan_for` loads): steps, solver and
    dtype resolved from the model, a fresh algorithm of what the budget leaves after the commits (`fit_budget`).
    A search that has a plan already gets one of its own, in its run folder `out`, without loading anything."""
    config = replace(config, steps=config.steps or model.default_steps,
                     solver=config.solver or model.default_solver, dtype=resolved_dtype(model, config.dtype))
    costs = Costs(config.solver, model.nfe_per_eval)
    algorithm = fit_budget(config.algorithm, config.budget, costs, config.steps, config.seed, config.options,
                           config.final_steps, config.final_top)
    return engine.Plan(config, model, verifiers, evaluators, algorithm, costs, None if out is None else str(out))


def stream(config: SearchConfig | None = None, *, out: str | None = None, should_stop=None,
           verifier_timeout: float | None = None, loader: Loader | None = None, **kwargs) -> Iterator[Any]:
    """The search's events as they happen (see tsearch.events); close the iterator to stop."""
    check_run_keywords(should_stop, verifier_timeout)
    plan = prepare(config, out=out, loader=loader, **kwargs)
    return watched(plan, should_stop=should_stop, verifier_timeout=verifier_timeout)


def watched(plan: engine.Plan, should_stop=None, verifier_timeout: float | None = None,
            on_summary=None) -> Iterator[Any]:
    """The events of a search someone watches as it runs (the API's stream, the CLI's progress): its first
    candidate goes through the model alone (`search_events(first_alone=True)`: one unpadded row on a model that
    pads its calls, marked in its recipe so it regenerates exactly), so it comes after about one candidate's
    compute rather than the first whole batch. The candidates, recipes (but for the mark) and NFEs are the same
    as without it; the first candidate's last bits may differ (docs/compute.md). `search`, sweeps and
    benchmarks, which only read the end, keep whole batches."""
    return search_events(plan, should_stop=should_stop, verifier_timeout=verifier_timeout, first_alone=True,
                         on_summary=on_summary)


def search_events(plan: engine.Plan, *, should_stop=None, verifier_timeout: float | None = None,
                  batch_runner=None, first_alone: bool = False, on_summary=None) -> Iterator[Any]:
    """The one stream of a planned search's events, the only way into `engine.run` (benchmarks aside): `search`
    collects it; the CLI, `stream`, a sweep's cell, the app's runs and its calibration consume it.
    `should_stop`, `verifier_timeout`, `batch_runner` (the app's ZeroGPU calls), `first_alone` and `on_summary`
    are the engine's (see `tsearch.engine.loop.run`)."""
    return engine.run(plan, should_stop=should_stop, verifier_timeout=verifier_timeout, batch_runner=batch_runner,
                      first_alone=first_alone, on_summary=on_summary)


def check_run_keywords(should_stop, verifier_timeout) -> None:
    """ValueError naming should_stop or verifier_timeout when they are not what a run takes."""
    import math

    if should_stop is not None and not callable(should_stop):
        raise ValueError(f"should_stop must be a function returning True to stop, got {should_stop!r}")
    if verifier_timeout is None:
        from tsearch.verifiers.deadline import default_seconds

        default_seconds()   # a bad $TSEARCH_VERIFIER_TIMEOUT is refused before anything runs
    else:
        if isinstance(verifier_timeout, bool) or not isinstance(verifier_timeout, (int, float)) or \
                not math.isfinite(verifier_timeout) or verifier_timeout < 0:
            raise ValueError(f"verifier_timeout must be seconds >= 0 (0 = no deadline), got {verifier_timeout!r}")


@dataclass
class SearchResult:
    best_image: Any                  # PIL.Image (the final render when one was made)
    best_score: float | None
    best_id: int | None
    history: list[Candidate] = field(default_factory=list)   # every scored candidate, in order
    summary: Summary | None = None
    run_dir: str | None = None
    config: SearchConfig | None = None


def search(config: SearchConfig | None = None, *, out: str | None = None, should_stop=None,
           verifier_timeout: float | None = None, loader: Loader | None = None, **kwargs) -> SearchResult:
    """Run a search to the end and return its result (arguments as `stream`)."""
    history, done = [], None
    check_run_keywords(should_stop, verifier_timeout)
    plan = prepare(config, out=out, loader=loader, **kwargs)
    for event in search_events(plan, should_stop=should_stop, verifier_timeout=verifier_timeout):
        if isinstance(event, CandidateScored):
            history.append(event.candidate)
        elif isinstance(event, SearchDone):
            done = event
    s = done.summary
    return SearchResult(done.best_image, s.best_score, s.best_id, history, s, s.run_dir, plan.config)
