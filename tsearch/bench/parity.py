"""`python -m tsearch.bench parity`: two shapes generators (or dtypes) paired on the same captions and noises.

    python -m tsearch.bench parity --a shapes-teacher:float32 --b shapes-teacher:bfloat16 --captions 240
    python -m tsearch.bench parity --a shapes-teacher --b shapes-distilled --captions 240 --dtype float32
    python -m tsearch.bench parity --a shapes-teacher --b shapes-distilled --split hard --captions 96 --candidates 16

A side is MODEL[:DTYPE][@KEY=VALUE,...]: shapes, shapes-teacher, shapes-distilled or a generator
folder, with a dtype (float32, bfloat16, auto; default --dtype) and its own guidance, steps or solver
(default --guidance, --steps and the model's solver): `shapes-distilled:bfloat16@guidance=4` or
`shapes-teacher@steps=5` is paired with another side on the same captions and noises. Caption i's
candidate j starts from the noise of seed seed + i * candidates + j on both sides, so every
difference is the model's. With --candidates 1 that one sample is judged by the exact oracle (no
search); with more, random search keeps the best by --verifier (the app's shapes-clip), and the
oracle judges the kept one, the way a user would get it. Batches alternate between the sides, so the seconds of each are measured in one
interleaved run (the speed ratio under the same machine load). Prints both accuracies, per
category, the verdicts that differ, and an exact two-sided sign test (McNemar) on them.
`--reuse-a FILE` takes side a's verdicts from an earlier --out whose setting and one side match
(no speed ratio then): a teacher evaluated once serves several students.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from tsearch import jsonio, noise
from tsearch.bench.eval_shapes import eval_captions, to_uint8
from tsearch.models import shapes as shapes_module
from tsearch.models.shapes import TextCond
from tsearch.recipes import Counter, denoise
from tsearch.sampling import SOLVERS
from tsearch.worlds.shapes import grammar, oracle



SIDE_OPTIONS = {"guidance": float, "steps": int, "solver": str}


def side_options(spec: str) -> tuple[str, str, dict]:
    """MODEL[:DTYPE][@KEY=VALUE,...] -> (model, dtype or '', {guidance, steps, solver given})."""
    base, _, extra = spec.partition("@")
    name, _, dtype = base.partition(":")
    options = {}
    for item in filter(None, extra.split(",")):
        key, _, value = item.partition("=")
        if key not in SIDE_OPTIONS or not value:
            raise ValueError(f"side {spec!r}: options are {', '.join(f'{k}=VALUE' for k in SIDE_OPTIONS)}, got {item!r}")
        options[key] = SIDE_OPTIONS[key](value)
    if options.get("solver", "dpmpp-2m") not in SOLVERS:
        raise ValueError(f"side {spec!r}: unknown solver {options['solver']!r}; choose one of {sorted(SOLVERS)}")
    return name, dtype, options


def load_side(spec: str, default_dtype: str | None, guidance: float | None, device: str):
    """MODEL[:DTYPE][@...] -> a ShapesModel: a registered shapes model by name, or a generator folder."""
    from tsearch.models import MODELS, load_model

    name, dtype, extra = side_options(spec)
    guidance = extra.get("guidance", guidance)
    options = {"dtype": dtype or default_dtype, **({} if guidance is None else {"guidance": guidance})}
    if name in MODELS:
        model = load_model(name, device=device, **options)
        if not isinstance(model, shapes_module.ShapesModel):
            raise ValueError(f"--a/--b: {name!r} is not a shapes model; name shapes, shapes-teacher, shapes-distilled "
                             f"or a generator folder")
        return model
    return shapes_module.build(device=device, path=name, **options)


def captions_for(split: str, count: int, seed: int) -> list[tuple[str, str]]:
    if split == "hard":
        from tsearch.worlds.shapes.grammar import split_captions   # the arena's hard split

        return [(r["category"], r["prompt"]) for r in split_captions("hard", count, seed)]
    return eval_captions(count, seed)


def sign_test(a_only: int, b_only: int) -> float:
    """Exact two-sided p-value of the discordant verdicts under 'either side as likely' (McNemar's exact test)."""
    n, k = a_only + b_only, min(a_only, b_only)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


@torch.no_grad()
def _images(model, chunk: list[str], seeds: list[int], steps: int, solver: str | None, counter: Counter) -> torch.Tensor:
    states, pooled = model.generator.text_encoder.encode(chunk)
    null = model.encode(grammar.EXAMPLES["single"])   # only its null-caption part is used
    cond = TextCond("batch", states, pooled, null.null_states, null.null_pooled)
    x = torch.stack([noise.gaussian(model.noise_shape, s) for s in seeds]) * model.prior_scale
    return model.decode(denoise(model, cond, x.to(model.device), model.sigmas(steps), solver, counter)).cpu()


def run_side(model, verifier, pairs, candidates: int, steps: int, seed: int, lo: int, hi: int,
             counter: Counter, solver: str | None = None) -> list[bool]:
    """Verdicts for captions lo..hi: each caption's best of `candidates` by the verifier, judged by the oracle."""
    hi = min(hi, len(pairs))
    captions = [c for _, c in pairs[lo:hi] for _ in range(candidates)]
    seeds = [seed + i * candidates + j for i in range(lo, hi) for j in range(candidates)]
    images = _images(model, captions, seeds, steps, solver, counter)
    if candidates > 1:
        scores = torch.cat([verifier.score(images[k: k + candidates], captions[k])
                            for k in range(0, len(captions), candidates)]).view(hi - lo, candidates)
        images = images.view(hi - lo, candidates, *images.shape[1:])[torch.arange(hi - lo), scores.argmax(1)]
    return [bool(oracle.evaluate(image, caption).ok) for image, (_, caption) in zip(to_uint8(images), pairs[lo:hi])]


SETTING = ("split", "captions", "candidates", "steps", "seed", "verifier")


def reused(path: str, args) -> tuple[list[bool], dict]:
    """Side a's verdicts and model record from an earlier result with the same setting, where a side was --a."""
    with open(path) as f:
        earlier = json.load(f)
    setting = {k: getattr(args, k) if k != "verifier" or args.candidates > 1 else None for k in SETTING}
    if any(earlier.get(k) != v for k, v in setting.items()):
        raise ValueError(f"--reuse-a: {path} was measured with {({k: earlier.get(k) for k in SETTING})}, not {setting}")
    side = next((key for key in ("a", "b") if earlier[key] == args.a), None)
    if side is None:
        raise ValueError(f"--reuse-a: neither side of {path} ({earlier['a']}, {earlier['b']}) is --a {args.a}")
    return earlier[side + "_verdicts"], earlier[side + "_model"]


def compare(args) -> dict:
    specs = (("b", args.b),) if args.reuse_a else (("a", args.a), ("b", args.b))
    sides = {key: load_side(spec, args.dtype, args.guidance, args.device) for key, spec in specs}
    verifier = None
    if args.candidates > 1:
        from tsearch.verifiers import load_verifier

        verifier = load_verifier(args.verifier, model=sides["b"], device=args.device)
    plans = {key: side_options(spec)[2] for key, spec in specs}
    steps = {key: plan.get("steps", args.steps) for key, plan in plans.items()}
    pairs = captions_for(args.split, args.captions, args.seed)
    verdicts, seconds, counters = {"a": [], "b": []}, {"a": 0.0, "b": 0.0}, {"a": Counter(), "b": Counter()}
    per_batch = max(1, args.batch_size // args.candidates)
    for lo in range(0, len(pairs), per_batch):
        for key, model in sides.items():   # interleaved: both sides see the same machine load
            t0 = time.perf_counter()
            verdicts[key] += run_side(model, verifier, pairs, args.candidates, steps[key], args.seed, lo, lo + per_batch,
                                      counters[key], plans[key].get("solver"))
            seconds[key] += time.perf_counter() - t0
    records = {key: {"dtype": str(m.dtype).removeprefix("torch."), "guidance": m.guidance, "nfe_per_eval": m.nfe_per_eval,
                     "steps": steps[key], "solver": plans[key].get("solver", m.default_solver),
                     "nfe": counters[key].nfe, "seconds": round(seconds[key], 1)} for key, m in sides.items()}
    if args.reuse_a:
        verdicts["a"], records["a"] = reused(args.reuse_a, args)
    a, b = np.array(verdicts["a"]), np.array(verdicts["b"])
    categories = dict.fromkeys(cat for cat, _ in pairs)
    result = {"a": args.a, "b": args.b, "split": args.split, "captions": len(pairs), "candidates": args.candidates,
              "steps": args.steps, "seed": args.seed, "threads": torch.get_num_threads(),
              "verifier": args.verifier if args.candidates > 1 else None}
    for key, v in (("a", a), ("b", b)):
        result[key + "_model"] = records[key]
        result[key + "_overall"] = float(v.mean())
        result[key + "_per_category"] = {c: float(v[[cat == c for cat, _ in pairs]].mean()) for c in categories}
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    result.update(differ=a_only + b_only, a_only=a_only, b_only=b_only, difference_points=100 * float(b.mean() - a.mean()),
                  sign_test_p=sign_test(a_only, b_only),
                  speed_b_over_a=None if args.reuse_a else seconds["a"] / max(seconds["b"], 1e-9),
                  a_verdicts=[bool(x) for x in a], b_verdicts=[bool(x) for x in b])
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", default="shapes-teacher:float32", 
                        help="MODEL[:DTYPE][@guidance=W,steps=N,solver=S], the reference side")
    parser.add_argument("--b", default="shapes-teacher:bfloat16", help="MODEL[:DTYPE][@...], the side compared with it")
    parser.add_argument("--dtype", default="float32", help="the dtype of a side that names none")
    parser.add_argument("--split", choices=["easy", "hard"], default="easy",
                        help="easy: eval-shapes' captions (a multiple of 6); hard: the arena's hard split")
    parser.add_argument("--captions", type=int, default=240)
    parser.add_argument("--candidates", type=int, default=1, help="1: no search; more: random search, best by --verifier")
    parser.add_argument("--verifier", default="shapes-clip")
    parser.add_argument("--steps", type=int, default=10, help="per candidate (a side's @steps= wins)")
    parser.add_argument("--guidance", type=float, default=None, help="default: each model's own (a side's @guidance= wins)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=48, help="samples denoised together")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reuse-a", default=None, help="side a's verdicts from this earlier --out (same setting)")
    parser.add_argument("--out", default=None, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = compare(args)
    print(f"{r['captions']} {r['split']} captions, {r['candidates']} candidate(s), {r['steps']} steps, "
          f"{r['threads']} thread(s)")
    for key in ("a", "b"):
        m, cats = r[key + "_model"], "  ".join(f"{c} {100 * v:.0f}%" for c, v in r[key + "_per_category"].items())
        print(f"  {key}: {r[key]:32s} {m['dtype']:8s} guidance {m['guidance']:g}, {m['nfe_per_eval']} pass(es), "
              f"{m.get('steps', r['steps'])} {m.get('solver', 'dpmpp-2m')} steps: "
              f"{100 * r[key + '_overall']:.1f}%  {cats}  ({m['seconds']} s)")
    print(f"  b - a: {r['difference_points']:+.1f} points; verdicts differ on {r['differ']} "
          f"({r['a_only']} only a, {r['b_only']} only b), sign test p = {r['sign_test_p']:.3f}; "
          + ("" if r["speed_b_over_a"] is None else f"b is {r['speed_b_over_a']:.2f}x as fast as a (interleaved)"))
    if args.out:
        with open(args.out, "w") as f:
            f.write(jsonio.dumps(r, indent=1))
    return r


if __name__ == "__main__":
    main()
