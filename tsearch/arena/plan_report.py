"""The planner's report: DIR/plan.json and DIR/plan.md (printed too), from the pools and the timed seconds."""

from __future__ import annotations

from tsearch import jsonio
from tsearch.arena import plan_frontier, plan_read, plan_seconds

AXIS_NAMES = {"seconds": "seconds", "flops": "GFLOPs", "nfe": "NFEs"}


def rows_of(args, grid) -> tuple[list, list[dict], dict]:
    """(units, one row per choice: {"choice", "values", "accuracy", "cost"}, the timed seconds)."""
    from tsearch.sweep.headline import ACCURACY

    units, pools = plan_read.pools(args.out, grid, ACCURACY["shapes-oracle"])
    if not units:
        raise ValueError(f"{args.out}: no unit (caption x seed) has every setting's pooled cell yet; run the command "
                         f"without --no-run first")
    seconds = plan_seconds.load_or_measure(args.out / "seconds.json", grid, args.verifiers, args.device,
                                           args.retime, args.threads, args.time_reps)
    flops = verifier_flops(args.verifiers, grid[0].model, args.device)
    by_name = {s.name: s for s in grid}
    rows = []
    for choice in plan_read.choices(grid, args.verifiers, args.commit):
        values = plan_read.verdicts(choice, by_name, pools, ACCURACY["shapes-oracle"])
        rows.append({"choice": choice, "values": values, "accuracy": plan_frontier.accuracy(values),
                     "cost": plan_read.costs(choice, by_name, seconds, flops)})
    return units, rows, seconds


def verifier_flops(names: list[str], model_name: str, device: str) -> dict:
    """FLOPs of one call of each verifier on one image of the model (None where it cannot be counted)."""
    from tsearch import flops
    from tsearch.api import Loader

    loader = Loader()
    model = loader.load_model(model_name, device, {})
    return {name: flops.per_call(loader.load_verifier(name, model, device), model, "a circle") for name in names}


def build(args, grid, units, rows, seconds) -> dict:
    """plan.json's content: the frontier on every axis, the best choice per budget, the paper's question."""
    reference = next(r for r in rows if r["choice"] == plan_read.Choice(args.models[0], args.reference_steps, 1, None))
    small = "shapes-small" if "shapes-small" in args.models else args.models[-1]
    default = plan_frontier.best_within(rows, "seconds", args.default_seconds)
    return {"units": len(units), "captions": args.captions, "seeds": args.seeds, "split": args.split,
            "settings": [vars(s) for s in grid], "verifiers": args.verifiers, "seconds_timed": seconds,
            "reference": plan_frontier._brief(reference),
            "frontier": {axis: [plan_frontier._brief(r) for r in plan_frontier.frontier(rows, axis)]
                         for axis in plan_frontier.AXES},
            "by_budget": {axis: plan_frontier.by_budget(rows, reference, args.models, axis, args.reps)
                          for axis in plan_frontier.AXES},
            "small_vs_large": {"small": small, **plan_frontier.small_vs_large(rows, reference, small, args.verifiers,
                                                                                args.reps)},
            "default_seconds": args.default_seconds,
            "default": None if default is None else {**plan_frontier._brief(default),
                                                     **plan_frontier.versus(default, reference, args.reps)},
            "choices": [{**plan_frontier._brief(r)} for r in rows]}


def report(args, grid, sweep, outcome, wall: float) -> dict:
    units, rows, seconds = rows_of(args, grid)
    plan = build(args, grid, units, rows, seconds)
    plan.update(cells=len(sweep.cells), ran=outcome.ran, failed=outcome.failed, wall_seconds=wall)
    text = render(plan)
    (args.out / "plan.json").write_text(jsonio.dumps(plan, indent=1), encoding="utf-8")
    (args.out / "plan.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\n{outcome.ran} cells ran, {outcome.skipped} were already done or held, {outcome.failed} failed, in "
          f"{wall:.0f} s; wrote {args.out / 'plan.md'} and plan.json; the same command resumes.")
    return plan


def _cost(value, axis: str) -> str:
    if value is None:
        return "-"
    return f"{value / 1e9:.1f}" if axis == "flops" else f"{value:.2f}" if axis == "seconds" else f"{value:.0f}"


def _acc(brief) -> str:
    return "-" if brief is None else f"{brief['accuracy']:.1f}%"


def render(plan: dict) -> str:
    ref = plan["reference"]
    lines = [f"# Compute plan: {plan['split']} split, {plan['units']} units ({plan['captions']} captions x "
             f"{plan['seeds']} seeds)", "",
             f"Seconds timed on {plan['seconds_timed']['device']}. Budgets are the cost of k candidates of the "
             f"reference, {ref['choice']['name']} ({_acc(ref)}). Each model's best within the budget, its paired "
             f"difference against the reference model's best [95% interval].", ""]
    for axis in plan_frontier.AXES:
        lines += [f"## Best choice per budget in {AXIS_NAMES[axis]}", "",
                  "| budget (k ref.) | best choice | accuracy | " + " | ".join(plan["by_budget"][axis][0]["models"])
                  + " |", "|---|---|---|" + "---|" * len(plan["by_budget"][axis][0]["models"])]
        for row in plan["by_budget"][axis]:
            cells = [_model_cell(m) for m in row["models"].values()]
            best = row["best"]
            lines.append(f"| {_cost(row['budget'], axis)} ({row['multiple']}) | {best['choice']['name'] if best else '-'}"
                         f" | {_acc(best)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _frontier_lines(plan) + _question_lines(plan)
    return "\n".join(lines)


def _model_cell(m) -> str:
    if m is None:
        return "-"
    vs = m.get("vs_reference_model")
    tail = "" if vs is None else f" ({vs['difference']:+.1f} [{vs['low']:+.1f}, {vs['high']:+.1f}])"
    return f"{m['accuracy']:.1f}%{tail}"


def _frontier_lines(plan) -> list[str]:
    lines = ["## The frontier in seconds", "", "| seconds | GFLOPs | NFEs | accuracy | choice |", "|---|---|---|---|---|"]
    for b in plan["frontier"]["seconds"]:
        c = b["cost"]
        lines.append(f"| {_cost(c['seconds'], 'seconds')} | {_cost(c['flops'], 'flops')} | {c['nfe']} | "
                     f"{b['accuracy']:.1f}% | {b['choice']['name']} |")
    return lines + [""]


def _question_lines(plan) -> list[str]:
    q, ref = plan["small_vs_large"], plan["reference"]
    lines = [f"## {q['small']} with search against {ref['choice']['name']}", ""]
    for verifier in [k for k in q if k != "small"]:
        for axis in ("flops", "seconds"):
            r = q[verifier][axis]
            lines.append(f"- equal {AXIS_NAMES[axis]}, {'any verifier' if verifier == 'any' else verifier}: " + (
                "no choice fits" if r is None else
                f"{r['choice']['name']}: {r['accuracy']:.1f}% against {ref['accuracy']:.1f}%, "
                f"{r['difference']:+.1f} points [{r['low']:+.1f}, {r['high']:+.1f}] ({r['verdict']}; "
                f"{r['wins']} wins, {r['losses']} losses)"))
    d = plan["default"]
    if d:
        lines += ["", f"**The default** (the best within {plan['default_seconds']} s): {d['choice']['name']}, "
                  f"{d['accuracy']:.1f}% in {d['cost']['seconds']:.2f} s, {d['difference']:+.1f} points "
                  f"[{d['low']:+.1f}, {d['high']:+.1f}] against the reference."]
    return lines
