"""The Python API for notebooks and scripts: `tsearch.search(...)` and its streaming form `tsearch.stream(...)`.

    import tsearch
    result = tsearch.search(model="gmm", cls=2, verifiers=["gmm-density"], algorithm="zero-order", budget=400)
    result.best_image, result.best_score, result.history, result.run_dir
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from tsearch import engine
from tsearch.events import CandidateScored, SearchDone, Summary
from tsearch.models import Model, load_model
from tsearch.runs import RunWriter
from tsearch.search import ALGORITHMS, Costs, make_algorithm
from tsearch.registry import unknown
from tsearch.sampling import SOLVERS
from tsearch.verifiers import load_verifier
from tsearch.verifiers.custom import CallableVerifier


def _as_verifier(spec, model, device):
    if isinstance(spec, str):
        return load_verifier(spec, model=model, device=device)
    if hasattr(spec, "score") and hasattr(spec, "name"):
        return spec
    if callable(spec):
        return CallableVerifier(spec)
    raise ValueError(f"a verifier is a registered name, 'module:function', an object with .score, or a callable; got {spec!r}")


def _condition(model: Model, prompt, cls):
    if model.conditioning == "class":
        if cls is None:
            if prompt is None:
                raise ValueError(f"model {model.name!r} is class-conditional: give cls= (e.g. 0..{len(model.classes or [1]) - 1})")
            cls = prompt
        return cls
    if prompt is None or not str(prompt).strip():
        raise ValueError(f"model {model.name!r} is text-conditioned: give a non-empty prompt")
    return str(prompt).strip()


def prepare(model: str | Model, prompt: str | None = None, cls: int | None = None,
            verifiers: Sequence[str | Any | Callable] = (), algorithm: str = "random", budget: int = 200,
            steps: int | None = None, seed: int = 0, batch_size: int = 16, out: str | None = None,
            evaluators: Sequence[str | Any] = (), solver: str | None = None, final_steps: int | None = None,
            device: str = "cpu", model_options: dict | None = None, **options) -> engine.Plan:
    """Validate everything and build the engine's plan. ValueError with an actionable message on bad input."""
    if algorithm not in ALGORITHMS:
        raise unknown("algorithm", algorithm, ALGORITHMS)
    if isinstance(model, str):
        model_name = model
        model = load_model(model, device=device, **(model_options or {}))
    else:
        model_name = getattr(model, "name", type(model).__name__)
    condition = _condition(model, prompt, cls)
    model.encode(condition)  # validates the condition before anything is spent
    if not verifiers:
        raise ValueError("choose at least one verifier (several are combined by mean rank)")
    loaded = [_as_verifier(v, model, device) for v in verifiers]
    held_out = [_as_verifier(v, model, device) for v in evaluators]
    steps = model.default_steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    solver = solver or model.default_solver
    if solver not in SOLVERS:
        raise unknown("solver", solver, SOLVERS)
    model.default_solver = solver
    costs = Costs(solver, model.nfe_per_eval)
    budget = int(budget)
    reserved = costs.full(final_steps) if final_steps else 0
    if final_steps and budget - reserved < costs.full(steps):
        raise ValueError(f"budget of {budget} NFEs does not cover a final render of {final_steps} steps "
                         f"({reserved} NFEs) plus one candidate ({costs.full(steps)} NFEs)")
    search = make_algorithm(algorithm, budget - reserved, costs, steps, seed, **options)
    config = {"model": model_name, "condition": condition, "verifiers": [v.name for v in loaded],
              "evaluators": [v.name for v in held_out], "algorithm": algorithm, "options": dict(options),
              "budget": budget, "steps": steps, "seed": seed, "batch_size": batch_size, "solver": solver,
              "final_steps": final_steps, "nfe_per_eval": model.nfe_per_eval, "device": device,
              "model_options": dict(model_options or {})}
    writer = RunWriter(out, config) if out else None
    return engine.Plan(model, model_name, loaded, search, algorithm, condition, budget, steps, costs,
                       batch_size, held_out, final_steps, writer, config)


def stream(**kwargs) -> Iterator[Any]:
    """The search's events as they happen (see tsearch.events); close the iterator to stop."""
    return engine.run(prepare(**kwargs))


@dataclass
class SearchResult:
    best_image: Any                  # PIL.Image
    best_score: float | None
    best_id: int | None
    history: list[dict] = field(default_factory=list)   # one row per candidate
    summary: Summary | None = None
    run_dir: str | None = None


def search(**kwargs) -> SearchResult:
    """Run a search to the end and return its result (arguments as `prepare`)."""
    history = []
    done = None
    for event in stream(**kwargs):
        if isinstance(event, CandidateScored):
            history.append({"id": event.id, "parent": event.parent, "round": event.round, "score": event.score,
                            "scores": event.scores, "evals": event.evals, "nfe": event.nfe,
                            "nfe_spent": event.nfe_spent, "t_end": event.t_end, "recipe": event.recipe})
        elif isinstance(event, SearchDone):
            done = event
    s = done.summary
    return SearchResult(done.best_image, s.best_score, s.best_id, history, s, s.run_dir)
