"""`python -m tsearch arena plan`: the compute planner (which model, steps and candidates pay best).

It sweeps model (teacher, distilled student, small), steps per candidate, number of candidates, the verifier
and draft-then-commit on the shapes world's benchmark split, and reports the frontier of accuracy against
seconds (verifiers included), FLOPs and NFEs, with paired intervals, and the best setting per budget.
Random search's pooled cells hold every setting (`plan_grid`); seconds come from one interleaved timing of
every (model, steps) and verifier in one process (`plan_seconds`), so a machine whose load drifts over
the hours the cells take does not tilt the seconds axis. Rerun the same command to resume; `--backend ray`
runs the cells on a cluster. Writes DIR/plan.json, DIR/plan.md and DIR/seconds.json.
Exit status: 0 done, 1 some cells failed, 2 bad input, 130 interrupted (run it again to resume).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tsearch import jsonio
from tsearch.arena import plan_grid

# the budget the page's default is chosen for: seconds of search a visitor waits for on a 2-core CPU, timed as
# `plan_seconds` times them (engine and verifiers; the page's drawing aside). The grid's top reaches it for
# every model (16 teacher candidates of 10 steps take about 2.3 s there).
DEFAULT_SECONDS = 2.0


def parse(argv) -> argparse.Namespace:
    from tsearch.config import MAX_SEED
    from tsearch.models import MODELS
    from tsearch.sweep.cli import MAX_REPS, Parser, add_backend_flags, whole
    from tsearch.verifiers import VERIFIERS

    p = Parser(prog="tsearch arena plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=["hard", "easy"], default="hard", help="the shapes world's benchmark split")
    p.add_argument("--captions", type=whole(1, 10**4), default=48, help="captions of the split (default 48)")
    p.add_argument("--seeds", type=whole(1, 100), default=2, help="search seeds per caption (default 2)")
    p.add_argument("--draw-seed", type=whole(0, MAX_SEED - 1), default=0, help="draws the split's captions")
    p.add_argument("--models", nargs="+", choices=[m for m in MODELS if m.startswith("shapes")], metavar="MODEL",
                   default=list(plan_grid.MODELS), help="the shapes world's models (its oracle judges them); the "
                   "first is the reference of the equal-FLOPs top (default shapes shapes-distilled shapes-small)")
    p.add_argument("--steps", type=whole(1, 1000), nargs="+", default=list(plan_grid.STEPS),
                   help="steps per candidate (default 4 6 10 20)")
    p.add_argument("--verifiers", nargs="+", choices=sorted(VERIFIERS), default=list(plan_grid.VERIFIERS),
                   metavar="VERIFIER",
                   help="verifiers each candidate is scored by (default shapes-clip shapes-parts)")
    p.add_argument("--top", type=whole(1, 10**4), default=8,
                   help="the grid's FLOPs: this many candidates of the first model at --reference-steps (default 8)")
    p.add_argument("--reference-steps", type=whole(1, 1000), default=10, help="(default 10)")
    p.add_argument("--most", type=whole(1, 10**4), default=plan_grid.MOST, help=f"candidates of a cell at most ({plan_grid.MOST})")
    p.add_argument("--commit", type=whole(1, 100), default=2, help="draft-then-commit: drafts committed (default 2)")
    p.add_argument("--default-seconds", type=_seconds, default=DEFAULT_SECONDS,
                   help=f"the budget the default is chosen for, in timed seconds (default {DEFAULT_SECONDS})")
    p.add_argument("--batch-size", type=whole(1, 4096), default=16, help="candidates per batch (default 16)")
    p.add_argument("--device", default="cpu")
    add_backend_flags(p)
    p.add_argument("--reps", type=whole(10, MAX_REPS), default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--out", default=None, help="the plan folder (default out/plan-SPLIT); rerun to resume")
    p.add_argument("--no-run", action="store_true", help="run no cells: the report of the cells already done")
    p.add_argument("--time-reps", type=whole(1, 100), default=3, help="rounds of the seconds' timing (default 3)")
    p.add_argument("--retime", action="store_true", help="time the settings again (DIR/seconds.json)")
    args = p.parse_args(argv)
    args.out = Path(args.out or f"out/plan-{args.split}")
    args.models = list(dict.fromkeys(args.models))
    args.steps = sorted(set(args.steps))
    args.verifiers = list(dict.fromkeys(args.verifiers))
    if args.reference_steps not in args.steps:
        p.error(f"--reference-steps {args.reference_steps}: give one of --steps ({', '.join(map(str, args.steps))})")
    return args


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 10**6:
        raise argparse.ArgumentTypeError(f"give seconds above 0, e.g. 2.0; got {text!r}")
    return value


def prepare(args) -> tuple[list, object]:
    """(the grid's settings, its sweep), after writing DIR/prompts.jsonl and DIR/grid.json."""
    from tsearch.worlds.shapes import grammar

    rows = grammar.split_captions(args.split, args.captions, args.draw_seed)
    (args.out / "prompts.jsonl").write_text("".join(jsonio.dumps(r) + "\n" for r in rows), encoding="utf-8")
    grid = plan_grid.settings(args.models, args.steps, args.top, args.reference_steps, args.most, args.device)
    spec = {"evaluators": ["shapes-oracle"], "batch_size": args.batch_size, "device": args.device,
            "prompts_file": "prompts.jsonl"}
    sweep = plan_grid.sweep_of(grid, list(range(args.seeds)), args.verifiers, spec, args.out)
    (args.out / "grid.json").write_text(jsonio.dumps({"settings": [vars(s) for s in grid], "top": args.top,
                                                      "reference_steps": args.reference_steps, "most": args.most,
                                                      "verifiers": args.verifiers}, indent=1), encoding="utf-8")
    return grid, sweep


def run_cells(args, sweep):
    """Run the cells no finished row covers; the sweep's Outcome."""
    from tsearch.sweep import run_sweep
    from tsearch.sweep.cli import backend_options
    from tsearch.sweep.driver import Outcome
    from tsearch.sweep.results import finished
    from tsearch.sweep.spec import Sweep

    options = backend_options(args, runs=not args.no_run)
    todo = plan_grid.to_run(sweep, finished(args.out).values())
    if args.no_run or not todo:
        return Outcome(len(sweep.cells), len(sweep.cells) - len(todo), 0, 0, str(args.out))
    outcome = run_sweep(Sweep("plan", todo, ""), args.out, args.backend, **options)
    outcome.skipped += len(sweep.cells) - len(todo)
    return outcome


def main(argv=None) -> int:
    from tsearch.sweep.cli import guarded, print_failures

    args = parse(argv)

    def work() -> int:
        from tsearch.arena.cli import check
        from tsearch.arena.plan_report import report

        check(args)   # --device and --out, as the arena checks them
        started = time.perf_counter()
        grid, sweep = prepare(args)
        outcome = run_cells(args, sweep)
        report(args, grid, sweep, outcome, time.perf_counter() - started)
        if outcome.failed:
            print_failures(outcome, args.out)
            return 1
        return 0

    return guarded(work, args.out)
