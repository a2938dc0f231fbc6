"""Command line: `python -m tsearch run|models|verifiers|options|eval|regenerate|sweep|report`.

`run` turns its flags into one `SearchConfig` (the same front door as the Python API and the app),
shows a progress bar on stderr and prints, as its last stdout line, one strict-JSON object with the
search's summary. `run --from RUN --out NEW` starts a saved run's search again from its stored
config; flags given beside it override the stored values.

Every failure is one line on stderr starting with `error:`: exit status 2 for bad arguments and
for anything the user can act on (an unwritable folder, a failing verifier, a file that is not an
image), 130 when interrupted (the partial run is kept), 1 for an internal error (please report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tsearch.cli_flags import add_run_flags, config_from_args, only_algorithm, options_table, setting_type
from tsearch.config import SearchConfig
from tsearch.cli_progress import Progress, summary_line
from tsearch.jsonio import dumps
from tsearch.options import Setting


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line naming the argument (`error: argument --seed: ...`), no usage block."""

    def error(self, message: str):
        _print_error(message)
        raise SystemExit(2)


def _one_line(message) -> str:
    """The message on one line: every line break (as str.splitlines sees them) becomes a space."""
    return " ".join(part.strip() for part in str(message).splitlines()).strip() or "(no message)"


def _print_error(message) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr, flush=True)


def _fail(message) -> int:
    _print_error(message)
    return 2


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tsearch", description="Inference-time search over diffusion noise.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a search", description="Run a search. Every algorithm's options are "
                         "listed below; `run --algorithm NAME --help` lists only that algorithm's.")
    add_run_flags(run, only)
    sub.add_parser("sweep", help="many searches from a TOML spec, resumable, local or on Ray (see --help there)")
    sub.add_parser("report", help="tables and plots of a sweep's results (see --help there)")
    sub.add_parser("models", help="list models and whether each is available here")
    opts = sub.add_parser("options", help="every algorithm's options as a markdown table (docs/cli.md's)")
    opts.add_argument("--write", metavar="PAGE", help="put the table between the markers of this markdown page "
                      "(docs/cli.md) instead of printing it")
    sub.add_parser("verifiers", help="list verifiers and whether each is available here")
    ev = sub.add_parser("eval", help="judge images with a world's exact oracle")
    ev.add_argument("--world", required=True, choices=["shapes"])
    ev.add_argument("--prompt", required=True)
    ev.add_argument("images", nargs="+")
    regen = sub.add_parser("regenerate", help="re-create a candidate of a saved run from its recipe")
    regen.add_argument("run_dir")
    regen.add_argument("--id", type=setting_type(Setting("id", int, None, "", minimum=0)), required=True)
    regen.add_argument("--out", required=True, help="PNG file to write")
    regen.add_argument("--device", help="override the run's device (e.g. cpu for a run made on a GPU)")
    return parser


# --- run: flags -> one SearchConfig --------------------------------------------------------------------------------
def _stored_config(path: str) -> dict:
    """A saved run's config in its stored form (run.json's "config"), to override before it is validated.

    Not validated yet, so that a flag such as --device can replace a stored value that does not hold
    on this machine before validation refuses it."""
    from tsearch.config import stored_config

    try:
        config = stored_config(path)
    except ValueError as error:
        raise ValueError(f"--from {path}: {error}") from None
    if not isinstance(config.get("options") or {}, dict) or not isinstance(config.get("model_options") or {}, dict):
        raise ValueError(f"--from {path}: \"options\" and \"model_options\" must be JSON objects")
    config.pop("nfe_per_eval", None)
    return config


def _config(args) -> SearchConfig:
    """The search the flags describe, validated (ValueError naming the field otherwise)."""
    if args.from_run is not None and args.out is None:
        raise ValueError(f"--out is required with --from: the folder for the new run ({args.from_run} is "
                         f"never overwritten)")
    return config_from_args(args, None if args.from_run is None else _stored_config(args.from_run))


