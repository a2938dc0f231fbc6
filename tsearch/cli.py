"""Command line: `python -m tsearch run|models|verifiers|eval|regenerate|sweep|report`.

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
import dataclasses
import math
import sys
import time
from pathlib import Path

from tsearch.config import MAX_SEED, DTYPES, SearchConfig
from tsearch.jsonio import dumps, finite
from tsearch.models import MODEL_OPTIONS, check_model_options, normalise_options
from tsearch.sampling import SOLVERS
from tsearch.search import ALGORITHMS

SUMMARY_KEYS = ("nfe_spent", "budget", "best_score", "best_id", "candidates", "seconds", "final_nfe",
                "verifier_seconds", "out", "stopped", "error")


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


# --- flag types: whole numbers refused (never truncated) when they do not fit, with one message ------------------
def _whole(bounds: str, minimum: int | None = None, maximum: int | None = None):
    """An argparse type: a whole number ("3", "3.0"), refused outside [minimum, maximum]."""

    def parse(text: str) -> int:
        value = None
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and math.isfinite(number) and number.is_integer() and abs(number) <= 2**53:
                value = int(number)
        if value is None or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number{bounds}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")


def _option_flags() -> dict[str, tuple]:
    """Every algorithm's options as one set of --flags: name -> (argparse type, choices or None).

    A name several algorithms share takes one flag; where their kinds differ it parses as a number
    when it is one, and where one of them takes any string it has no fixed choices."""
    seen: dict[str, list[dataclasses.Field]] = {}
    for cls in ALGORITHMS.values():
        for f in dataclasses.fields(cls.Options):
            seen.setdefault(f.name, []).append(f)
    flags = {}
    for name, fields in seen.items():
        kinds = {type(f.default) for f in fields}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is bool:
            parse = _boolean
        elif kind is int:
            parse = _whole("")
        elif kind is None:
            parse = _number_or_text
        else:
            parse = kind
        choices = None
        if all(f.metadata.get("choices") for f in fields):
            choices = sorted({c for f in fields for c in f.metadata["choices"]})
        flags[name] = (parse, choices)
    return flags


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (1 = no classifier-free guidance), got {text!r}")
    return value


def _number_or_text(text: str):
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tsearch", description="Inference-time search over diffusion noise.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a search")
    run.add_argument("--from", dest="from_run", metavar="RUN",
                     help="start a saved run's search again (its folder or run.json); needs --out; "
                          "other flags override the stored values")
    run.add_argument("--model", help="registered name (see `models`), hub id or local diffusers folder")
    cond = run.add_mutually_exclusive_group()
    cond.add_argument("--prompt", help="text prompt (text-to-image models)")
    cond.add_argument("--class", dest="cls", help="class label (class-conditional models)")
    run.add_argument("--verifier", action="append",
                     help="registered verifier or module:function; repeat for a mean-rank ensemble")
    run.add_argument("--evaluator", action="append", help="held-out scorer recorded beside the verifier")
    run.add_argument("--algorithm", choices=sorted(ALGORITHMS))
    run.add_argument("--budget", type=_whole(" at least 1", 1),
                     help="NFEs to spend in all (one NFE = one denoiser pass over one sample)")
    run.add_argument("--steps", type=_whole(" at least 1", 1), help="denoising steps per candidate (default: the model's)")
    run.add_argument("--seed", type=_whole(" in [0, 2^63)", 0, MAX_SEED - 1), help="default 0")
    run.add_argument("--out", help="run folder to write (run.json, candidates.jsonl, images/)")
    run.add_argument("--batch-size", type=_whole(" at least 1", 1), help="default 16")
    run.add_argument("--solver", choices=sorted(SOLVERS))
    run.add_argument("--final-steps", type=_whole(" at least 1", 1),
                     help="re-render the winning noise with this many steps (counted in the budget)")
    run.add_argument("--device", help="cpu (default), cuda, cuda:1 or mps")
    run.add_argument("--dtype", choices=list(DTYPES), help="model weights' dtype (default: the model's)")
    # model options (MODEL_OPTIONS): each model takes those it has a use for; the others are refused by name
    run.add_argument("--height", type=_whole(" at least 1", 1), help="image height in pixels (diffusers models)")
    run.add_argument("--width", type=_whole(" at least 1", 1), help="image width in pixels (diffusers models)")
    run.add_argument("--guidance", type=_scale, help="classifier-free guidance scale; 1 = off (models that take it)")
    run.add_argument("--negative-prompt", help="the unconditional side of guidance (SD 1.5, SDXL, SD3.5, PixArt)")
    run.add_argument("--max-sequence-length", type=_whole(" at least 1", 1),
                     help="T5 tokens per prompt (FLUX, SD3.5, PixArt)")
    for name, (parse, choices) in _option_flags().items():
        if name in MODEL_OPTIONS:
            raise RuntimeError(f"algorithm option {name!r} would share the flag of the model option {_flag(name)}")
        run.add_argument(f"--{name.replace('_', '-')}", dest=f"opt_{name}", type=parse, default=None,
                         choices=choices, help=f"algorithm option {name} (see README)")
    sub.add_parser("sweep", help="many searches from a TOML spec, resumable, local or on Ray (see --help there)")
    sub.add_parser("report", help="tables and plots of a sweep's results (see --help there)")
    sub.add_parser("models", help="list models and whether each is available here")
    sub.add_parser("verifiers", help="list verifiers and whether each is available here")
    ev = sub.add_parser("eval", help="judge images with a world's exact oracle")
    ev.add_argument("--world", required=True, choices=["shapes"])
    ev.add_argument("--prompt", required=True)
    ev.add_argument("images", nargs="+")
    regen = sub.add_parser("regenerate", help="re-create a candidate of a saved run from its recipe")
    regen.add_argument("run_dir")
    regen.add_argument("--id", type=_whole(" at least 0", 0), required=True)
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
    return config


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _class_label(text: str | None):
    """--class as a class index where it is a whole number ("3", "3.0", "-1": refused by the config), else a name."""
    if text is None:
        return None
    try:
        return _whole("")(text)
    except argparse.ArgumentTypeError:
        return text


def _config(args) -> SearchConfig:
    """The search the flags describe, validated (ValueError naming the field otherwise)."""
    given_options = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    condition = args.prompt if args.prompt is not None else _class_label(args.cls)
    if args.from_run is None:
        missing = [flag for flag, value in (("--model", args.model), ("--prompt or --class", condition),
                                            ("--verifier", args.verifier), ("--algorithm", args.algorithm),
                                            ("--budget", args.budget)) if value is None]
        if missing:
            raise ValueError(f"run needs {', '.join(missing)} (or --from RUN to start a saved run's search again)")
        stored: dict = {"options": given_options}
    else:
        if args.out is None:
            raise ValueError(f"--out is required with --from: the folder for the new run ({args.from_run} is "
                             f"never overwritten)")
        stored = _stored_config(args.from_run)
        stored.pop("nfe_per_eval", None)
        if args.algorithm is not None and args.algorithm != stored.get("algorithm"):
            stored["options"] = dict(given_options)   # the stored options belong to the stored algorithm
        else:
            stored["options"] = {**(stored.get("options") or {}), **given_options}
    overrides = {"model": args.model, "condition": condition, "algorithm": args.algorithm, "budget": args.budget,
                 "steps": args.steps, "seed": args.seed, "batch_size": args.batch_size, "solver": args.solver,
                 "final_steps": args.final_steps, "device": args.device, "dtype": args.dtype,
                 "verifiers": tuple(args.verifier) if args.verifier is not None else None,
                 "evaluators": tuple(args.evaluator) if args.evaluator is not None else None}
    values = {**stored, **{key: value for key, value in overrides.items() if value is not None}}
    given_model_options = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    if given_model_options:
        check_model_options(values.get("model"), given_model_options, flag=lambda name: _flag(name))
        stored_options = normalise_options(values.get("model_options") or {})   # an older run's guidance_scale
        values["model_options"] = {**stored_options, **given_model_options}
    if args.from_run is None:
        return SearchConfig(**values).validate()
    try:
        return SearchConfig.from_dict(values)
    except TypeError as error:   # a stored field of the wrong shape
        raise ValueError(f"--from {args.from_run}: the stored config does not load ({error})") from None


class _Progress:
    """The progress bar (drawn once the first candidate is scored) and what the summary line needs."""

    def __init__(self, budget: int, out: str | None):
        self.budget, self.out = budget, out
        self.bar = None
        self.nfe_spent, self.candidates, self.verifier_seconds = 0, 0, 0.0
        self.best_id, self.best_score = None, None
        self.started = time.perf_counter()

    def see(self, event) -> None:
        from tsearch.events import CandidateScored, RoundDone

        if isinstance(event, CandidateScored):
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=self.budget, unit="NFE", file=sys.stderr, dynamic_ncols=True)
            self.nfe_spent, self.candidates = event.nfe_spent, self.candidates + 1
            self.verifier_seconds += event.verifier_seconds
            self.bar.update(event.nfe_spent - self.bar.n)
            score = finite(event.score)
            self.bar.set_postfix(candidates=event.id + 1, score="-" if score is None else f"{score:.4g}")
        elif isinstance(event, RoundDone):
            self.nfe_spent = max(self.nfe_spent, event.nfe_spent)
            self.best_id, self.best_score = event.best_id, event.best_score

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def partial(self, stopped: bool, error: str) -> dict:
        """The summary line of a search that ended early, from what it reported before it ended."""
        return {"nfe_spent": self.nfe_spent, "budget": self.budget, "best_score": finite(self.best_score),
                "best_id": self.best_id, "candidates": self.candidates,
                "seconds": round(time.perf_counter() - self.started, 3), "final_nfe": 0,
                "verifier_seconds": round(self.verifier_seconds, 3), "out": self._kept(), "stopped": stopped,
                "error": error}

    def _kept(self) -> str | None:
        return self.out if self.out is not None and (Path(self.out) / "run.json").is_file() else None

    def where(self) -> str:
        kept = self._kept()
        if kept is not None:
            return f"the partial run ({self.candidates} candidates) is kept in {kept}"
        if self.out is not None:
            return f"nothing was scored, so no run was kept in {self.out}"
        return f"{self.candidates} candidates were scored; no run folder was kept (give --out to keep one)"


def _summary_line(summary) -> dict:
    return {"nfe_spent": summary.nfe_spent, "budget": summary.budget, "best_score": finite(summary.best_score),
            "best_id": summary.best_id, "candidates": summary.candidates, "seconds": round(summary.seconds, 3),
            "final_nfe": summary.final_nfe, "verifier_seconds": round(summary.verifier_seconds, 3),
            "out": summary.run_dir, "stopped": summary.stopped, "error": summary.error}


def _run(args) -> int:
    from tsearch import api, engine
    from tsearch.events import SearchDone

    plan = api.prepare(_config(args), out=args.out)
    progress = _Progress(plan.budget, plan.out)
    events = engine.run(plan)
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
    print(dumps(_summary_line(done.summary)), flush=True)
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
    if args.command == "eval":
        return _eval(args)
    if args.command == "regenerate":
        return _regenerate(args)
    return _fail(f"unknown command {args.command!r}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "arena":   # every method on a benchmark split: tsearch.arena has its own flags
        from tsearch.arena.cli import main as main_arena

        return main_arena(argv[1:])
    if argv and argv[0] in ("sweep", "report"):   # many searches: tsearch.sweep has its own flags
        from tsearch.sweep.cli import main_report, main_sweep

        return (main_sweep if argv[0] == "sweep" else main_report)(argv[1:])
    try:
        args = _parser().parse_args(argv)
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
