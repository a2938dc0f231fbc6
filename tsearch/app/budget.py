"""The budget in words, where it is set: what one candidate costs in NFEs, how many the budget buys, and the least
budget each algorithm accepts, all read from the model and the algorithms themselves (never a hand table).

    10 steps × 2 passes for guidance = 20 NFEs per candidate → 800 NFEs = 40 candidates

An algorithm's least budget is found by building it (its own constructor refuses a budget too small, with the
reason), so a new algorithm's floor is shown untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsearch.sampling import solver_nfes
from tsearch.search import Costs, fit_budget

MOST_TRIED = 10**9   # the search for an algorithm's least budget gives up here (SearchConfig's MAX_BUDGET)


@dataclass(frozen=True)
class Facts:
    """What the budget's arithmetic needs of a model: passes per step and its solver."""
    nfe_per_eval: int     # 2 when classifier-free guidance runs two passes, else 1
    solver: str           # the model's default solver
    default_steps: int

    @property
    def costs(self) -> Costs:
        return Costs(self.solver, self.nfe_per_eval)

    def candidate(self, steps: int) -> int:
        """NFEs of one candidate denoised from noise to data in `steps` steps."""
        return self.costs.full(steps)


def facts_of(model) -> Facts:
    """The Facts of a loaded tsearch Model."""
    return Facts(int(model.nfe_per_eval), str(model.default_solver), int(model.default_steps))


def least_budget(algorithm: str, facts: Facts, steps: int, options: dict | None = None) -> int | None:
    """The smallest budget (NFEs) the algorithm accepts at these steps and options; None when no budget up to
    MOST_TRIED does, or the options themselves are refused (the form says why when Run is pressed)."""
    def accepts(budget: int) -> bool:
        try:
            fit_budget(algorithm, budget, facts.costs, steps, 0, **(options or {}))   # the one budget check
        except (ValueError, TypeError):
            return False
        return True

    high = max(1, facts.candidate(steps))
    while not accepts(high):
        if high >= MOST_TRIED:
            return None
        high = min(high * 2, MOST_TRIED)
    low = high // 2   # refused (or 0): the least accepted budget is in (low, high]
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if accepts(middle) else (middle, high)
    return high


def _number(n: int) -> str:
    return f"{n:,}"


def cost_text(facts: Facts, steps: int, budget) -> str:
    """'10 steps × 2 passes for guidance = 20 NFEs per candidate → 800 NFEs = 40 candidates'."""
    calls = solver_nfes(facts.solver, steps, True)
    step_text = f"{steps} step{'s' if steps != 1 else ''}"
    if calls != steps:
        step_text += f" ({calls} denoiser calls with the {facts.solver} solver)"
    passes = " × 2 passes for guidance" if facts.nfe_per_eval == 2 else \
        (f" × {facts.nfe_per_eval} passes" if facts.nfe_per_eval != 1 else " × 1 pass (no guidance)")
    per = facts.candidate(steps)
    text = f"{step_text}{passes} = **{_number(per)} NFEs per candidate**"
    if isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget >= per:
        text += f" → {_number(int(budget))} NFEs = {_number(int(budget) // per)} full candidates"
    return text


def least_text(algorithm: str, least: int | None, steps: int) -> str:
    if least is None:
        return f"{algorithm} cannot run at {steps} steps with these options."
    return f"{algorithm} needs at least **{_number(least)} NFEs** at {steps} steps with these options."


def budget_problem(budget, least: int | None, per_candidate: int, most: int) -> str:
    """What is wrong with the budget as typed ('' when nothing): the limits Run checks, said before Run."""
    if not isinstance(budget, (int, float)) or isinstance(budget, bool):
        return "Budget: type a whole number of NFEs."
    if budget != int(budget):
        return f"Budget: {budget} is not a whole number of NFEs."
    if budget < per_candidate:
        return f"Budget: {_number(int(budget))} NFEs is below one candidate's cost, {_number(per_candidate)}."
    if least is not None and budget < least:
        return f"Budget: {_number(int(budget))} NFEs is below the least this search takes, {_number(least)}."
    if budget > most:
        return f"Budget: {_number(int(budget))} NFEs is above the most a Run spends here, {_number(most)}."
    return ""
