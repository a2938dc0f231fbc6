"""How long a comparison takes here, shown before Compare is pressed: the sum of its runs' estimates.

Every run of a comparison spends the same budget on the same model, so each is the page's own estimate
(`timing.estimate`, which calibrates the model once; `tsearch.app.estimate.Estimator`'s seconds per NFE).
The `steps` baseline denoises one sample at a time and has its own, dearer, rate per NFE.
"""

from __future__ import annotations

from tsearch.app import one_path, timing
from tsearch.config import DEFAULT_BATCH


def _about(seconds: float) -> str:
    return "under a second" if seconds < 1 else f"about {seconds:.0f} s"


def _entries(mode: str, algorithms, compare_verifiers, algorithm: str) -> list[tuple[str, str]]:
    """(label, algorithm) of each run the comparison would make, as `compare._compare_entries` makes them."""
    if mode == "verifiers":
        return [(name, algorithm) for name in dict.fromkeys(compare_verifiers or []) if isinstance(name, str)]
    return [(name, name) for name in dict.fromkeys(algorithms or []) if isinstance(name, str)]


def total(model: str, budget, mode: str = "algorithms", algorithms: list[str] | None = None,
          compare_verifiers: list[str] | None = None, algorithm: str = "random", prompt: str | None = None,
          cls: int | None = None, batch_size: int = DEFAULT_BATCH) -> str:
    """'2 runs of 800 NFEs take about 14 s here (random about 7 s, zero-order about 7 s)', or why not yet."""
    entries = _entries(mode, algorithms, compare_verifiers, algorithm)
    if len(entries) < 2:
        return f"Choose at least two {mode if mode in ('algorithms', 'verifiers') else 'algorithms'} to compare."
    try:
        budget = int(budget)
    except (TypeError, ValueError):
        return f"budget must be a whole number of NFEs, got {budget!r}"
    single = timing.estimate(model, budget, prompt, cls, batch_size)   # calibrates the model the first time
    search, steps = one_path.ESTIMATOR.per_nfe(model), one_path.ESTIMATOR.per_nfe(model, baseline=True)
    if search is None:
        return single
    parts, whole = [], 0.0
    for label, name in entries:
        per = steps if name == "steps" and steps is not None else search
        parts.append(f"{label} {_about(per * budget)}")
        whole += per * budget
    return (f"Time estimate: {len(entries)} runs of {budget} NFEs take {_about(whole)} here in all "
            f"({', '.join(parts)}); a slower verifier adds to it.")
