"""`tsearch sweep SPEC.toml --out DIR` and `tsearch report DIR` (also `python -m tsearch.sweep.cli sweep|report`).

Both take an argv list and return an exit status: 0 done, 1 some cells failed (how many and why on
stderr, one line each for the first few), 2 bad input (one `error: ...` line on stderr; a spec with a
cell that cannot run is refused before any cell runs), 130 interrupted (every finished cell is kept;
run the same command again to resume).
`sweep` prints, as its last stdout line, one strict-JSON object: cells, skipped, ran, failed, out.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

RAY_MISSING = ("the ray backend needs Ray: pip install -r requirements-ray.txt (or pip install 'tsearch[ray]'), "
               "or use --backend local")


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one `error: ...` line on stderr and exit status 2."""

    def error(self, message: str):
        print_error(message)
        raise SystemExit(2)


def print_error(message) -> None:
    """One `error: ...` line on stderr (a multi-line message joined into one)."""
    text = " ".join(part.strip() for part in str(message).splitlines()).strip() or "(no message)"
    print(f"error: {text}", file=sys.stderr, flush=True)


def guarded(work, out) -> int:
    """work()'s exit status, with the two early ends every resumable command shares: a ValueError is one error
    line and status 2; Ctrl-C keeps the finished cells in `out`, says how to resume, and gives status 130."""
    try:
        return work()
    except ValueError as error:
        print_error(error)
        return 2
    except KeyboardInterrupt:
        print_error(f"interrupted; the finished cells are kept in {out}: run the same command to resume")
        return 130


MAX_REPS = 10**5          # bootstrap resamples: more move a 95% interval by less than its printed digits
MAX_THREADS = 4096        # torch threads per worker: more than any machine's hardware threads
MAX_WORKERS = 10**4       # Ray actors


