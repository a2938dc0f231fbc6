"""`python -m tsearch arena --split hard|easy [...]`: every registered method x budgets on a benchmark split.

Beside the registered algorithms it runs their labelled variants (`tsearch.arena.variants`: random-draft,
draft-then-commit over random search), named by their labels in the leaderboard.

A thin layer over sweeps: it writes DIR/prompts.jsonl and DIR/spec.json, runs the cells through
`tsearch.sweep.run_sweep` (local or Ray; rerun the same command to resume: finished cells are skipped),
then reads every cell back (`curves`), prints the leaderboard at equal NFEs and at equal seconds
(`leaderboard`), and writes DIR/leaderboard.json, leaderboard.md, arena.html and arena.png.
Anytime methods run once, at the top budget; the others once per budget they can afford.
Exit status: 0 done, 1 some cells failed (as `sweep`), 2 bad input, 130 interrupted (run it again to resume).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tsearch import jsonio

# options the benchmark pages' figures used for the paper's methods (as bench scaling); the rest run with defaults
OPTIONS = {"zero-order": {"n": 4, "lam": 0.9}, "paths": {"n": 2, "m": 4, "L": 5},
           "steps": {"label": "steps"}}
MAX_UNITS = 10**5     # captions x seeds: a paired comparison needs no more (each unit is every method's searches)
MAX_CELLS = 10**5     # searches in one arena (as in a sweep: tsearch.sweep.spec.MAX_CELLS)
# SearchConfig's flags the arena takes from the CLI's generator (tsearch.flags): all but those it spells its own way
# (--budgets/--candidates, --seeds, and the draft-then-commit of its labelled variants), each a key of its spec
OWN_SETTINGS = ("budget", "seed", "final_steps", "final_top")
DEFAULTS = {"steps": 10, "batch_size": 16}   # where the arena deliberately differs from the config's defaults
WORLDS = {"shapes": {"verifiers": ["shapes-clip"], "evaluators": ["shapes-oracle"]},
          "gmm": {"verifiers": ["gmm-density"], "evaluators": []}}


def parse(argv) -> argparse.Namespace:
    from tsearch.arena.ladder import LADDERS
    from tsearch.arena.variants import VARIANTS
    from tsearch.search import ALGORITHMS
    from tsearch.config import MAX_BUDGET, MAX_SEED, SETTINGS
    from tsearch.flags import add_config_flags
    from tsearch.sweep.cli import MAX_REPS, Parser, add_backend_flags, whole

    p = Parser(prog="tsearch arena", description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=["hard", "easy"], default="hard", help="the shapes world's benchmark split")
    p.add_argument("--model", choices=sorted(WORLDS), default="shapes", help="shapes (default); gmm for a toy run")
    p.add_argument("--captions", type=whole(1, MAX_UNITS), default=48, help="captions of the split (gmm: classes)")
    p.add_argument("--seeds", type=whole(1, MAX_UNITS, "units of caption x seed the arena takes"), default=1,
                   help="search seeds per caption (0..S-1)")
    p.add_argument("--candidates", type=whole(1, MAX_BUDGET, "a search's largest budget"), nargs="+",
                   default=[4, 8, 16, 32], help="budgets as full candidates' NFEs (default 4 8 16 32)")
    p.add_argument("--budgets", type=whole(1, MAX_BUDGET, "a search's largest budget"), nargs="+", default=None,
                   help="budgets in NFEs (instead of --candidates)")
    p.add_argument("--methods", nargs="+", default=["all"], choices=[*ALGORITHMS, *VARIANTS, "all"],
                   help="registered methods and labelled variants (random-draft: draft-then-commit); default all")
    p.add_argument("--draw-seed", type=whole(0, MAX_SEED - 1), default=0, help="draws the split's captions (default 0)")
    add_backend_flags(p)
    settings = config_flags()
    add_config_flags(p.add_argument_group("search settings (every search of the arena)"), settings,
                     {**{name: SETTINGS[name].default for name in settings}, **DEFAULTS})
    p.add_argument("--reps", type=whole(10, MAX_REPS, "more do not change the intervals"), default=2000,
                   help="bootstrap resamples (default 2000)")
    p.add_argument("--out", default=None, help="the arena folder (default out/arena-SPLIT); rerun to resume")
    p.add_argument("--verifiers", nargs="+", default=None, metavar="VERIFIER",
                   help="the verifier ladder: search with each (a+b: their mean-rank ensemble); shapes-oracle is the "
                        "labelled upper bound (tsearch.arena.ladder)")
    p.add_argument("--ladder", choices=sorted(LADDERS), default=None, help="a named verifier ladder (tsearch.arena.ladder)")
    p.add_argument("--no-run", action="store_true",
                   help="run nothing: the leaderboard of the cells already done (on the units every method has done)")
    args = p.parse_args(argv)
    args.methods = [*ALGORITHMS, *VARIANTS] if "all" in args.methods else list(dict.fromkeys(args.methods))
    args.out = Path(args.out or f"out/arena-{args.split}")
    if args.captions * args.seeds > MAX_UNITS:
        p.error(f"--captions {args.captions} x --seeds {args.seeds} is {args.captions * args.seeds} units (caption x "
                f"seed); the arena takes at most {MAX_UNITS}: lower --seeds or --captions")
    return args


def config_flags() -> tuple[str, ...]:
    from tsearch.flags import CONFIG_FLAGS

    return tuple(name for name in CONFIG_FLAGS if name not in OWN_SETTINGS)


def check(args) -> None:
    """The flags parse cannot check alone, before any work: ValueError naming the flag."""
    from tsearch.config_checks import _device
    from tsearch.sweep.cli import backend_options

    backend_options(args, runs=not args.no_run)
    try:
        _device(args.device, here=args.backend == "local")
    except ValueError as error:
        raise ValueError(f"--device: {error}") from None
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the arena (it is created if missing)")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {args.out}: cannot create the arena folder ({error.strerror or error})") from None


def plan(args) -> tuple[dict, dict, list[str]]:
    """(spec, {method: anytime}, notes): each method with the budgets it can afford, anytime ones at the top."""
    from tsearch.api import Loader
    from tsearch.config import MAX_BUDGET
    from tsearch.search import Costs

    model = Loader().load_model(args.model, args.device, {})
    solver = args.solver or model.default_solver
    costs = Costs(solver, model.nfe_per_eval)
    budgets = sorted(set(args.budgets or [k * costs.full(args.steps) for k in args.candidates]))
    if budgets[-1] > MAX_BUDGET:
        raise ValueError(f"--candidates {max(args.candidates)}: {max(args.candidates)} candidates of {args.steps} steps "
                         f"cost {budgets[-1]} NFEs, more than the {MAX_BUDGET} a search may spend; lower --candidates "
                         f"or --steps")
    if model.conditioning == "class" and model.classes and args.captions > len(model.classes):   # gmm: its classes
        raise ValueError(f"--captions {args.captions}: model {args.model} has {len(model.classes)} classes; give "
                         f"--captions 1..{len(model.classes)}")
    world = WORLDS[args.model]
    tables, anytime, notes = method_tables(args.methods, budgets, costs, args.steps)
    if not tables:
        raise ValueError(f"no method can run at these budgets: the largest, {budgets[-1]} NFEs, buys no search of "
                         f"{', '.join(args.methods)} at {args.steps} steps ({costs.full(args.steps)} NFEs a candidate); "
                         f"raise --candidates or --budgets, or lower --steps")
    cells = args.captions * args.seeds * sum(len(t["budgets"]) for t in tables)
    if cells > MAX_CELLS:
        raise ValueError(f"the arena would run {cells} searches (captions x seeds x each method's budgets); at most "
                         f"{MAX_CELLS} are taken: lower --seeds, --captions, --candidates or --methods")
    spec = {"name": f"arena-{args.split}", "model": args.model, "verifiers": world["verifiers"],
            "evaluators": world["evaluators"], **settings_of(args), "solver": solver, "budgets": budgets,
            "seeds": list(range(args.seeds)), "algorithm": tables}
    if args.model == "shapes":
        from tsearch.worlds.shapes import grammar

        rows = grammar.split_captions(args.split, args.captions, args.draw_seed)
        (args.out / "prompts.jsonl").write_text("".join(jsonio.dumps(r) + "\n" for r in rows), encoding="utf-8")
        spec["prompts_file"] = "prompts.jsonl"
    else:
        spec["classes"] = list(range(args.captions))
    return spec, anytime, notes


def method_tables(methods: list[str], budgets: list[int], costs, steps: int) -> tuple[list[dict], dict, list[str]]:
    """(the spec's algorithm tables, {method: anytime}, notes): each method at the budgets that buy one of its
    searches (an anytime one once, at the largest), the options the benchmark pages used; a note for each left out
    or cut. The command and the live arena plan alike."""
    from tsearch.arena import variants
    from tsearch.search import ALGORITHMS
    from tsearch.search.base import is_anytime

    tables, anytime, notes = [], {}, []
    for method in methods:
        fits = [budget for budget in budgets if _fits(method, budget, costs, steps)]
        if not fits:
            notes.append(f"{method}: no budget of {budgets} buys one of its searches at {steps} steps; left out")
            continue
        anytime[method] = method not in variants.VARIANTS and is_anytime(ALGORITHMS[method])
        skipped = sorted(set(budgets) - set(fits))
        if skipped:
            notes.append(f"{method}: below its smallest search at {skipped} NFEs")
        table = (variants.table(method, steps) if method in variants.VARIANTS
                 else {"name": method, **OPTIONS.get(method, {})})
        tables.append({**table, "budgets": [max(fits)] if anytime[method] else fits})
    return tables, anytime, notes


def settings_of(args) -> dict:
    """The search settings the flags give, as the spec's keys (each a SearchConfig field of that name)."""
    return {name: getattr(args, name) for name in config_flags() if getattr(args, name) is not None}


def _fits(method: str, budget: int, costs, steps: int) -> bool:
    """Whether `budget` buys one of the method's searches (a variant: its drafts and commits) at `steps`."""
    from tsearch.arena import variants
    from tsearch.search import fit_budget

    options = {k: v for k, v in OPTIONS.get(method, {}).items() if k != "label"}
    try:
        if method in variants.VARIANTS:
            v = variants.VARIANTS[method]
            fit_budget(v["algorithm"], budget, costs, variants.draft_steps(method, steps), 0, final_steps=steps,
                       final_top=v["top"])
        else:
            fit_budget(method, budget, costs, steps, 0, **options)
    except ValueError:
        return False
    return True


def device_note(args, rows: list[dict]) -> str:
    """Where the seconds were measured (`tsearch.sweep.device_note`): the device, its processor, the torch threads
    of the arena's runs and the backend."""
    from tsearch.sweep import device_note

    return device_note.note(args.out, rows, devices=[args.device], where=f"backend {args.backend}")


def _warm_up(args, spec: dict) -> None:
    """One throwaway one-candidate search in this process, so the first cell's seconds hold no warm-up."""
    from tsearch.api import search

    condition = "a circle" if args.model == "shapes" else 0
    search(model=args.model, condition=condition, verifiers=spec["verifiers"], algorithm="random",
                   budget=min(spec["budgets"]), steps=args.steps, solver=spec["solver"], device=args.device)


def by_unit(cells: list) -> list:
    """The cells unit by unit (caption, seed), every method in turn: a machine whose load drifts over hours shifts
    every method's seconds alike, and a partial arena holds every method on the units it has done."""
    order = {key: i for i, key in enumerate(dict.fromkeys((c.config.condition, c.config.seed) for c in cells))}
    return sorted(cells, key=lambda c: order[(c.config.condition, c.config.seed)])


def run_cells(args, spec: dict, sweep) -> tuple:
    """(the sweep's Outcome, wall seconds): its cells `by_unit` on the chosen backend (resumable), after a warm-up
    here for the local one; with --no-run (or no cell) nothing runs and every cell counts as done."""
    from tsearch.sweep import run_sweep
    from tsearch.sweep.cli import backend_options
    from tsearch.sweep.driver import Outcome
    from tsearch.sweep.spec import Sweep

    if args.no_run or not sweep.cells:
        return Outcome(len(sweep.cells), len(sweep.cells), 0, 0, str(args.out)), 0.0
    if args.backend == "local":
        _warm_up(args, spec)
    started = time.perf_counter()
    outcome = run_sweep(Sweep(sweep.name, by_unit(sweep.cells), sweep.description), args.out, args.backend,
                        **backend_options(args))
    return outcome, time.perf_counter() - started


def main(argv=None) -> int:
    from tsearch.sweep.cli import guarded

    args = parse(argv)

    def work() -> int:
        check(args)
        spec, anytime, notes = plan(args)
        if args.verifiers or args.ladder:   # methods x verifiers: the verifier ladder
            from tsearch.arena.ladder import run_ladder

            return run_ladder(args, spec, anytime, notes, run_cells, device_note)
        return run(args, spec, anytime, notes)

    return guarded(work, args.out)


def run(args, spec: dict, anytime: dict, notes: list[str]) -> int:
    from tsearch.arena import curves, leaderboard
    from tsearch.sweep import headline, parse_spec
    from tsearch.sweep.results import finished
    from tsearch.sweep.rows import readable

    (args.out / "spec.json").write_text(jsonio.dumps(spec, indent=1), encoding="utf-8")
    sweep = parse_spec(spec, base=args.out, default_name=spec["name"])
    outcome, wall = run_cells(args, spec, sweep)
    keys = {cell.key for cell in sweep.cells}
    rows, passed_over = readable([row for key, row in finished(args.out).items() if key in keys])
    notes = [*notes, *passed_over]   # rows the report cannot read either (a row without a budget, say)
    outcomes = curves.outcomes(args.out, rows, spec["budgets"], anytime)
    board = leaderboard.build(outcomes, headline.name(spec["evaluators"]), device_note(args, rows), reps=args.reps)
    board.update(cells=len(sweep.cells), ran=outcome.ran, failed=outcome.failed, seconds=wall, notes=notes,
                 anytime=sorted(m for m, a in anytime.items() if a), split=args.split, steps=args.steps,
                 solver=spec["solver"], units=len({o.unit for o in outcomes}))
    text, written = leaderboard.write(board, outcomes, args.out)
    print(text)
    for note in notes:
        print(f"note: {note}")
    ran = (f"ran nothing (--no-run): {len(rows)} of {len(sweep.cells)} cells were done" if args.no_run else
           f"{outcome.ran} cells ran, {outcome.skipped} were already done, {outcome.failed} failed, in {wall:.0f} s")
    print(f"\n{ran}; {board['units']} units (caption x seed) compared; "
          f"anytime (read off one run): {', '.join(board['anytime']) or 'none'}. Wrote "
          f"{', '.join(str(p) for p in written)}; the same command resumes.")
    if outcome.failed:   # as `sweep`: the leaderboard holds the cells that ran, the status says some did not
        from tsearch.sweep.cli import print_failures

        print_failures(outcome, args.out)
        return 1
    return 0
