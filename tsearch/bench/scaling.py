"""`python -m tsearch.bench scaling --world shapes|digits`: does search beat more denoising steps?

shapes (issue 3, item 6): oracle accuracy of the chosen sample against the NFE budget, for random
search with each verifier (and their mean-rank ensemble), zero-order and paths, and for spending
the same NFEs on more denoising steps of one noise. Best-of-k for k < K is read off the first k
candidates of one K-candidate random search (the same noises a k-candidate search would draw).
digits (item 7): Inception-Score- and FID-style metrics against the budget, random vs zero-order,
to show where verifier hacking sets in. Prints tables; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench scaling")
    parser.add_argument("--world", required=True, choices=["shapes", "digits"])
    args, rest = parser.parse_known_args(argv)
    if args.world == "shapes":
        from tsearch.bench.scaling_shapes import run
    else:
        from tsearch.bench.scaling_digits import run
    report = run(rest)
    if report.get("json"):
        with open(report["json"], "w") as handle:
            json.dump(report, handle, indent=1)
        print(f"wrote {report['json']}", file=sys.stderr)
