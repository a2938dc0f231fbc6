"""How far `shapes-parts` agrees with the exact oracle on the generator's own candidates (issue 27).

    python -m tsearch.bench parts-agreement --per-category 8 --candidates 8 --out docs/bench/parts_agreement.txt

Captions: `per-category` of each of GenEval's six categories, drawn with np.random.default_rng([27_000, 1])
(a seed sequence no benchmark draws with; shapes-parts trained on captionless scenes). Each caption
gets a pool of `candidates` images from the bundled generator, candidate j of caption i from the
noise of seed 27_500_000 + i * candidates + j (far above every benchmark's noise seeds). On every pool:
- pass/fail accuracy: shapes-parts passes an image when every atom passes; the share of images where
  that matches the oracle's verdict (and the share where shapes-parts was undecidable);
- pairwise ranking agreement with the oracle (its ok + 0.5 partial score) over the pairs of the same pool
  that the oracle orders, for shapes-parts and shapes-clip (a verifier's tie counts one half), and over
  the pairs where exactly one image passes (best-of-N's question);
- tie rate: pools whose best verifier score is shared; and the oracle accuracy of each verifier's pick.
Writes a text table to --out and the same figures as strict JSON beside it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from tsearch import jsonio

DRAW = [27_000, 1]
RATES = (0.1, 0.2, 0.3)   # the noisy oracle's registered rungs, measured on the same pools for scale
NOISE_BASE = 27_500_000


def captions(per_category: int) -> list[tuple[str, str]]:
    from tsearch.worlds.shapes import grammar

    rng = np.random.default_rng(DRAW)
    return [(c, grammar.random_caption(rng, c)) for c in grammar.CATEGORIES for _ in range(per_category)]


def pairwise(reference: np.ndarray, scores: np.ndarray, only_pass_fail: bool = False, mark: float = 1.0) -> tuple[float, int]:
    """(agreements, pairs): pairs the reference orders (or where exactly one passes), ties scoring 1/2."""
    agree, pairs = 0.0, 0
    for i in range(len(reference)):
        for j in range(i + 1, len(reference)):
            if only_pass_fail and (reference[i] >= mark) == (reference[j] >= mark):
                continue
            if reference[i] == reference[j]:
                continue
            pairs += 1
            d = (reference[i] - reference[j]) * (scores[i] - scores[j])
            agree += 1.0 if d > 0 else 0.5 if scores[i] == scores[j] else 0.0
    return agree, pairs


def measure(per_category: int, candidates: int, steps: int, model_path: str | None = None) -> dict:
    from tsearch.bench.eval_shapes import generate
    from tsearch.models.shapes import build
    from tsearch.verifiers import load_verifier
    from tsearch.verifiers.shapes_oracle import PASS_MARK
    from tsearch.verifiers.shapes_parts import ShapesParts

    model = build(device="cpu", path=model_path)
    oracle, clip = load_verifier("shapes-oracle"), load_verifier("shapes-clip")
    parts: ShapesParts = load_verifier("shapes-parts")
    rungs = {f"e{rate}": load_verifier(f"shapes-oracle-e{rate}") for rate in RATES}
    rows, start = captions(per_category), time.time()
    kinds: dict[str, dict] = {}
    for i, (kind, caption) in enumerate(rows):
        seeds = [NOISE_BASE + i * candidates + j for j in range(candidates)]
        images = generate(model, [caption] * candidates, steps, noise_seeds=seeds).clamp(0, 1)
        truth = oracle.score(images, caption).numpy()
        explained = parts.atoms(images, caption)
        part_scores = np.array([e["score"] for e in explained])
        clip_scores = clip.score(images, caption).numpy()
        k = kinds.setdefault(kind, {"images": 0, "oracle_pass": 0, "parts_agree": 0, "parts_undecidable": 0,
                                    "parts_false_pass": 0, "parts_false_fail": 0,
                                    "pairs": 0, "pass_fail_pairs": 0, "parts_pairs": 0.0, "clip_pairs": 0.0,
                                    "parts_pf_pairs": 0.0, "clip_pf_pairs": 0.0, "pools": 0, "parts_ties": 0,
                                    "clip_ties": 0, "parts_pick": 0, "clip_pick": 0, "any_pass": 0})
        ok = truth >= PASS_MARK
        parts_ok = np.array([all(a["verdict"] == "pass" for a in e["atoms"]) for e in explained])
        k["images"] += candidates
        k["oracle_pass"] += int(ok.sum())
        k["parts_agree"] += int((ok == parts_ok).sum())
        k["parts_false_pass"] += int((parts_ok & ~ok).sum())
        k["parts_false_fail"] += int((~parts_ok & ok).sum())
        k["parts_undecidable"] += sum(any(a["verdict"] == "undecidable" for a in e["atoms"]) and
                                      not any(a["verdict"] == "fail" for a in e["atoms"]) for e in explained)
        for name, scores in (("parts", part_scores), ("clip", clip_scores)):
            agree, pairs = pairwise(truth, scores)
            k[f"{name}_pairs"] += agree
            agree_pf, pairs_pf = pairwise(truth, scores, only_pass_fail=True, mark=PASS_MARK)
            k[f"{name}_pf_pairs"] += agree_pf
            k[f"{name}_ties"] += int((scores == scores.max()).sum() > 1)
            k[f"{name}_pick"] += int(ok[int(np.argmax(scores))])
        _ladder(k, rungs, images, caption, truth, ok, PASS_MARK)
        k["pairs"] += pairs
        k["pass_fail_pairs"] += pairs_pf
        k["pools"] += 1
        k["any_pass"] += int(ok.any())
        print(f"{i + 1}/{len(rows)} {caption!r}: oracle passes {int(ok.sum())}/{candidates}, parts {int(parts_ok.sum())}, "
              f"agree {int((ok == parts_ok).sum())}; {time.time() - start:.0f}s", flush=True)
    first = next(iter(kinds.values()))
    total = {key: sum(k[key] for k in kinds.values()) for key in first if key not in rungs}
    total.update({name: {key: sum(k[name][key] for k in kinds.values()) for key in first[name]} for name in rungs})
    return {"per_category": per_category, "candidates": candidates, "steps": steps, "caption_draw": DRAW,
            "noise_seed_base": NOISE_BASE, "threads": torch.get_num_threads(), "seconds": round(time.time() - start, 1),
            "kinds": {kind: summary(k) for kind, k in {**kinds, "all": total}.items()}}


def _ladder(k: dict, rungs: dict, images, caption: str, truth: np.ndarray, ok: np.ndarray, mark: float) -> None:
    """Tally each noisy-oracle rung on one pool into k[rung]."""
    for name, rung in rungs.items():
        scores = rung.score(images, caption).numpy()
        k.setdefault(name, dict.fromkeys(("agree", "pairs", "pf_pairs", "ties", "pick"), 0))
        k[name]["agree"] += int((ok == (scores >= mark)).sum())
        k[name]["pairs"] += pairwise(truth, scores)[0]
        k[name]["pf_pairs"] += pairwise(truth, scores, only_pass_fail=True, mark=mark)[0]
        k[name]["ties"] += int((scores == scores.max()).sum() > 1)
        k[name]["pick"] += int(ok[int(np.argmax(scores))])


def _share(a, b):
    return None if not b else round(a / b, 4)


def summary(k: dict) -> dict:
    ladder = {name: {"accuracy": _share(r["agree"], k["images"]), "pairwise": _share(r["pairs"], k["pairs"]),
                     "pass_fail_pairwise": _share(r["pf_pairs"], k["pass_fail_pairs"]),
                     "tie_rate": _share(r["ties"], k["pools"]), "pick_accuracy": _share(r["pick"], k["pools"])}
              for name, r in k.items() if isinstance(r, dict)}
    return {"noisy_oracle": ladder, "images": k["images"], "pools": k["pools"], "oracle_pass_rate": _share(k["oracle_pass"], k["images"]),
            "parts_accuracy": _share(k["parts_agree"], k["images"]),
            "parts_false_pass": _share(k["parts_false_pass"], k["images"]),
            "parts_false_fail": _share(k["parts_false_fail"], k["images"]),
            "parts_undecidable": _share(k["parts_undecidable"], k["images"]),
            "pairs": k["pairs"], "parts_pairwise": _share(k["parts_pairs"], k["pairs"]),
            "clip_pairwise": _share(k["clip_pairs"], k["pairs"]),
            "pass_fail_pairs": k["pass_fail_pairs"], "parts_pass_fail_pairwise": _share(k["parts_pf_pairs"], k["pass_fail_pairs"]),
            "clip_pass_fail_pairwise": _share(k["clip_pf_pairs"], k["pass_fail_pairs"]),
            "parts_tie_rate": _share(k["parts_ties"], k["pools"]), "clip_tie_rate": _share(k["clip_ties"], k["pools"]),
            "parts_pick_accuracy": _share(k["parts_pick"], k["pools"]), "clip_pick_accuracy": _share(k["clip_pick"], k["pools"]),
            "oracle_pick_accuracy": _share(k["any_pass"], k["pools"])}


def table(result: dict) -> str:
    def pct(v):
        return "  -  " if v is None else f"{100 * v:5.1f}"
    head = ("kind", "images", "oracle pass", "parts acc", "false pass", "false fail", "undecided",
            "pairs", "parts pair", "clip pair", "p/f pairs", "parts p/f", "clip p/f", "parts ties", "clip ties",
            "pick parts", "pick clip", "pick oracle")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for kind, s in result["kinds"].items():
        lines.append(" | ".join([kind, str(s["images"]), pct(s["oracle_pass_rate"]), pct(s["parts_accuracy"]),
                                 pct(s["parts_false_pass"]), pct(s["parts_false_fail"]), pct(s["parts_undecidable"]),
                                 str(s["pairs"]), pct(s["parts_pairwise"]), pct(s["clip_pairwise"]), str(s["pass_fail_pairs"]),
                                 pct(s["parts_pass_fail_pairwise"]), pct(s["clip_pass_fail_pairwise"]),
                                 pct(s["parts_tie_rate"]), pct(s["clip_tie_rate"]), pct(s["parts_pick_accuracy"]),
                                 pct(s["clip_pick_accuracy"]), pct(s["oracle_pick_accuracy"])]))
    rungs = list(result["kinds"]["all"]["noisy_oracle"])
    head = ["kind", "parts acc", *(f"{r} acc" for r in rungs), "parts pair", *(f"{r} pair" for r in rungs),
            "parts p/f", *(f"{r} p/f" for r in rungs), *(f"{r} ties" for r in rungs), *(f"pick {r}" for r in rungs)]
    lines += ["", "The noisy oracle on the same pools (its seed 0), for scale:", "", " | ".join(head), " | ".join("---" for _ in head)]
    for kind, s in result["kinds"].items():
        ladder = s["noisy_oracle"]
        lines.append(" | ".join([kind, pct(s["parts_accuracy"]), *(pct(ladder[r]["accuracy"]) for r in rungs),
                                 pct(s["parts_pairwise"]), *(pct(ladder[r]["pairwise"]) for r in rungs),
                                 pct(s["parts_pass_fail_pairwise"]), *(pct(ladder[r]["pass_fail_pairwise"]) for r in rungs),
                                 *(pct(ladder[r]["tie_rate"]) for r in rungs), *(pct(ladder[r]["pick_accuracy"]) for r in rungs)]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=8, help="captions per category (six categories)")
    parser.add_argument("--candidates", type=int, default=8, help="generated images per caption (one pool)")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps per image")
    parser.add_argument("--weights", default=None, help="generator folder (default assets/shapes/generator)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="text table to write (JSON beside it, .json)")
    args = parser.parse_args(argv)
    for name in ("per_category", "candidates", "steps", "threads"):
        if getattr(args, name) < (2 if name == "candidates" else 1):
            parser.error(f"--{name.replace('_', '-')} must be at least {2 if name == 'candidates' else 1}, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    result = measure(args.per_category, args.candidates, args.steps, args.weights)
    text = (f"shapes-parts vs the exact oracle on generated candidates: {args.per_category} captions x 6 categories, "
            f"{args.candidates} candidates each, {args.steps} steps; caption draw default_rng({DRAW}), noise seeds from "
            f"{NOISE_BASE}. Percentages; 'pair' = pairwise ranking agreement with the oracle over the pairs it orders, "
            f"'p/f' = over pairs where exactly one image passes; 'pick' = oracle accuracy of each verifier's best "
            f"(oracle = some candidate passes).\n"
            f"Rerun: python -m tsearch.bench parts-agreement --per-category {args.per_category} --candidates "
            f"{args.candidates} --steps {args.steps} --out {args.out or 'FILE'}\n"
            f"{result['seconds']} s on {args.threads} thread(s)\n\n" + table(result) + "\n")
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(jsonio.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