def whole(minimum: int, maximum: int | None = None, why: str = ""):
    """An argparse type: a whole number in [minimum, maximum], checked before any work (argparse names the flag)."""
    bounds = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum}" + (f" ({why})" if why else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a whole number {bounds}, got {text[:40]!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"a whole number {bounds}, got {text[:40]!r}")
        return value
    return parse


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    """--backend --address --workers --threads --no-progress: how the cells run (`sweep` and `arena` alike)."""
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: in this process (default); ray: one actor per GPU or CPU slot")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local instance)")
    p.add_argument("--workers", type=whole(1, MAX_WORKERS), default=None,
                   help="Ray actors (default: one per GPU or CPU slot)")
    p.add_argument("--threads", type=whole(1, MAX_THREADS), default=None,
                   help="torch CPU threads per worker (default: torch's for local, 1 per Ray actor)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def backend_options(args, runs: bool = True) -> dict:
    """`run_sweep`'s options from the backend flags; ValueError naming the flag that does not fit (`runs`: cells
    will run here, so Ray must be installed for --backend ray)."""
    if args.backend == "local" and (args.address or args.workers):
        raise ValueError("--address and --workers are for --backend ray")
    options = {"threads": args.threads, "progress": not args.no_progress}
    if args.backend == "ray":
        if runs and importlib.util.find_spec("ray") is None:
            raise ValueError(RAY_MISSING)
        options.update(address=args.address, workers=args.workers)
    return options


def _sweep_parser() -> argparse.ArgumentParser:
    p = Parser(prog="tsearch sweep", description="Run every search of a sweep spec; rerun to resume.")
    p.add_argument("spec", help="the sweep's TOML file (see sweeps/)")
    p.add_argument("--out", required=True, help="the sweep folder: results.jsonl and runs/<key>/")
    add_backend_flags(p)
    p.add_argument("--retry-failed", action="store_true", help="run the cells that failed before again")
    p.add_argument("--keep-going", action="store_true",
                   help="record the cells that cannot run (e.g. a budget below one candidate) as failed and run "
                        "the rest (default: refuse the sweep before any cell runs)")
    p.add_argument("--dry-run", action="store_true", help="check the spec and list the cells; run nothing")
    return p


def main_sweep(argv=None) -> int:
    args = _sweep_parser().parse_args(argv)
    from tsearch.jsonio import dumps
    from tsearch.sweep.spec import load_spec

    try:
        options = backend_options(args, runs=not args.dry_run)
        sweep = load_spec(args.spec)
    except ValueError as error:
        print_error(error)
        return 2
    if args.dry_run:
        from tsearch.sweep.results import finished

        from tsearch.sweep.check import check_cells

        if not args.keep_going:
            try:
                check_cells(sweep.cells)
            except ValueError as error:
                print_error(error)
                return 2
        done = finished(args.out)
        for cell in sweep.cells:
            c = cell.config
            mark = "done" if cell.key in done else "todo"
            print(f"{cell.key}  {mark}  {c.model_name}  {c.algorithm} {c.to_dict()['options'] or ''}  "
                  f"condition={c.condition!r} seed={c.seed} budget={c.budget} steps={c.steps}")
        todo = sum(cell.key not in done for cell in sweep.cells)
        print(dumps({"cells": len(sweep.cells), "todo": todo, "nfe_budget_todo":
                     sum(c.config.budget for c in sweep.cells if c.key not in done), "out": args.out}))
        return 0
    from tsearch.sweep.driver import run_sweep

    def work() -> int:
        outcome = run_sweep(sweep, args.out, args.backend, retry_failed=args.retry_failed,
                            keep_going=args.keep_going, **options)
        print(dumps(outcome.to_dict()))
        if outcome.failed:
            print_failures(outcome, args.out)
            return 1
        return 0

    return guarded(work, args.out)


def print_failures(outcome, out, shown: int = 3) -> None:
    """How many cells failed and why: one line each for the first `shown`, on stderr."""
    print(f"error: {outcome.failed} of {outcome.ran} cell(s) run failed; every error is in {out}/results.jsonl "
          f"(--retry-failed runs them again)", file=sys.stderr)
    for key, error in outcome.errors[:shown]:
        print(f"  cell {key}: {' '.join(error.split())[:300]}", file=sys.stderr)
    if len(outcome.errors) > shown:
        print(f"  ... and {len(outcome.errors) - shown} more", file=sys.stderr)


def main_report(argv=None) -> int:
    p = Parser(prog="tsearch report", description="Tables and plots of a sweep's results.")
    p.add_argument("dir", help="a sweep folder (holding results.jsonl)")
    p.add_argument("--html", default=None, help="where to write the plots (default: DIR/report.html)")
    p.add_argument("--no-html", action="store_true", help="print the table only")
    p.add_argument("--reps", type=whole(10, MAX_REPS, "more do not change the intervals"), default=1000,
                   help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=whole(0, 2**63 - 1), default=0, help="the bootstrap's seed (default 0)")
    p.add_argument("--no-set-metrics", action="store_true", help="skip metrics over each group's best images (FID, IS)")
    p.add_argument("--against", default=None, metavar="METHOD",
                   help="also print every method paired against this one (its label), unit by unit, with intervals")
    p.add_argument("--lineage", default=None, metavar="OUT.html",
                   help="DIR is one run's folder: write its lineage (which candidate came from which) to OUT.html")
    p.add_argument("--lineage-x", choices=["nfe", "round"], default="nfe", help="--lineage's x axis (default nfe)")
    args = p.parse_args(argv)
    if args.lineage:
        return _lineage(args.dir, args.lineage, args.lineage_x)
    from pathlib import Path

    from tsearch.sweep import paired, report

    if not Path(args.dir).is_dir():
        print_error(f"{args.dir} is not a folder; give the --out folder of a sweep")
        return 2
    try:
        html = None if args.no_html else report.html_target(args.dir, args.html)   # before any work
        data = report.build(args.dir, reps=args.reps, seed=args.seed, set_metrics=not args.no_set_metrics)
        against = None if args.against is None else paired.paired(data, args.against, args.reps, args.seed)
    except ValueError as error:
        print_error(error)
        return 2
    print(report.render_text(data))
    if against is not None:
        print("\n" + paired.render(against, args.against, data["headline"]))
    if not args.no_html:
        if importlib.util.find_spec("plotly") is None:
            print("note: report.html needs plotly (pip install plotly); printed the table only", file=sys.stderr)
            return 0
        try:
            path = report.write_html(data, html)
        except OSError as error:   # the table is printed; only the file could not be written
            print_error(f"--html {html}: cannot write it ({error.strerror or error}); the table above is complete")
            return 1
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _lineage(run_dir: str, out: str, x: str) -> int:
    """`report RUN --lineage OUT.html` (tsearch.lineage_html)."""
    if importlib.util.find_spec("plotly") is None:
        print_error("--lineage needs plotly: pip install plotly")
        return 2
    from tsearch import lineage_html

    try:
        print(f"wrote {lineage_html.write(run_dir, out, x)}", file=sys.stderr)
    except (ValueError, OSError) as error:
        print_error(error)
        return 2
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"sweep": main_sweep, "report": main_report}
    if not argv or argv[0] not in commands:
        print_error("usage: python -m tsearch.sweep.cli sweep SPEC.toml --out DIR | report DIR")
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