def _run(args) -> int:
    from tsearch import api
    from tsearch.events import SearchDone

    plan = api.plan_for(_config(args), out=args.out)   # the config validated once, by _config
    progress = Progress(plan.config, plan.budget, plan.out)
    events = api.watched(plan, on_summary=progress.ended)   # the first candidate after about one candidate's
    # compute; an interrupt still reports the engine's best
    done = None
    try:
        for event in events:
            progress.see(event)
            if isinstance(event, SearchDone):
                done = event
    except KeyboardInterrupt:
        events.close()   # a no-op when the interrupt came from inside the engine (its run is already closed)
        progress.close()
        print(dumps(progress.partial(True, "interrupted")), flush=True)
        _print_error(f"interrupted; {progress.where()}")
        return 130
    except ValueError as error:   # a verifier failed or returned no numbers, a folder turned unwritable, ...
        events.close()
        progress.close()
        message = _one_line(error)
        print(dumps(progress.partial(False, message)), flush=True)
        return _fail(f"{message} ({progress.where()})" if progress.candidates else message)
    except Exception as error:
        events.close()
        progress.close()
        print(dumps(progress.partial(False, f"{type(error).__name__}: {error}")), flush=True)
        raise
    progress.close()
    print(dumps(summary_line(done.summary)), flush=True)
    if done.summary.warning:
        print(f"warning: {done.summary.warning}", file=sys.stderr, flush=True)
    return 0


# --- the other commands --------------------------------------------------------------------------------------------
def _listing(rows) -> int:
    for name, ok, reason, description in rows:
        print(f"{name:22s} {'available' if ok else 'unavailable':12s} {description}" + ("" if ok else f"\n{'':35s}why: {reason}"))
    return 0


def _eval(args) -> int:
    from PIL import UnidentifiedImageError

    from tsearch.worlds.shapes.eval_cli import run as evaluate

    try:
        verdicts = evaluate(args.prompt, args.images)
    except UnidentifiedImageError as error:
        return _fail(f"eval: not an image file ({error})")
    except OSError as error:
        what = f" {error.filename}" if getattr(error, "filename", None) else ""
        return _fail(f"eval: cannot read image{what}: {error.strerror or error}")
    except ValueError as error:
        return _fail(f"eval: {error}")
    for verdict in verdicts:
        print(dumps(verdict))
    return 0


def _regenerate(args) -> int:
    from tsearch.regenerate import regenerate_candidate

    out = Path(args.out)
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return _fail(f"regenerate --out {args.out}: {parent} is a file, not a folder")
            break
    if out.is_dir():
        return _fail(f"regenerate --out {args.out}: is a folder; give the PNG file to write")
    image = regenerate_candidate(args.run_dir, args.id, device=args.device)
    try:
        image.save(out, format="PNG")
    except OSError as error:
        return _fail(f"regenerate --out {args.out}: cannot write there ({error.strerror or error})")
    print(dumps({"id": args.id, "out": args.out}))
    return 0


def _command(args) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "models":
        from tsearch.models import model_status

        return _listing(model_status())
    if args.command == "verifiers":
        from tsearch.verifiers import verifier_status

        return _listing(verifier_status())
    if args.command == "options":
        if args.write is None:
            print(options_table())
            return 0
        from tsearch.describe import write_options_table

        try:
            changed = write_options_table(args.write)
        except (OSError, ValueError) as error:
            return _fail(f"--write {args.write}: {error}")
        print(f"{args.write}: options table {'updated' if changed else 'already up to date'}")
        return 0
    if args.command == "eval":
        return _eval(args)
    if args.command == "regenerate":
        return _regenerate(args)
    return _fail(f"unknown command {args.command!r}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("arena", "sweep", "report"):   # their own flags: tsearch.arena, tsearch.sweep
        from tsearch.arena.cli import main as main_arena
        from tsearch.arena.plan_cli import main as main_plan
        from tsearch.sweep.cli import main_report, main_sweep

        command = {"arena": main_arena, "sweep": main_sweep, "report": main_report}[argv[0]]
        if argv[:2] == ["arena", "plan"]:   # the compute planner, with flags of its own
            command, argv = main_plan, argv[1:]
        try:
            return command(argv[1:])
        except SystemExit as exit_:   # their parsers' errors (already printed, one line) or --help: a status
            return exit_.code if isinstance(exit_.code, int) else 2
    try:
        args = _parser(only_algorithm(argv)).parse_args(argv)
    except SystemExit as exit_:   # argparse: its error (already printed, one line) or --help
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return _command(args)
    except KeyboardInterrupt:
        _print_error("interrupted before the search started; nothing was written" if args.command == "run"
                     else "interrupted")
        return 130
    except ValueError as error:   # bad arguments, a run folder or file the user can fix
        return _fail(error)
    except Exception as error:  # missing weights or packages: say what, never a bare traceback
        from tsearch.registry import Unavailable

        if isinstance(error, Unavailable):
            return _fail(error)
        _print_error(f"internal error: {type(error).__name__}: {error} (please report)")
        return 1
