"""Dispatch `python -m tsearch.bench NAME [options]` to tsearch.bench.NAME.main."""

import importlib
import sys

BENCHES = {"engine": "tsearch.bench.engine", "scaling": "tsearch.bench.scaling",
           "eval-shapes": "tsearch.bench.eval_shapes", "eval-digits": "tsearch.bench.eval_digits",
           "code-paths": "tsearch.bench.code_paths", "solvers": "tsearch.bench.solvers",
           "scaling-algorithms": "tsearch.bench.scaling_algorithms",
           "app-latency": "tsearch.bench.app_latency", "soak": "tsearch.bench.soak",
           "draft-commit": "tsearch.bench.draft_commit", "parity": "tsearch.bench.parity",
           "accel": "tsearch.bench.accel", "parts-agreement": "tsearch.bench.parts_agreement",
           "first-candidate": "tsearch.bench.first_candidate", "flops": "tsearch.bench.flops"}

if len(sys.argv) < 2 or sys.argv[1] not in BENCHES:
    print(f"usage: python -m tsearch.bench {{{','.join(BENCHES)}}} [options]", file=sys.stderr)
    sys.exit(2)
importlib.import_module(BENCHES[sys.argv[1]]).main(sys.argv[2:])
