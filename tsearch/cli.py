"""Command line: `python -m tsearch run|models|verifiers|eval|regenerate`.

`run` shows a progress bar on stderr and prints, as its last stdout line, one JSON object with the
search's summary. Bad arguments exit with status 2 and a one-line message naming the argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from tsearch.search import ALGORITHMS


def _option_flags() -> dict[str, type]:
    """Every algorithm's options, as one set of --flags (a flag may belong to several algorithms)."""
    flags: dict[str, type] = {}
    for cls in ALGORITHMS.values():
        for f in dataclasses.fields(cls.Options):
            flags[f.name] = type(f.default)
    return flags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tsearch", description="Inference-time search over diffusion noise.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a search")
    run.add_argument("--model", required=True, help="registered name (see `models`), hub id or local diffusers folder")
    cond = run.add_mutually_exclusive_group(required=True)
    cond.add_argument("--prompt", help="text prompt (text-to-image models)")
    cond.add_argument("--class", dest="cls", help="class label (class-conditional models)")
    run.add_argument("--verifier", action="append", required=True,
                     help="registered verifier or module:function; repeat for a mean-rank ensemble")
    run.add_argument("--evaluator", action="append", default=[], help="held-out scorer recorded beside the verifier")
    run.add_argument("--algorithm", required=True, choices=sorted(ALGORITHMS))
    run.add_argument("--budget", type=int, required=True, help="NFEs to spend in all (one NFE = one denoiser pass over one sample)")
    run.add_argument("--steps", type=int, help="denoising steps per candidate (default: the model's)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", help="run folder to write (run.json, candidates.jsonl, images/)")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--solver", choices=["euler", "heun"])
    run.add_argument("--final-steps", type=int, help="re-render the winning noise with this many steps (counted in the budget)")
    run.add_argument("--device", default="cpu")
    run.add_argument("--guidance", type=float, help="classifier-free guidance scale (models that support it)")
    for name, kind in _option_flags().items():
        run.add_argument(f"--{name.replace('_', '-')}", dest=f"opt_{name}", type=kind, default=None,
                         help=f"algorithm option {name} (see README)")
    sub.add_parser("models", help="list models and whether each is available here")
    sub.add_parser("verifiers", help="list verifiers and whether each is available here")
    ev = sub.add_parser("eval", help="judge images with a world's exact oracle")
    ev.add_argument("--world", required=True, choices=["shapes"])
    ev.add_argument("--prompt", required=True)
    ev.add_argument("images", nargs="+")
    regen = sub.add_parser("regenerate", help="re-create a candidate of a saved run from its recipe")
    regen.add_argument("run_dir")
    regen.add_argument("--id", type=int, required=True)
    regen.add_argument("--out", required=True, help="PNG file to write")
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _run(args) -> int:
    from tqdm import tqdm

    from tsearch import api
    from tsearch.events import CandidateScored, SearchDone

    options = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    model_options = {"guidance": args.guidance} if args.guidance is not None else {}
    plan = api.prepare(model=args.model, prompt=args.prompt, cls=args.cls, verifiers=args.verifier,
                       evaluators=args.evaluator, algorithm=args.algorithm, budget=args.budget, steps=args.steps,
                       seed=args.seed, batch_size=args.batch_size, out=args.out, solver=args.solver,
                       final_steps=args.final_steps, device=args.device, model_options=model_options, **options)
    from tsearch import engine

    bar = tqdm(total=plan.budget, unit="NFE", file=sys.stderr, dynamic_ncols=True)
    done = None
    for event in engine.run(plan):
        if isinstance(event, CandidateScored):
            bar.update(event.nfe_spent - bar.n)
            bar.set_postfix(candidates=event.id + 1, score=f"{event.score:.4g}")
        elif isinstance(event, SearchDone):
            done = event
    bar.close()
    s = done.summary
    print(json.dumps({"nfe_spent": s.nfe_spent, "budget": s.budget, "best_score": s.best_score, "best_id": s.best_id,
                      "candidates": s.candidates, "seconds": round(s.seconds, 3), "final_nfe": s.final_nfe,
                      "verifier_seconds": round(s.verifier_seconds, 3), "out": s.run_dir}))
    return 0


def _listing(rows) -> int:
    for name, ok, reason, description in rows:
        print(f"{name:22s} {'available' if ok else 'unavailable':12s} {description}" + ("" if ok else f"\n{'':35s}why: {reason}"))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "models":
            from tsearch.models import model_status

            return _listing(model_status())
        if args.command == "verifiers":
            from tsearch.verifiers import verifier_status

            return _listing(verifier_status())
        if args.command == "eval":
            from tsearch.worlds.shapes.eval_cli import run as evaluate

            for verdict in evaluate(args.prompt, args.images):
                print(json.dumps(verdict))
            return 0
        if args.command == "regenerate":
            from tsearch.regenerate import regenerate_candidate

            regenerate_candidate(args.run_dir, args.id).save(args.out)
            print(json.dumps({"id": args.id, "out": args.out}))
            return 0
    except ValueError as error:
        return _fail(str(error))
    except Exception as error:  # missing weights or packages: say what, never a bare traceback
        from tsearch.registry import Unavailable

        if isinstance(error, Unavailable):
            return _fail(str(error))
        raise
    return 1
