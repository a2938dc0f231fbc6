"""`python -m tsearch.bench accel`: torch.compile and channels_last for a bundled model, compile time counted.

    python -m tsearch.bench accel --model shapes --dtype float32 bfloat16 --candidates 16 --repeat 3

For each dtype, four variants of the same loaded weights (plain, channels_last, compile, both) denoise
the same `--candidates` noises through the model's default steps and solver, interleaved, `--repeat`
times. A variant's first run includes its compilation (an app compiles once per process); the later
runs are its steady state. Prints, per variant, the first run, the fastest later run, their ratio to
the plain variant, and how many candidates it takes for compiling to pay for itself.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from tsearch import jsonio, noise
from tsearch.recipes import denoise

VARIANTS = ("plain", "channels_last", "compile", "compile+channels_last")


def network(model) -> torch.nn.Module:
    """The denoiser module a bundled adapter calls (shapes: generator.unet, digits: unet)."""
    return model.generator.unet if hasattr(model, "generator") else model.unet


def variant(model, name: str):
    """A copy of `model` whose network is changed as `name` says (the weights are copied, not shared)."""
    other = copy.copy(model)
    if hasattr(model, "generator"):
        other.generator = copy.deepcopy(model.generator)
    else:
        other.unet = copy.deepcopy(model.unet)
    net = network(other)
    if "channels_last" in name:
        net.to(memory_format=torch.channels_last)
    if "compile" in name:
        net.compile(backend="inductor", dynamic=False)
    return other


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench accel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="shapes")
    parser.add_argument("--condition", default=None, help="default: the model's first example")
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from tsearch.models import load_model

    results = {}
    for dtype in args.dtype:
        base = load_model(args.model, dtype=dtype)
        cond = base.encode(args.condition if args.condition is not None else base.example_conditions()[0])
        x = torch.stack([noise.gaussian(base.noise_shape, s) for s in range(args.candidates)]) * base.prior_scale
        sigmas = base.sigmas(base.default_steps)
        models = {name: variant(base, name) for name in VARIANTS}
        times = {name: [] for name in VARIANTS}
        outputs = {}
        for _ in range(args.repeat):
            for name, model in models.items():   # interleaved: each variant sees the same machine load
                t0 = time.perf_counter()
                with torch.no_grad():
                    outputs[name] = denoise(model, cond, x, sigmas)
                times[name].append(time.perf_counter() - t0)
        plain = min(times["plain"][1:] or times["plain"])
        rows = {}
        for name in VARIANTS:
            first, steady = times[name][0], min(times[name][1:] or times[name])
            saved = plain - steady   # per run of --candidates
            rows[name] = {"first_s": round(first, 3), "steady_s": round(steady, 3), "speed_vs_plain": plain / steady,
                          "compile_overhead_s": round(first - steady, 3),
                          "candidates_to_pay_off": (None if saved <= 0 else
                                                    round((first - steady) / saved * args.candidates)),
                          "max_abs_diff_vs_plain": float((outputs[name] - outputs["plain"]).abs().max())}
            print(f"{args.model} {dtype:8s} {name:22s} first {first:7.2f} s  steady {steady:6.2f} s  "
                  f"x{plain / steady:4.2f} vs plain  pays off after {rows[name]['candidates_to_pay_off']} candidates  "
                  f"max |diff| {rows[name]['max_abs_diff_vs_plain']:.2e}", flush=True)
        results[dtype] = rows
    summary = {"model": args.model, "candidates": args.candidates, "repeat": args.repeat,
               "threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "results": results}
    if args.out:
        with open(args.out, "w") as f:
            f.write(jsonio.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
