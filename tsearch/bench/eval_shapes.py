"""The shapes generator's quality bar (issue 3): oracle accuracy with no search.

    python -m tsearch.bench.eval_shapes --weights assets/shapes/generator \
        --captions 240 --steps 20 --guidance 1 2 3 [--dtype bfloat16] [--solver heun] [--out results.json]

Captions are drawn per category from a fixed seed (captions/6 each, GenEval's six categories,
Ghosh et al. 2023); caption i is denoised from the noise of seed i, one sample each, with the
model's default solver (or --solver) and dtype (or --dtype); the oracle judges each image. Prints
overall and per-category accuracy for every (weights, steps, guidance) asked for. The bar: overall between 30% and 80%, every category >= 10%.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from tsearch import jsonio, noise
from tsearch.recipes import Counter, denoise
from tsearch.models.base import dtype_name
from tsearch.models.shapes import TextCond, build
from tsearch.worlds.shapes import grammar, oracle


BAR_OVERALL = (0.30, 0.80)  # recognisable, yet imperfect enough for search to matter (issue 3)
BAR_CATEGORY = 0.10


def eval_captions(count: int, seed: int = 0, split: str = "easy") -> list[tuple[str, str]]:
    """(category, caption) pairs: count / 6 per category, drawn with a fixed seed; or the hard split's."""
    if split == "hard":
        return [(r["category"], r["prompt"]) for r in grammar.split_captions("hard", count, seed)]
    if count % len(grammar.CATEGORIES):
        raise ValueError(f"--captions must be a multiple of {len(grammar.CATEGORIES)} (one share per category), got {count}")
    rng = np.random.default_rng(seed)
    per = count // len(grammar.CATEGORIES)
    return [(c, grammar.random_caption(rng, c)) for c in grammar.CATEGORIES for _ in range(per)]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[b, 3, H, W] in [0, 1] -> uint8 [b, H, W, 3], the renderer's format."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def scaling_setting(seed: int, per_category: int = 2) -> tuple[list[tuple[str, str]], list[int]]:
    """The captions of `bench scaling --world shapes --per-category P --seed S` and the noise seed of each one's
    first random-search candidate (the sweep gives every caption search seed S): its no-search sample."""
    from types import SimpleNamespace

    from tsearch.bench.scaling import _prompts

    rows = _prompts(SimpleNamespace(seed=seed, per_category=per_category, captions=None))
    first = int(np.random.default_rng(seed).integers(2**31))   # tsearch.search.random's first Gaussian op
    return [(r["category"], r["prompt"]) for r in rows], [first] * len(rows)


def generate(model, captions: list[str], steps: int, batch_size: int = 48, seed: int = 0,
             solver: str | None = None, noise_seeds: list[int] | None = None,
             counter: Counter | None = None) -> torch.Tensor:
    """One image per caption, caption i from noise seed (seed + i) or noise_seeds[i]; captions batched together
    (NFEs counted into `counter`)."""
    sigmas = model.sigmas(steps)
    null = model.encode(grammar.EXAMPLES["single"])  # only its null-caption part is used
    out = []
    for lo in range(0, len(captions), batch_size):
        chunk = captions[lo: lo + batch_size]
        states, pooled = model.generator.text_encoder.encode(chunk)
        cond = TextCond("batch", states, pooled, null.null_states, null.null_pooled)
        seeds = noise_seeds[lo: lo + batch_size] if noise_seeds else [seed + lo + i for i in range(len(chunk))]
        x = torch.stack([noise.gaussian(model.noise_shape, s) for s in seeds]) * model.prior_scale
        out.append(model.decode(denoise(model, cond, x.to(model.device), sigmas, solver, counter)).cpu())
    return torch.cat(out)


def evaluate(weights: str | None, captions: int, steps: int, guidance: float | None, device: str = "cpu",
             seed: int = 0, batch_size: int = 48, dtype: str | None = None, solver: str | None = None,
             scaling_seeds: list[int] | None = None, per_category: int = 2, split: str = "easy") -> dict:
    model = build(device=device, path=weights, guidance=guidance, dtype=dtype)
    pairs, noise_seeds = eval_captions(captions, seed, split), None
    if scaling_seeds:
        pairs, noise_seeds = [], []
        for s in scaling_seeds:
            p, n = scaling_setting(s, per_category)
            pairs, noise_seeds = pairs + p, noise_seeds + n
    start, counter = time.time(), Counter()
    images = to_uint8(generate(model, [c for _, c in pairs], steps, batch_size, seed, solver, noise_seeds, counter))
    seconds = time.time() - start
    verdicts = [bool(oracle.evaluate(image, caption).ok) for image, (_, caption) in zip(images, pairs)]
    per_category = {
        c: float(np.mean([ok for ok, (cat, _) in zip(verdicts, pairs) if cat == c]))
        for c in dict.fromkeys(cat for cat, _ in pairs)
    }
    overall = float(np.mean(verdicts))
    return {
        "steps": steps, "guidance": model.guidance, "captions": len(pairs), "dtype": dtype_name(model.dtype),
        "solver": solver or model.default_solver, "scaling_seeds": scaling_seeds,
        "overall": overall, "per_category": per_category,
        "meets_bar": BAR_OVERALL[0] <= overall <= BAR_OVERALL[1] and min(per_category.values()) >= BAR_CATEGORY,
        "nfe": counter.nfe, "seconds": round(seconds, 1),
        "seconds_per_batch_step": round(seconds / (steps * -(-len(pairs) // batch_size)), 4), "batch_size": batch_size,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="+", default=[None], help="generator folder(s) (default assets/shapes/generator)")
    parser.add_argument("--captions", type=int, default=240)
    parser.add_argument("--steps", type=int, nargs="+", default=[20])
    parser.add_argument("--guidance", type=float, nargs="+", default=[None], help="default: the model's own")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=48, help="captions denoised together")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default=None, help="float32, bfloat16, float16 or auto (default: the model's)")
    parser.add_argument("--solver", default=None, help="default: the model's own")
    parser.add_argument("--scaling-seeds", type=int, nargs="+", default=None,
                        help="instead of --captions: the captions and first-candidate noises of "
                             "`bench scaling --world shapes --per-category P --seed S` for each S (no search)")
    parser.add_argument("--per-category", type=int, default=2, help="with --scaling-seeds: as that bench's flag")
    parser.add_argument("--split", choices=["easy", "hard"], default="easy",
                        help="hard: the arena's hard split (colour attribution, position, counting of 3-4)")
    parser.add_argument("--out", default=None, help="also write the results as a JSON list to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    for weights, steps, guidance in itertools.product(args.weights, args.steps, args.guidance):
        result = {"weights": weights, **evaluate(weights, args.captions, steps, guidance, args.device, args.seed,
                                                 args.batch_size, args.dtype, args.solver, args.scaling_seeds,
                                                 args.per_category, args.split)}
        cats = "  ".join(f"{c} {100 * a:.0f}%" for c, a in result["per_category"].items())
        print(f"{weights or 'default'} steps {steps} guidance {result['guidance']:g} {result['dtype']} "
              f"{result['solver']}: "
              f"overall {100 * result['overall']:.1f}%  {cats}  ({result['seconds']}s)"
              f"{'  meets the bar' if result['meets_bar'] else ''}", flush=True)
        results.append(result)
    if args.out:
        with open(args.out, "w") as f:
            f.write(jsonio.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
