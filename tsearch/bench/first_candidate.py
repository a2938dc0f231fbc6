"""When the first candidate arrives through the Python API's stream, in shares of the run (issue 28).

    python -m tsearch.bench first-candidate [--model shapes] [--candidates 16] [--reps 5] [--threads 1]

A search of --candidates random candidates runs through `tsearch.stream` (the engine's default: the first
candidate goes alone, `engine.run(first_alone=True)`; on a model that pads its calls, one row unpadded, marked
so in its recipe) and, interleaved with it, through the engine with the whole first batch (`first_alone=False`,
as `search()` and sweeps run). For each: the seconds until the first `CandidateScored`, the run's seconds, and
their ratio to one candidate's share of the run (run seconds / candidates). Prints the median ratio of each and
checks that both give the same candidates (ids, NFEs, recipes but for the unpadded mark) and how many scores
agree to the bit (the first candidate's, computed unpadded, and any the verifier scored in another batch may
differ in the last bits).
The model, verifiers and calibration are loaded and measured once before timing (a warm process, as the
app and a notebook are); speed only as ratios on one machine, named with its CPU and thread count.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from tsearch import api, engine, jsonio
from tsearch.events import CandidateScored, SearchDone
from tsearch.sweep.local import CachingLoader

DEFAULTS = {"shapes": ("a red circle and a blue square", "shapes-clip"),
            "digits": ("3", "digits-classifier"), "gmm": ("1", "gmm-density")}


def timed(events) -> dict:
    """Seconds to the first candidate and to the end, and the candidates' (id, nfe_spent, score) rows."""
    started, first, rows = time.perf_counter(), None, []
    for event in events:
        if isinstance(event, CandidateScored):
            first = first if first is not None else time.perf_counter() - started
            plain = tuple(tuple(sorted((k, str(v)) for k, v in op.items() if k != "unpadded"))
                          for op in event.candidate.recipe)
            rows.append((event.candidate.id, event.candidate.nfe_spent, plain, event.candidate.score))
        elif isinstance(event, SearchDone):
            break
    total = time.perf_counter() - started
    return {"first": first, "total": total, "ratio": first / (total / len(rows)), "rows": rows}


def lone_row(plan, batch_size: int, reps: int = 5) -> float | None:
    """One sample's integration (the run's steps) on one unpadded row, over one sample's part of the same
    integration of a padded batch of `batch_size` (the median of `reps` interleaved pairs, after one to warm up):
    r, whence the floor of the first candidate's ratio, about c r / (r + c) with c candidates. None for a model
    that does not pad its calls."""
    from tsearch import recipes
    from tsearch.search.base import Gaussian, Integrate

    model = plan.model
    if (getattr(model, "micro_batch", None) or 1) <= 1:
        return None
    cond, solver = model.encode(plan.condition), plan.config.solver or model.default_solver

    def seconds(rows: int, alone: bool) -> float:
        ops = [(Gaussian(seed), Integrate(1.0, 0.0, plan.steps, unpadded=alone)) for seed in range(rows)]
        x = recipes.start_states(model, ops)
        started = time.perf_counter()
        recipes.apply_ops(model, cond, x, [recipes.flow_ops(o) for o in ops], solver, recipes.Counter())
        return time.perf_counter() - started

    ratios = [seconds(1, True) / (seconds(batch_size, False) / batch_size) for _ in range(reps + 1)]
    return statistics.median(ratios[1:])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench first-candidate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="shapes", choices=sorted(DEFAULTS))
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    condition, verifier = DEFAULTS[args.model]
    loader = CachingLoader()
    probe = api.prepare(model=args.model, condition=condition, verifiers=[verifier], loader=loader)
    cost = probe.costs.full(probe.steps)
    config = api.config_from(model=args.model, condition=condition, verifiers=[verifier], algorithm="random",
                             budget=args.candidates * cost, batch_size=args.batch_size, seed=args.seed,
                             options={"per_round": args.candidates})
    timed(api.stream(config, loader=loader))   # warm-up: loads, calibrates, counts FLOPs
    ways = {"api stream (first alone)": lambda: api.stream(config, loader=loader),
            "whole first batch": lambda: engine.run(api.prepare(config, loader=loader),
                                                      first_alone=False)}
    results = {name: [] for name in ways}
    for rep in range(args.reps):
        for name, start in (ways.items() if rep % 2 == 0 else reversed(ways.items())):   # interleaved, alternating
            results[name].append(timed(start()))
    row = lone_row(probe, args.batch_size)
    every = [r["rows"] for runs in results.values() for r in runs]
    same = len({tuple(row[:3] for row in rows) for rows in every}) == 1
    bitwise = sum(len({rows[i][3] for rows in every}) == 1 for i in range(len(every[0]))) if same else 0
    drift = max(abs(rows[i][3] - every[0][i][3]) for rows in every for i in range(len(rows))) if same else None
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if platform.system() == "Linux" else platform.processor()
    print(f"{args.model}: {args.candidates} candidates of {cost} NFEs, batch size {args.batch_size}, {args.reps} reps "
          f"interleaved; {cpu}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s)")
    summary = {"model": args.model, "candidates": args.candidates, "batch_size": args.batch_size,
               "threads": torch.get_num_threads(), "cpu": cpu, "same_candidates": same, "scores_bitwise_equal": bitwise,
               "largest_score_difference": drift, "lone_row_over_share": row, "ways": {}}
    for name, runs in results.items():
        ratio = statistics.median(r["ratio"] for r in runs)
        first = statistics.median(r["first"] for r in runs)
        total = statistics.median(r["total"] for r in runs)
        summary["ways"][name] = {"median_ratio": ratio, "ratios": [r["ratio"] for r in runs],
                                 "median_first_s": first, "median_total_s": total}
        ratios = ", ".join(f"{r['ratio']:.2f}" for r in runs)
        print(f"  {name:26s} first candidate at {ratio:.2f}x one candidate's share "
              f"(median first {first:.3f} s of {total:.3f} s; ratios {ratios})")
    if row is not None:
        print(f"  one sample integrated alone, unpadded, costs {row:.2f}x its share of a padded batch of {args.batch_size} "
              f"(the floor of the first candidate's ratio: {args.candidates * row / (row + args.candidates):.2f}x)")
    print(f"  same candidates, recipes (but the unpadded mark) and NFEs both ways: {same}; scores equal to the bit: "
          f"{bitwise} of {len(every[0])}, the largest difference {drift if drift is None else f'{drift:.2g}'}")
    print(jsonio.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
