"""`python -m tsearch.bench code-paths`: how far a Run click travels, and the largest functions.

Traces one app search on gmm (the handler behind the Run button) and counts the tsearch files and
functions whose code runs on the way to the denoiser's first call (and then in the whole search),
then lists the longest functions of the package by source lines. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def trace_run() -> tuple[list[str], list[str], list[str]]:
    """(files run before the first denoiser call, files run over the whole search, the call stack at that
    first call as file:function hops), relative to the package."""
    os.environ.setdefault("TSEARCH_APP_RUNS", str(Path(os.environ.get("TMPDIR", "/tmp")) / "tsearch-code-paths"))
    from tsearch.app import handlers
    from tsearch.app.state import Session

    to_denoiser: list[str] = []
    everything: list[str] = []
    reached = {"denoiser": False}

    def tracer(frame, event, arg):
        if event != "call":
            return None
        path = frame.f_code.co_filename
        if path.startswith(str(PACKAGE)) and "/worlds/" not in path:
            name = os.path.relpath(path, PACKAGE.parent)
            if name not in everything:
                everything.append(name)
            if not reached["denoiser"] and name not in to_denoiser:
                to_denoiser.append(name)
            if frame.f_code.co_name == "forward_x0" and not reached["denoiser"]:
                reached["denoiser"] = True
                stack, f = [], frame
                while f is not None:   # the path itself: the files on the call stack at that moment
                    where = f.f_code.co_filename
                    if where.startswith(str(PACKAGE)) and "/bench/" not in where:   # not this harness
                        hop = f"{os.path.relpath(where, PACKAGE.parent)}:{f.f_code.co_name}"
                        stack.append(hop)
                    f = f.f_back
                reached["stack"] = stack[::-1]
        return None

    kwargs = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40,
                  steps=4, seed=0, evaluator="", baseline=False, batch_size=4, session=Session())
    list(handlers.search(**kwargs))   # load and import everything once, untraced
    sys.setprofile(tracer)
    try:
        list(handlers.search(**kwargs))
    finally:
        sys.setprofile(None)
    return to_denoiser, everything, reached["stack"]


def largest_functions(count: int = 8) -> list[tuple[int, str]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((node.end_lineno - node.lineno + 1, f"{path.relative_to(PACKAGE.parent)}:{node.name}"))
    return sorted(found, reverse=True)[:count]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tsearch.bench code-paths", description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args(argv)
    to_denoiser, everything, stack = trace_run()
    files = list(dict.fromkeys(hop.split(":")[0] for hop in stack))
    print(f"the call path from the Run handler to the denoiser: {len(stack)} hops through {len(files)} files")
    for hop in stack:
        print(f"  {hop}")
    print(f"files run from the Run handler to the denoiser's first call: {len(to_denoiser)}")
    for name in to_denoiser:
        print(f"  {name}")
    print(f"files run over the whole search (there and back): {len(everything)}")
    print("largest functions (source lines):")
    for lines, name in largest_functions(args.top):
        print(f"  {lines:4d}  {name}")


if __name__ == "__main__":
    main()
