"""Draft-then-commit against plain best-of-N at equal NFEs on weak shapes captions (issue 19, item 6).

    python -m tsearch.bench draft-commit --captions 8 [--candidates 16] [--draft-steps 4] [--steps 10]
        [--top 2] [--prompts sweeps/shapes_hard.jsonl] [--out results.jsonl]
    python -m tsearch.bench draft-commit --report results.jsonl   # the tally of lines measured so far

For every caption (drawn with a seed from the grammar's colour-attribution and position categories,
alternating, where the model alone is weak; or the first --captions lines of a prompts file), the same
search seed runs two random searches judged by the exact oracle (a held-out evaluator, never told):
  - best-of-N: N candidates at --steps steps, the best by shapes-clip;
  - drafts + commit: the same budget spent on drafts at --draft-steps steps, the best --top of them
    re-rendered at --steps steps (final_steps, final_top), the best commit by shapes-clip.
Prints each caption's oracle score for both, then the paired tally: accuracy, wins and losses, seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tsearch import api, jsonio
from tsearch.search import Costs
from tsearch.sweep.local import CachingLoader
from tsearch.verifiers.shapes_oracle import PASS_MARK
from tsearch.worlds.shapes import grammar

HARD = ("color_attr", "position")


def captions(count: int, seed: int, prompts: str | None) -> list[str]:
    """`count` captions: the first of a prompts file (one JSON object with "prompt" a line), or drawn
    from the grammar's weak categories, alternating, with `seed`."""
    if prompts:
        with open(prompts, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        return [row["prompt"] for row in rows[:count]]
    rng = np.random.default_rng(seed)
    return [grammar.random_caption(rng, HARD[i % len(HARD)]) for i in range(count)]


def one(loader, caption: str, seed: int, budget: int, steps: int, final: int | None, top: int) -> dict:
    """One random search on `caption`; the oracle's score of its best (the best commit, with `final`)."""
    config = api.config_from(model="shapes", prompt=caption, verifiers=["shapes-clip"], evaluators=["shapes-oracle"],
                             algorithm="random", budget=budget, steps=steps, final_steps=final,
                             final_top=top if final else 1, seed=seed)
    started = time.perf_counter()
    result = api.search(config, loader=loader)
    s = result.summary
    return {"oracle": s.best_evals[0], "nfe": s.nfe_spent, "draft_nfe": s.draft_nfe, "commit_nfe": s.final_nfe,
            "candidates": s.candidates, "seconds": time.perf_counter() - started}


def _passed(rows: list[dict], key: str) -> list[bool]:
    return [r[key]["oracle"] is not None and r[key]["oracle"] >= PASS_MARK for r in rows]


def report(rows: list[dict], args) -> None:
    """The paired tally: each side's oracle accuracy and seconds, and the captions where they differ."""
    ok, ok_dc = _passed(rows, "best_of_n"), _passed(rows, "draft_commit")
    seconds = {key: float(np.mean([r[key]["seconds"] for r in rows])) for key in ("best_of_n", "draft_commit")}
    wins = sum(b and not a for a, b in zip(ok, ok_dc))
    losses = sum(a and not b for a, b in zip(ok, ok_dc))
    print(f"{len(rows)} captions, {rows[0]['best_of_n']['nfe']} NFEs each:")
    print(f"  best-of-{args.candidates} at {args.steps} steps: {100 * np.mean(ok):.1f}% oracle-correct, "
          f"{seconds['best_of_n']:.2f} s/caption")
    print(f"  drafts at {args.draft_steps} steps + top {args.top} committed at {args.steps}: {100 * np.mean(ok_dc):.1f}% "
          f"oracle-correct, {seconds['draft_commit']:.2f} s/caption "
          f"({rows[0]['draft_commit']['candidates'] - args.top} drafts)")
    print(f"  paired: draft-commit right where best-of-N is wrong on {wins}, wrong where it is right on {losses}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench draft-commit", description=__doc__.split("\n")[0])
    parser.add_argument("--captions", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=16, help="best-of-N's N; the budget is N full candidates")
    parser.add_argument("--steps", type=int, default=10, help="full quality: best-of-N's steps and the commits'")
    parser.add_argument("--draft-steps", type=int, default=4)
    parser.add_argument("--top", type=int, default=2, help="drafts committed (final_top)")
    parser.add_argument("--seed", type=int, default=0, help="draws the captions; caption i searches with seed i")
    parser.add_argument("--prompts", default=None, help="a prompts .jsonl to take captions from instead")
    parser.add_argument("--out", default=None, help="append one JSON line per caption here")
    parser.add_argument("--report", default=None, help="only print the tally of the lines in this file (--out's)")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report, encoding="utf-8") as handle:
            return report([json.loads(line) for line in handle if line.strip()], args)
    loader, rows = CachingLoader(), []
    model = loader.load_model("shapes", "cpu", {})
    budget = args.candidates * Costs(model.default_solver, model.nfe_per_eval).full(args.steps)
    for i, caption in enumerate(captions(args.captions, args.seed, args.prompts)):
        row = {"caption": caption, "seed": i,
               "best_of_n": one(loader, caption, i, budget, args.steps, None, 1),
               "draft_commit": one(loader, caption, i, budget, args.draft_steps, args.steps, args.top)}
        rows.append(row)
        if args.out:   # a line per caption as it ends: a stopped bench keeps what it measured
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(jsonio.dumps(row) + "\n")
        print(f"{caption!r}: best-of-N {row['best_of_n']['oracle']}, draft-commit {row['draft_commit']['oracle']}",
              flush=True)
    report(rows, args)


if __name__ == "__main__":
    main()
