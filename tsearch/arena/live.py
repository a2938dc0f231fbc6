"""A small arena as a library call (the app's Arena tab): checked values in, a leaderboard out, no parser.

The command (`tsearch.arena.cli`) parses a command line, which answers a bad value with `SystemExit`; a
front door that takes a visitor's values must never call it (issue 25). Here the values are checked first
(`check`: each named, each bounded, in O(1)), the spec is the command's own (the same methods, options,
world and split), and the cells run one after another in this process on a loader the caller lends (the
app's shared model), so `run` can stop between two cells and still give the leaderboard of the units done:

    arena = check("hard", 3, ["tree", "smc"], 4)
    for step in run(arena, folder, loader, should_stop=lambda: False):
        ...   # Progress(done, total) after each cell, then one Result
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tsearch import jsonio

MODEL = "shapes"                # the arena's world
SPLITS = ("hard", "easy")
MAX_CAPTIONS = 12               # the live arena's size: captions x budgets of 1, 2 and 4 candidates
MAX_STEPS = 10
CANDIDATES = (1, 2, 4)
REPS = 200                      # bootstrap resamples (the command's default is 2000; a toy arena needs fewer)
REFERENCE = "random"            # always run: every method is paired against it


@dataclass(frozen=True)
class LiveArena:
    split: str
    captions: int
    methods: tuple[str, ...]    # the reference first
    steps: int


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True)
class Result:
    markdown: str
    png: Path | None
    cells: int
    ran: int
    failed: int
    stopped: bool
    notes: tuple[str, ...] = ()


def registered() -> list[str]:
    """Every method the arena knows: the registered algorithms and the arena's labelled variants."""
    from tsearch.arena.variants import VARIANTS
    from tsearch.search import ALGORITHMS

    return [*ALGORITHMS, *VARIANTS]


@functools.lru_cache(maxsize=1)
def offered() -> tuple[str, ...]:
    """The registered methods a live arena can run: those whose search fits its largest budget (4 candidates) at
    some steps it allows. The budgets are counted in candidates, so a model's NFEs per pass cancel out."""
    from tsearch.arena.cli import _fits
    from tsearch.models.shapes import ShapesModel
    from tsearch.search import Costs

    costs = Costs(ShapesModel.default_solver, 1)
    top = max(CANDIDATES)
    return tuple(m for m in registered()
                 if any(_fits(m, top * costs.full(steps), costs, steps) for steps in range(1, MAX_STEPS + 1)))


