"""`python -m tsearch.bench solvers`: quality per NFE of each ODE solver, with no search.

    python -m tsearch.bench solvers --world shapes --steps 4 6 10 20 --threads 1 [--captions 240]
    python -m tsearch.bench solvers --world digits --steps 4 6 10 20 --threads 1 [--per-class 36]
    python -m tsearch.bench solvers --world shapes --dtype-speed float32 bfloat16 --batch-size 16 --threads 1

shapes: the quality bar's captions and seeds (`eval_shapes`: captions/6 per GenEval category, caption i
from noise seed i), judged by the oracle; digits: `eval_digits`' fixed seeds, the classifier's accuracy
and the FID analogue. For every steps x solver it prints NFEs per sample (the engine's exact count,
`Costs.full`), the metric and the seconds it took; solvers run interleaved within each step count, so
the seconds compare. Prints; not a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tsearch import jsonio
from tsearch.sampling import SOLVERS


def _shapes(args, model, steps: int, solver: str) -> dict:
    from tsearch.bench import eval_shapes
    from tsearch.worlds.shapes import grammar, oracle

    pairs = eval_shapes.eval_captions(args.captions, args.seed)
    images = eval_shapes.to_uint8(eval_shapes.generate(model, [c for _, c in pairs], steps, args.batch_size,
                                                       args.seed, solver))
    oks = [bool(oracle.evaluate(image, caption).ok) for image, (_, caption) in zip(images, pairs)]
    per = {c: float(np.mean([ok for ok, (cat, _) in zip(oks, pairs) if cat == c])) for c in grammar.CATEGORIES}
    return {"accuracy": float(np.mean(oks)), "per_category": per}


def _digits(args, model, steps: int, solver: str) -> dict:
    from tsearch.bench import eval_digits
    from tsearch.worlds.digits import metrics

    images, labels = eval_digits.sample_all(model, args.per_class, steps, solver=solver)
    logits = args.classifier.logits(images)
    return {"accuracy": float((logits.argmax(1) == labels).float().mean()), "fid": float(metrics.fid(images))}


def dtype_speed(world: str, dtypes: list[str], batch: int = 16, repeats: int = 3, device: str = "cpu") -> dict:
    """Seconds of one forward_x0 over `batch` samples in each dtype, interleaved, quickest of `repeats` kept,
    and the mean |x0 - x0_fp32| (a busy machine only ever makes a call slower)."""
    from tsearch import noise
    from tsearch.models import load_model

    models = {d: load_model(world, device=device, dtype=d) for d in dtypes}
    first = models[dtypes[0]]
    cond = first.encode("a red circle and a blue square" if world == "shapes" else 3)
    x = torch.stack([noise.gaussian(first.noise_shape, i) for i in range(batch)]).to(first.device)
    outputs = {d: m.forward_x0(x, cond, 0.5) for d, m in models.items()}   # warm-up
    best = {d: float("inf") for d in dtypes}
    for _ in range(repeats):
        for d, m in models.items():
            start = time.perf_counter()
            m.forward_x0(x, cond, 0.5)
            best[d] = min(best[d], time.perf_counter() - start)
    base = outputs[dtypes[0]]
    return {d: {"seconds": round(best[d], 4), "speed_vs_first": round(best[dtypes[0]] / best[d], 3),
                "mean_abs_diff_x0": float((outputs[d] - base).abs().mean())} for d in dtypes}


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m tsearch.bench solvers", description=__doc__.split("\n\n")[0])
    p.add_argument("--world", default="shapes", choices=["shapes", "digits"])
    p.add_argument("--steps", type=int, nargs="+", default=[4, 6, 10, 20])
    p.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    p.add_argument("--captions", type=int, default=240, help="shapes: captions, a multiple of 6")
    p.add_argument("--per-class", type=int, default=36, help="digits: samples per class")
    p.add_argument("--guidance", type=float, default=None, help="default: the model's own")
    p.add_argument("--dtype", default=None, help="float32, bfloat16, float16 or auto (default: the model's)")
    p.add_argument("--batch-size", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument("--dtype-speed", nargs="+", default=None, metavar="DTYPE",
                   help="instead: time one forward_x0 of --batch-size samples per dtype (interleaved), e.g. "
                        "float32 bfloat16; prints seconds, speed against the first and mean |x0 difference|")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    from tsearch.models import load_model
    from tsearch.search import Costs

    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.dtype_speed:
        result = dtype_speed(args.world, args.dtype_speed, args.batch_size, device=args.device)
        for d, row in result.items():
            print(f"{args.world} {d:9s} {1000 * row['seconds']:9.1f} ms per forward_x0 of {args.batch_size}  "
                  f"x{row['speed_vs_first']:.3f} the speed of {args.dtype_speed[0]}  "
                  f"mean |x0 diff| {row['mean_abs_diff_x0']:.4f}", flush=True)
        return [result]
    options = {k: v for k, v in (("guidance", args.guidance), ("dtype", args.dtype)) if v is not None}
    model = load_model(args.world, device=args.device, **options)
    measure = _shapes if args.world == "shapes" else _digits
    if args.world == "digits":
        from tsearch.verifiers.digits_classifier import build as build_classifier

        args.classifier = build_classifier(device=args.device)
    metric = "oracle accuracy" if args.world == "shapes" else "classifier accuracy, FID"
    print(f"{args.world}: {metric} without search; {str(model.dtype).removeprefix('torch.')}, "
          f"{model.nfe_per_eval} NFE(s) per evaluation", flush=True)
    rows = []
    for steps in args.steps:
        for solver in args.solvers:
            start = time.perf_counter()
            result = measure(args, model, steps, solver)
            seconds = time.perf_counter() - start
            row = {"world": args.world, "solver": solver, "steps": steps,
                   "nfe_per_sample": Costs(solver, model.nfe_per_eval).full(steps), "seconds": round(seconds, 1),
                   **result}
            rows.append(row)
            extra = f"  FID {row['fid']:.2f}" if "fid" in row else "  " + "  ".join(
                f"{c} {100 * a:.0f}%" for c, a in row["per_category"].items())
            print(f"{solver:9s} {steps:3d} steps  {row['nfe_per_sample']:4d} NFEs/sample  "
                  f"{100 * row['accuracy']:5.1f}%{extra}  ({row['seconds']} s)", flush=True)
    _table(args, rows)
    if args.json:
        with open(args.json, "w") as f:
            f.write(jsonio.dumps(rows, indent=1))
    return rows



def _table(args, rows: list[dict]) -> None:
    """The rows as a markdown table: a solver per line, a step count per column."""
    print("\n| solver | " + " | ".join(f"{s} steps" for s in args.steps) + " |")
    print("|---|" + "---|" * len(args.steps))
    for solver in args.solvers:
        cells = [next(r for r in rows if r["solver"] == solver and r["steps"] == s) for s in args.steps]
        print(f"| {solver} | " + " | ".join(f"{100 * r['accuracy']:.1f}% ({r['nfe_per_sample']} NFEs)" for r in cells)
              + " |")


if __name__ == "__main__":
    main()
