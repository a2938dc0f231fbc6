"""The compute planner's grid: one pooled random-search cell per (model, steps) and unit, at equal FLOPs.

Random search's candidates never depend on the scores, so one search per (model, steps, caption, seed) at
the grid's top budget, scored by every verifier of the grid, holds every smaller search of that setting
(its first k candidates are a k-candidate search, `ladder_pools.Pool.within`), every verifier's pick, and
draft-then-commit between two step counts of one model: random search's i-th noise is the same at any step
count (`RandomSearch` draws its seeds from the search seed alone), so a draft at 4 steps and its commit at
10 are the i-th candidates of the two pools (`plan_read`).

The top is one amount of FLOPs for every setting: `top` candidates of the reference setting (the grid's
first model at `reference_steps`), so a cheap setting draws more candidates than an expensive one, up to
`most` (a cap, so the cheapest settings do not dominate the run). The cells are sweep cells (resumable: the
same command skips finished cells; on Ray unchanged), ordered unit by unit so a partial grid stays paired.
A unit already held by a finished pooled cell with a budget at least the top and every verifier (an arena
ladder's, copied into the folder) is not run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsearch import jsonio

MODELS = ("shapes", "shapes-distilled", "shapes-small")   # the teacher, the distilled student, the small model
STEPS = (4, 6, 10, 20)
VERIFIERS = ("shapes-clip", "shapes-parts")
MOST = 32          # candidates of one pooled cell at most
SLACK = 1.02       # a setting whose candidates cost within 2% of the reference's fills the top as the reference


@dataclass(frozen=True)
class Setting:
    """One pooled cell's setting: a model at a step count, with its costs."""
    model: str
    steps: int
    nfe: int             # NFEs of one candidate
    flops: int           # FLOPs of one candidate's denoising (NFEs x FLOPs per NFE)
    candidates: int      # the pooled cell's candidates (its budget is candidates x nfe)
    solver: str = "euler"

    @property
    def name(self) -> str:
        return f"{self.model}@{self.steps}"


def settings(models, steps, top: int, reference_steps: int, most: int, device: str = "cpu") -> list[Setting]:
    """Every (model, steps) with its candidate count at the grid's equal FLOPs (see the module's text)."""
    from tsearch.api import Loader
    from tsearch.search import Costs

    loader, costs = Loader(), {}
    for name in models:
        model = loader.load_model(name, device, {})
        cond = model.encode("a circle")
        costs[name] = (Costs(model.default_solver, model.nfe_per_eval), model.flops_per_nfe(cond), model.default_solver)
    ref_costs, ref_flops, _ = costs[models[0]]
    budget_flops = top * ref_costs.full(reference_steps) * ref_flops
    out = []
    for name in models:
        cost, per_nfe, _ = costs[name]
        for k in steps:
            nfe = cost.full(k)
            flops = nfe * per_nfe
            fits = int(budget_flops * SLACK // max(flops, 1))
            out.append(Setting(name, k, nfe, flops, max(1, min(most, fits)), costs[name][2]))
    return out


def sweep_of(grid: list[Setting], seeds: list[int], verifiers: list[str], spec: dict, out):
    """The sweep of the grid's pooled cells (all of them, finished or not), unit by unit; `spec` holds the
    sweep's condition keys (prompts_file or prompts) and its shared settings."""
    from tsearch.sweep import parse_spec
    from tsearch.sweep.spec import Sweep

    cells = []
    for s in grid:
        data = {**spec, "name": "plan", "model": s.model, "seeds": seeds,
                "verifiers": list(verifiers), "steps": s.steps, "solver": s.solver, "budgets": [s.candidates * s.nfe],
                "algorithm": [{"name": "random"}]}
        cells += parse_spec(data, base=out).cells
    order = {key: i for i, key in enumerate(dict.fromkeys((c.config.condition, c.config.seed) for c in cells))}
    cells.sort(key=lambda c: order[(c.config.condition, c.config.seed)])
    return Sweep("plan", cells, "the compute planner's pooled cells")


def unit_key(config: dict) -> str:
    """What a pooled cell shares with any other that holds the same candidates: all but verifiers and budget."""
    return jsonio.dumps({k: v for k, v in config.items() if k not in ("verifiers", "budget")}, sort_keys=True)


def to_run(sweep, rows) -> list:
    """The cells of `sweep` that finished rows do not cover: rows of the same unit key, each with a budget at
    least the cell's, that between them recorded every verifier of the cell (`ladder_pools.join` reads them)."""
    rows, todo, by_budget = list(rows), [], {}
    for cell in sweep.cells:
        c = cell.config.to_dict()
        if c["budget"] not in by_budget:
            by_budget[c["budget"]] = covered(rows, c["budget"])
        if not set(c["verifiers"]) <= by_budget[c["budget"]].get(unit_key(c), set()):
            todo.append(cell)
    return todo


def covered(rows, budget: int) -> dict:
    """unit key -> the verifiers that finished random-search rows of that unit, at `budget` or more, recorded."""
    have: dict = {}
    for row in rows:
        c = row.get("config") or {}
        if c.get("algorithm") == "random" and not row.get("error") and row.get("summary") \
                and not (row.get("metadata") or {}).get("label") and c.get("budget", 0) >= budget:
            have.setdefault(unit_key(c), set()).update(c.get("verifiers") or [])
    return have