def whole(name: str, value, low: int, high: int) -> int:
    """`value` as a whole number in [low, high]; ValueError naming `name` otherwise. O(1): no loop over it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: a whole number from {low} to {high}, got {_shown(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{name}: a whole number from {low} to {high}, got {_shown(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name}: from {low} to {high} in a live arena, got {_shown(value)}")
    return int(value)


def check(split, captions, methods, steps) -> LiveArena:
    """The live arena of these values; ValueError naming the first that does not fit."""
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split: choose one of {', '.join(SPLITS)}, got {_shown(split)}")
    captions = whole("captions", captions, 1, MAX_CAPTIONS)
    steps = whole("steps", steps, 1, MAX_STEPS)
    choices = offered()
    if methods is None or (isinstance(methods, (list, tuple)) and not methods):
        raise ValueError(f"methods: choose at least one of {', '.join(choices)} ({REFERENCE} is always added as the "
                         f"reference)")
    if not isinstance(methods, (list, tuple)) or len(methods) > 4 * len(choices):
        raise ValueError(f"methods: a list of method names from {', '.join(choices)}, got {_shown(methods)}")
    for method in methods:
        if not isinstance(method, str) or method not in choices:
            raise ValueError(f"methods: {_shown(method)} is not one a live arena runs; choose from "
                             f"{', '.join(choices)}")
    return LiveArena(split, captions, tuple(dict.fromkeys([REFERENCE, *methods])), steps)


def plan(arena: LiveArena, costs, device: str, out: Path | None = None) -> tuple[dict, dict, list[str]]:
    """(spec, {method: anytime}, notes), as the command plans them: each method at the budgets it can afford,
    an anytime one once at the top. `out`: where the split's captions are written (prompts.jsonl)."""
    from tsearch.arena.cli import WORLDS, method_tables

    budgets = sorted({k * costs.full(arena.steps) for k in CANDIDATES})
    tables, anytime, notes = method_tables(list(arena.methods), budgets, costs, arena.steps)
    world = WORLDS[MODEL]
    spec = {"name": f"arena-{arena.split}", "model": MODEL, "verifiers": world["verifiers"],
            "evaluators": world["evaluators"], "steps": arena.steps, "solver": costs.solver, "budgets": budgets,
            "batch_size": 16, "device": device, "seeds": [0], "algorithm": tables, "prompts_file": "prompts.jsonl"}
    if out is not None:
        from tsearch.worlds.shapes import grammar

        rows = grammar.split_captions(arena.split, arena.captions, 0)
        (Path(out) / "prompts.jsonl").write_text("".join(jsonio.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return spec, anytime, notes


def cell_budgets(arena: LiveArena, costs) -> list[int]:
    """The budget of every search the arena runs (one per caption, method and budget it runs at)."""
    spec, _, _ = plan(arena, costs, "cpu")
    return [budget for table in spec["algorithm"] for budget in table["budgets"]] * arena.captions


def run(arena: LiveArena, out: Path, loader, should_stop: Callable[[], bool] = lambda: False,
        device: str = "cpu") -> Iterator[Progress | Result]:
    """Run the arena into `out` with `loader`'s model and verifiers: a Progress after each cell, then the
    Result (the leaderboard of the units every method has done; all of them unless `should_stop` ended it)."""
    from tsearch.arena.cli import by_unit
    from tsearch.search import Costs
    from tsearch.sweep import parse_spec
    from tsearch.sweep.fingerprint import code_fingerprint
    from tsearch.sweep.local import run_cell
    from tsearch.sweep.results import Results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = loader.load_model(MODEL, device, {})
    costs = Costs(model.default_solver, model.nfe_per_eval)
    spec, anytime, notes = plan(arena, costs, device, out)
    (out / "spec.json").write_text(jsonio.dumps(spec, indent=1), encoding="utf-8")
    cells = by_unit(parse_spec(spec, base=out, default_name=spec["name"]).cells)   # a Stop leaves whole units
    ran = failed = 0
    stopped = False
    with Results(out) as results:
        for cell in cells:
            if should_stop():
                stopped = True
                break
            row = run_cell(cell, results.root, loader)
            results.append({**row, "code": code_fingerprint()})
            ran, failed = ran + 1, failed + bool(row.get("error"))
            yield Progress(ran, len(cells))
    yield _result(out, spec, anytime, notes, cells, ran, failed, stopped, device)


def _result(out: Path, spec: dict, anytime: dict, notes: list[str], cells: list, ran: int, failed: int,
            stopped: bool, device: str) -> Result:
    """The leaderboard of what ran (Markdown, leaderboard.json/.md and arena.png in `out`)."""
    from tsearch.arena import curves, leaderboard
    from tsearch.sweep import device_note, headline
    from tsearch.sweep.results import finished

    keys = {cell.key for cell in cells}
    rows = [row for key, row in finished(out).items() if key in keys]
    outcomes = curves.outcomes(out, rows, spec["budgets"], anytime)
    board = leaderboard.build(outcomes, headline.name(spec["evaluators"]),
                              device_note.note(out, rows, devices=[device], where="this app's process"), reps=REPS)
    board.update(cells=len(cells), ran=ran, failed=failed, notes=notes, split=spec["name"].split("-", 1)[1],
                 anytime=sorted(m for m, a in anytime.items() if a), steps=spec["steps"], solver=spec["solver"],
                 units=len({o.unit for o in outcomes}))
    text, written = leaderboard.write(board, outcomes, out)
    png = next((p for p in written if p.suffix == ".png"), None)
    return Result(text, png, len(cells), ran, failed, stopped, tuple(notes))


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
