"""How well the shapes CLIP tells a caption from its contradictions, per category.

On fresh renders (a seed training never used), each image is scored against its true caption and
k = 4 contradicting captions (swapped colours or relation, wrong count or shape). "caption
pairwise" is how often the true caption outscores one contradiction; "beats all k" how often it
outscores all four. "image pairwise" is the search's own question: under the caption, does its
render outscore a render of a contradicting caption (one the caption is false of)? Best-of-N
picks the image the verifier ranks first, so these are the numbers that make search work. A
separate row uses only captions held out of training (compositional generalisation).

    python -m tsearch.worlds.shapes.eval_clip --clip assets/shapes/clip --per-category 250
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from tsearch.worlds.shapes import grammar
from tsearch.worlds.shapes.grammar import COLORS, RELATIONS, SHAPES, ObjectSpec, Spec


def all_captions(category: str | None = None) -> list[str]:
    """Every caption of the grammar (of one category), in a fixed order."""
    categories = grammar.CATEGORIES if category is None else (category,)
    specs = []
    for name in categories:
        if name == "single":
            specs += [Spec(name, (ObjectSpec(s),)) for s in SHAPES]
        elif name == "colors":
            specs += [Spec(name, (ObjectSpec(s, c),)) for s in SHAPES for c in COLORS]
        elif name == "counting":
            specs += [Spec(name, (ObjectSpec(s, None, n),)) for s in SHAPES for n in grammar.NUMBERS.values()]
        else:
            for a, b in itertools.permutations(SHAPES, 2):
                if name == "two_objects":
                    specs.append(Spec(name, (ObjectSpec(a), ObjectSpec(b))))
                elif name == "position":
                    specs += [Spec(name, (ObjectSpec(a), ObjectSpec(b)), r) for r in RELATIONS]
                else:
                    specs += [Spec(name, (ObjectSpec(a, ca), ObjectSpec(b, cb)))
                              for ca, cb in itertools.permutations(COLORS, 2)]
    return [grammar.caption_of(spec) for spec in specs]


def sample_with_captions(wanted: set[str], n: int, rng: np.random.Generator, categories) -> tuple[np.ndarray, list[str]]:
    """n renders whose captions are in `wanted` (rejection sampling over the given categories)."""
    from tsearch.worlds.shapes import data

    images, captions = [], []
    for _ in range(1000):
        more, texts = data.sample_pairs(max(4 * n, 64), rng, categories=list(categories))
        keep = [i for i, text in enumerate(texts) if text in wanted]
        images.append(more[keep])
        captions += [texts[i] for i in keep]
        if len(captions) >= n:
            return np.concatenate(images)[:n], captions[:n]
    raise ValueError(f"could not sample {n} renders of the captions {sorted(wanted)[:3]}...")


@torch.no_grad()
def accuracy_on(model, images: np.ndarray, captions: list[str], rng: np.random.Generator, k: int = 4) -> dict:
    """Caption side: true caption vs k contradictions of it, for each image. Image side: each image
    vs a render of a twin caption (one its caption is false of), under the image's caption."""
    from tsearch.worlds.shapes import data, hard_negatives
    from tsearch.worlds.shapes.render import render

    negatives = [data.contradicting_captions(text, rng, k=k) for text in captions]
    twins = np.zeros_like(images)
    for i, text in enumerate(captions):
        render(data.sample_scene(hard_negatives.twin(text, rng, negatives[i]), rng), out=twins[i])
    device = model.clip.logit_scale.device
    unit = lambda batch: torch.as_tensor(np.asarray(data.to_unit(batch)), dtype=torch.float32, device=device)  # noqa: E731
    image_emb, twin_emb = model.encode_images(unit(images)), model.encode_images(unit(twins))
    wins, alls, image_wins = [], [], []
    for i, text in enumerate(captions):
        text_emb = model.encode_texts([text] + negatives[i])
        scores = (image_emb[i] @ text_emb.T).cpu()
        wins.append((scores[0] > scores[1:]).float().mean().item())
        alls.append(float((scores[0] > scores[1:]).all()))
        image_wins.append(float(scores[0] > (twin_emb[i] @ text_emb[0]).cpu()))
    return {"pairwise": float(np.mean(wins)), "beats_all": float(np.mean(alls)),
            "image_pairwise": float(np.mean(image_wins)), "n": len(captions)}


def caption_accuracy(model, per_category: int, held_out: list[str], rng: np.random.Generator) -> dict:
    """{category: {"pairwise", "beats_all", "n"}} on fresh renders of trained captions, plus "held_out"."""
    held = set(held_out)
    results = {}
    for category in grammar.CATEGORIES:
        trained = set(all_captions(category)) - held
        images, captions = sample_with_captions(trained, per_category, rng, [category])
        results[category] = accuracy_on(model, images, captions, rng)
    if held:
        categories = sorted({grammar.category_of(text) for text in held})
        images, captions = sample_with_captions(held, per_category, rng, categories)
        results["held_out"] = accuracy_on(model, images, captions, rng)
    total = sum(results[c]["n"] for c in grammar.CATEGORIES)
    results["overall"] = {key: sum(results[c][key] * results[c]["n"] for c in grammar.CATEGORIES) / total
                          for key in ("pairwise", "beats_all", "image_pairwise")} | {"n": total}
    return results


def format_table(results: dict) -> str:
    lines = [f"{'category':12s} {'caption pairwise':>16s} {'beats all k':>11s} {'image pairwise':>14s} {'n':>6s}"]
    for name, row in results.items():
        lines.append(f"{name:12s} {row['pairwise']:16.3f} {row['beats_all']:11.3f} {row['image_pairwise']:14.3f} {row['n']:6d}")
    return "\n".join(lines)


def main(argv=None) -> None:
    from tsearch.worlds.shapes import clip_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="assets/shapes/clip", help="folder written by train_clip")
    parser.add_argument("--per-category", type=int, default=250)
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    model = clip_model.load(args.clip)
    log_file = Path(args.clip) / "train_log.json"
    held = json.loads(log_file.read_text()).get("held_out_captions", []) if log_file.is_file() else []
    results = caption_accuracy(model, args.per_category, held, np.random.default_rng(args.seed))
    print(json.dumps(results, indent=2) if args.json else format_table(results))


if __name__ == "__main__":
    main()
