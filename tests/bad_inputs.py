"""`python -m tests.bad_inputs [--json] [--timeout S] [--only cli,api,app] [--verbose]`: the bad-input tally.

A catalogue of bad inputs (and a few legitimately valid ones) for the three front doors: the CLI
(`tsearch.cli.main(argv)`), the Python API (`tsearch.search(...)`, `SearchConfig`) and the app's
handlers (`search`, `compare`, `load`, `export`, called as gradio calls them, without a server).
Each case runs in a daemon thread with a timeout and is classified as

    clear             refused (CLI: exit 2 with one `error:` line; API: ValueError, or the registry's
                      Unavailable; app: gr.Error) with a one-line message containing the case's needle
    unclear           refused the same way, but the needle is missing or the message has several lines
    crash             any other exception type or exit code, or a traceback on stderr (in the app, any
                      exception but gr.Error: gradio shows "the upstream Gradio app has raised an exception")
    hang              still running at the timeout (its search is asked to stop; it is then left alone)
    wrongly accepted  it ran although it should have been refused

and the cases marked valid as "accepted (valid)", or "refused (valid)" when they were refused.
Needles are matched case-insensitively as whole words (`budget` matches `--budget`, not `budgets`).
Every search is tiny (gmm or shapes, budgets <= 200, steps <= 4) and runs with one torch thread;
runs go to a temporary folder (also $TSEARCH_APP_RUNS), removed at the end. It is a catalogue the tests' authors
run by hand (it lived in tsearch/bench until issue 17), not a pytest module.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

OUTCOMES = ("clear", "unclear", "crash", "hang", "wrongly accepted")
VALID_OUTCOMES = ("accepted (valid)", "refused (valid)")
INTERFACES = ("cli", "api", "app")
PACKAGE = Path(__import__("tsearch").__file__).resolve().parent
DROP = object()   # a keyword left out of the call

_local = threading.local()   # per case thread: its stdout/stderr buffers, its cancel event, the CLI's error origin


# --- the catalogue ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    interface: str                       # "cli", "api" or "app"
    label: str
    call: Callable[["Context"], Any]     # CLI: returns argv; API/app: makes the call and returns what it returns
    needle: tuple[str, ...]              # any one of these words makes a refusal clear
    valid: bool = False                  # legitimately valid: expected to run
    code: int = 2                        # CLI: the exit status of a clear refusal (1: some of its work failed)
    around: Callable[[], Any] | None = None   # a context manager the case runs inside (a patch it needs)


@dataclass
class Result:
    interface: str
    label: str
    outcome: str
    message: str
    kind: str = ""          # exit code or exception type
    origin: str = ""        # where the message (or the exception) came from: file:function:line
    seconds: float = 0.0


def _needles(needle) -> tuple[str, ...]:
    return (needle,) if isinstance(needle, str) else tuple(needle)


CUSTOM_MODULE = "bad_inputs_verifiers"
CUSTOM_SOURCE = '''
import time
import torch

not_callable = 3


def all_nan(images, condition):   # "module:function" verifiers get a list of PIL images
    return torch.full((len(images),), float("nan"))


def raises(images, condition):
    raise RuntimeError("the scorer broke")


def a_string(images, condition):
    return "high"


def nothing(images, condition):
    return None


def wrong_length(images, condition):
    return torch.zeros(len(images) + 1)


def two_columns(images, condition):
    return torch.zeros(len(images), 3)


def no_arguments():
    return 1.0


def slow(images, condition):
    time.sleep(4)
    return [0.0] * len(images)
'''


# --- CLI cases ------------------------------------------------------------------------------------------------------
def _argv(*extra, model="gmm", cond=("--class", "1"), verifier=("gmm-density",), algorithm="random", budget="40",
          steps="4") -> list[str]:
    """`run` on gmm with a tiny budget; `extra` flags come last (argparse keeps a repeated flag's last value)."""
    argv = ["run"]
    if model is not None:
        argv += ["--model", model]
    argv += list(cond or ())
    for name in verifier or ():
        argv += ["--verifier", name]
    if algorithm is not None:
        argv += ["--algorithm", algorithm]
    if budget is not None:
        argv += ["--budget", budget]
    if steps is not None:
        argv += ["--steps", steps]
    return argv + list(extra)


SHAPES = dict(model="shapes", cond=("--prompt", "a red circle"), verifier=("shapes-clip",), budget="8", steps="2")


def cli_cases() -> list[Case]:
    cases: list[Case] = []

    def add(label, argv, needle, valid=False, code=2, around=None):
        cases.append(Case("cli", label, argv if callable(argv) else (lambda ctx, a=argv: a), _needles(needle), valid,
                          code, around))

    _cli_cases_1(add)
    _cli_cases_2(add)
    _cli_cases_3(add)
    _cli_cases_4(add)
    _cli_cases_5(add)
    return cases


def _cli_cases_1(add) -> None:
    # the command line itself
    add("no command", [], "command")
    add("unknown command", ["fly"], "command")
    add("run with no flags", ["run"], "--model")
    add("run with only --model", ["run", "--model", "gmm"], "--verifier")
    add("missing --budget", _argv(budget=None), "--budget")
    add("missing --class/--prompt", _argv(cond=()), ("--class", "--prompt"))
    add("missing --verifier", _argv(verifier=()), "--verifier")
    add("missing --algorithm", _argv(algorithm=None), "--algorithm")
    add("unknown flag --bogus", _argv("--bogus", "3"), "--bogus")
    add("--seed without its value", _argv("--seed"), "--seed")
    add("--prompt and --class together", _argv("--prompt", "a cat"), ("--prompt", "--class"))
    # whole-number flags
    for flag, values in (("--budget", ["0", "-5", "1.5", "abc", "nan", "inf", "", "1e400"]),
                         ("--steps", ["0", "-1", "2.5", "abc", "inf"]),
                         ("--seed", ["-1", str(2**63), "1.5", "abc", "", "nan"]),
                         ("--batch-size", ["0", "-3", "x", "2.5"]),
                         ("--final-steps", ["0", "abc", "-2"])):
        for value in values:
            add(f"{flag} {value!r}", _argv(flag, value), flag)
    add("--budget 3 (below one candidate's cost)", _argv("--budget", "3"), "budget")
    add("--steps 10**9 (beyond the budget)", _argv("--steps", str(10**9)), ("steps", "budget"))
    add("--final-steps 1000 (beyond the budget)", _argv("--final-steps", "1000"), ("final", "final-steps"))
    # the condition
    add("--class -1", _argv(cond=("--class", "-1")), ("class", "cls"))
    add("--class 4 (gmm has 0..3)", _argv(cond=("--class", "4")), ("class", "cls"))
    add("--class 10**30", _argv(cond=("--class", str(10**30))), ("class", "cls"))
    add("--class 2.5", _argv(cond=("--class", "2.5")), ("class", "cls"))
    add("--class ''", _argv(cond=("--class", "")), ("class", "cls"))
    add("--class nan", _argv(cond=("--class", "nan")), ("class", "cls"))
    add("--prompt on a class model", _argv(cond=("--prompt", "a cat")), ("class", "cls", "prompt"))
    add("shapes with --class", _argv(**{**SHAPES, "cond": ("--class", "1")}), "prompt")
    add("shapes with --prompt ''", _argv(**{**SHAPES, "cond": ("--prompt", "")}), "prompt")
    add("shapes with a 5000-character prompt", _argv(**{**SHAPES, "cond": ("--prompt", "a red circle " * 400)}),
        "prompt")
    add("shapes with a caption outside its grammar", _argv(**{**SHAPES, "cond": ("--prompt", "zzz qqq")}),
        ("prompt", "caption"))
    # the model
    add("--model ''", _argv(model=""), "model")
    add("--model nope", _argv(model="nope"), "model")
    add("--model GMM (wrong case)", _argv(model="GMM"), "model")
    add("--model no-org/no-model (hub id, offline)", _argv(model="no-org/no-model"), "model")
    add("--model /nonexistent/folder", _argv(model="/nonexistent/folder"), ("model", "folder"))


def _cli_cases_2(add) -> None:
    add("--model sdxl (weights not here)", _argv(model="sdxl", cond=("--prompt", "a cat"), verifier=("clipscore",)),
        "sdxl")
    # verifiers and evaluators
    add("--verifier nope", _argv(verifier=("nope",)), ("verifier", "nope"))
    add("--verifier ''", _argv(verifier=("",)), ("verifier", "verifiers"))
    add("--verifier gmm-density --verifier nope", _argv(verifier=("gmm-density", "nope")), ("verifier", "nope"))
    add("--verifier from another world", _argv(verifier=("shapes-clip",)), ("verifier", "shapes-clip"))
    add("--verifier module that does not import", _argv(verifier=("no_such_module_xyz:f",)), "no_such_module_xyz")
    add("--verifier function that does not exist", _argv(verifier=(f"{CUSTOM_MODULE}:missing_fn",)), "missing_fn")
    add("--verifier attribute that is not callable", _argv(verifier=(f"{CUSTOM_MODULE}:not_callable",)),
        "not_callable")
    for name, needle in (("raises", ("raises", "scorer broke")), ("a_string", "a_string"), ("nothing", "nothing"),
                         ("wrong_length", "wrong_length"), ("two_columns", "two_columns"),
                         ("no_arguments", "no_arguments")):
        add(f"custom verifier {name}", _argv(verifier=(f"{CUSTOM_MODULE}:{name}",)), needle)
    add("--evaluator nope", _argv("--evaluator", "nope"), ("evaluator", "nope"))
    add("--evaluator ''", _argv("--evaluator", ""), ("evaluator", "evaluators"))
    add("--evaluator from another world", _argv("--evaluator", "shapes-oracle"), ("evaluator", "shapes-oracle"))
    # algorithm, solver, device, dtype, guidance
    for value in ("nope", "", "Random"):
        add(f"--algorithm {value!r}", _argv(algorithm=value), "--algorithm")
    add("--solver rk4", _argv("--solver", "rk4"), "--solver")
    for value in ("tpu9", "cuda:99", "", "mps", "cpu:abc"):
        add(f"--device {value!r}", _argv("--device", value), "device")
    add("--dtype float64", _argv("--dtype", "float64"), "--dtype")
    add("--dtype bfloat16 on gmm", _argv("--dtype", "bfloat16"), "dtype")
    add("--guidance 7 on gmm", _argv("--guidance", "7"), "guidance")
    add("--guidance abc", _argv("--guidance", "abc"), "--guidance")
    add("--guidance -1", _argv("--guidance", "-1"), "--guidance")
    add("--height 64 on gmm", _argv("--height", "64"), "--height")
    add("--width 0", _argv("--width", "0"), "--width")
    add("--negative-prompt on gmm", _argv("--negative-prompt", "blurry"), "--negative-prompt")
    add("--max-sequence-length 2.5", _argv("--max-sequence-length", "2.5"), "--max-sequence-length")
    add("--height 64 on shapes", _argv("--height", "64", model="shapes", cond=("--prompt", "a circle"),
                                       verifier=("shapes-clip",)), ("--height", "shapes"))
    add("valid: --guidance 2 on shapes", _argv("--guidance", "2", model="shapes", cond=("--prompt", "a circle"),
                                               verifier=("shapes-clip",), budget="8", steps="2"), "", valid=True)
    # algorithm options
    zo = dict(algorithm="zero-order", budget="60")
    add("--n 0 (zero-order)", _argv("--n", "0", **zo), ("n", "--n"))
    add("--n 2.5 (zero-order)", _argv("--n", "2.5", **zo), "--n")
    add("--lam 1.5", _argv("--lam", "1.5", **zo), "lam")
    add("--lam nan", _argv("--lam", "nan", **zo), "lam")
    add("--lam abc", _argv("--lam", "abc", **zo), "--lam")
    add("--lam 0.5 with random", _argv("--lam", "0.5"), "lam")


def _cli_cases_3(add) -> None:
    zo = dict(algorithm="zero-order", budget="60")
    add("--on-stall sometimes", _argv("--on-stall", "sometimes", **zo), "--on-stall")
    add("--rounds -1", _argv("--rounds", "-1", **zo), "rounds")
    paths = dict(algorithm="paths", budget="200")
    add("paths --delta-f 0.9 --delta-b 0.8", _argv("--delta-f", "0.9", "--delta-b", "0.8", **paths),
        ("delta_f", "delta_b", "delta-f", "delta-b"))
    add("paths --sigma 2", _argv("--sigma", "2", **paths), "sigma")
    add("paths --L 0", _argv("--L", "0", **paths), "L")
    add("steps --growth 1.0", _argv("--growth", "1.0", algorithm="steps"), "growth")
    add("steps --growth -2", _argv("--growth", "-2", algorithm="steps"), "growth")
    add("--per-round 0", _argv("--per-round", "0"), ("per_round", "per-round"))
    # --out
    add("--out pointing at a file", lambda ctx: _argv("--out", str(ctx.a_file)), "out")
    add("--out under a file", lambda ctx: _argv("--out", str(ctx.a_file / "run")), "out")
    add("--out under /proc", _argv("--out", "/proc/tsearch-bad-inputs"), "out")
    add("--out already holding a run", lambda ctx: _argv("--out", str(ctx.saved_run)), "out")
    # run --from
    add("--from a missing path", lambda ctx: ["run", "--from", str(ctx.tmp / "nowhere"), "--out", ctx.fresh()],
        "--from")
    add("--from without --out", lambda ctx: ["run", "--from", str(ctx.saved_run)], "--out")
    add("--from a folder that is not a run", lambda ctx: ["run", "--from", str(ctx.empty_dir), "--out", ctx.fresh()],
        "--from")
    for label, text in (("not JSON", "{not json"), ("a list", "[1, 2]"), ("config 5", json.dumps({"config": 5})),
                        ("an unknown config field", None), ("a stored budget 'abc'", None),
                        ("stored options [1]", None), ("stored verifiers 5", None)):
        add(f"--from a run.json holding {label}",
            lambda ctx, label=label, text=text: ["run", "--from", str(ctx.damaged_run_json(label, text)),
                                                 "--out", ctx.fresh()],
            {"an unknown config field": ("--from", "budgett"), "a stored budget 'abc'": "budget",
             "stored options [1]": "options", "stored verifiers 5": "verifiers"}.get(label, "--from"))
    # regenerate and eval
    add("regenerate a folder that is not a run",
        lambda ctx: ["regenerate", str(ctx.empty_dir), "--id", "1", "--out", ctx.fresh(".png")], "run.json")
    add("regenerate --id 9999", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "9999",
                                              "--out", ctx.fresh(".png")], "9999")
    add("regenerate --id -2", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "-2", "--out", ctx.fresh(".png")],
        "--id")
    add("regenerate --id abc", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "abc",
                                             "--out", ctx.fresh(".png")], "--id")
    add("regenerate without --id", lambda ctx: ["regenerate", str(ctx.saved_run), "--out", ctx.fresh(".png")], "--id")
    add("regenerate --out a folder", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "1", "--out",
                                                   str(ctx.empty_dir)], "--out")
    add("regenerate --out under /proc", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "1",
                                                      "--out", "/proc/tsearch-c.png"], "--out")
    add("regenerate --device tpu9", lambda ctx: ["regenerate", str(ctx.saved_run), "--id", "1",
                                                  "--out", ctx.fresh(".png"), "--device", "tpu9"], "device")


def _cli_cases_4(add) -> None:
    add("eval a text file", lambda ctx: ["eval", "--world", "shapes", "--prompt", "a red square", str(ctx.a_file)],
        ("image", "afile.txt"))
    add("eval a missing file", lambda ctx: ["eval", "--world", "shapes", "--prompt", "a red square",
                                             str(ctx.tmp / "missing.png")], "missing.png")
    add("eval a torn PNG", lambda ctx: ["eval", "--world", "shapes", "--prompt", "a red square", str(ctx.torn_png)],
        ("image", "torn.png"))
    add("eval a caption outside the grammar", lambda ctx: ["eval", "--world", "shapes", "--prompt", "zzz qqq",
                                                            str(ctx.good_png)], ("prompt", "caption"))
    add("eval --world nope", lambda ctx: ["eval", "--world", "nope", "--prompt", "a", str(ctx.good_png)], "--world")
    add("eval without images", ["eval", "--world", "shapes", "--prompt", "a red square"], "images")
    # legitimately valid
    add("valid: --budget 40.0", _argv("--budget", "40.0"), "", valid=True)
    add("valid: --seed 3.0", _argv("--seed", "3.0"), "", valid=True)
    add("valid: --class 1.0", _argv(cond=("--class", "1.0")), "", valid=True)
    add("valid: --seed 2**63-1", _argv("--seed", str(2**63 - 1)), "", valid=True)
    add("valid: --batch-size 10**6", _argv("--batch-size", str(10**6)), "", valid=True)
    add("valid: all-NaN custom verifier", _argv(verifier=(f"{CUSTOM_MODULE}:all_nan",)), "", valid=True)


ARENA = ["arena", "--model", "gmm", "--captions", "2", "--candidates", "2", "--steps", "2", "--methods", "random",
         "--reps", "20", "--threads", "1", "--no-progress"]


def _arena(*extra):
    return lambda ctx: [*ARENA, "--out", ctx.fresh("-arena"), *extra]


def _cells_of_class_1_fail():
    """A patch under which every search of class 1 fails as a broken verifier would (the arena's failed cells):
    `api.plan_for`, the plan builder every sweep cell calls."""
    import contextlib

    import tsearch.api

    @contextlib.contextmanager
    def patched():
        real = tsearch.api.plan_for

        def failing(config=None, *args, **kwargs):
            if getattr(config, "condition", None) == 1:
                raise ValueError("the verifier broke")
            return real(config, *args, **kwargs)
        tsearch.api.plan_for = failing
        try:
            yield
        finally:
            tsearch.api.plan_for = real
    return patched()


def _cli_cases_5(add) -> None:
    """Issue 25: huge numbers bounded in O(1), the arena and report as careful as run and sweep."""
    add("--final-top 10**12", _argv("--final-steps", "4", "--final-top", str(10**12), budget="200"), "final-top")
    add("--final-top 10**9 within a 10**9 budget", _argv("--final-steps", "4", "--final-top", str(4 * 10**8),
                                                          budget=str(10**9)), "final_top")
    add("smc --steps 1", _argv(algorithm="smc", steps="1", budget="200"), "steps")
    add("random --per-round 10**400", _argv("--per-round", str(10**400)), ("per-round", "per_round"))
    add("run --from a run.json with seed 2**70", lambda ctx: ["run", "--from", str(ctx.damaged_run_json(
        "a stored seed 2**70", None)), "--out", ctx.fresh()], "seed")
    add("arena --seeds 100000000", _arena("--seeds", "100000000"), "--seeds")
    add("arena --reps 10**12", _arena("--reps", str(10**12)), "--reps")
    add("arena --device nope", _arena("--device", "nope"), "--device")
    add("arena --out a file", lambda ctx: [*ARENA, "--out", str(ctx.a_file)], "--out")
    add("arena --captions 99 on gmm (4 classes)", _arena("--captions", "99"), "--captions")
    add("arena --threads 10**9", _arena("--threads", str(10**9)), "--threads")
    add("arena --candidates 10**8 --steps 1000", _arena("--candidates", str(10**8), "--steps", "1000"),
        "--candidates")
    add("arena: no method fits --budgets 1", _arena("--budgets", "1", "--steps", "4"), "--budgets")
    add("arena with failing cells exits 1", _arena(), "cell", code=1, around=_cells_of_class_1_fail)
    add("arena --no-run over a row without a budget", lambda ctx: [*ARENA, "--out", str(ctx.arena_without_budget()),
                                                                   "--no-run"], "", valid=True)
    add("report --html onto its results.jsonl", lambda ctx: ["report", str(ctx.arena_dir()), "--html",
                                                              str(ctx.arena_dir() / "results.jsonl")], "--html")
    add("report --html onto a folder", lambda ctx: ["report", str(ctx.arena_dir()), "--html", str(ctx.empty_dir)],
        "--html")
    add("report --html under a file", lambda ctx: ["report", str(ctx.arena_dir()), "--no-set-metrics", "--html",
                                                    str(ctx.a_file / "report.html")], "--html", code=1)
    add("report --reps 10**12", lambda ctx: ["report", str(ctx.arena_dir()), "--reps", str(10**12)], "--reps")


# --- Python API cases ---------------------------------------------------------------------------------------------
API_BASE = dict(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40, steps=4)
API_SHAPES = dict(model="shapes", prompt="a red circle", verifiers=["shapes-clip"], algorithm="random", budget=8,
                  steps=2)


def _merged(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if value is DROP:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def api_cases() -> list[Case]:
    import numpy as np

    import tsearch
    from tsearch.config import SearchConfig

    cases: list[Case] = []

    def add(label, overrides, needle, valid=False, base=API_BASE):
        def call(ctx, overrides=overrides):
            given = overrides(ctx) if callable(overrides) else overrides
            return tsearch.search(**_merged(base, given))
        cases.append(Case("api", label, call, _needles(needle), valid))

    def raw(label, call, needle, valid=False):
        cases.append(Case("api", label, call, _needles(needle), valid))

    _api_cases_1(add, raw)
    _api_cases_2(add, raw)
    _api_cases_3(add, raw)
    return cases


def _api_cases_1(add, raw) -> None:
    # model
    add("model left out", dict(model=DROP), "model")
    for value in (None, "", 3, ["gmm"], "nope", "GMM"):
        add(f"model={value!r}", dict(model=value), "model")
    add("model='no-org/no-model' (hub id, offline)", dict(model="no-org/no-model"), "model")
    add("model=object() (not a Model)", dict(model=object()), "model")
    # the condition
    for value in (None, -1, 4, 10**30, 2.5, math.nan, math.inf, True, "abc", "", [1], -0.5):
        add(f"cls={value!r}", dict(cls=value), ("cls", "class", "condition"))
    add("prompt= and cls= together", dict(prompt="a cat"), ("prompt", "cls"))
    add("prompt= on a class model", dict(cls=DROP, prompt="a cat"), ("cls", "class", "prompt"))
    add("condition= and cls= together", dict(condition=2), "condition")
    add("shapes with prompt=''", dict(prompt=""), "prompt", base=API_SHAPES)
    add("shapes with a 5000-character prompt", dict(prompt="a red circle " * 400), "prompt", base=API_SHAPES)
    add("shapes with cls=1", dict(prompt=DROP, cls=1), "prompt", base=API_SHAPES)
    add("shapes with prompt=3", dict(prompt=3), "prompt", base=API_SHAPES)
    # verifiers and evaluators
    for value in ("gmm-density", [], None, ["nope"], [""], [3], [None], 5, {"gmm-density": 1}, ["shapes-clip"],
                  ["no_such_module_xyz:f"], [["gmm-density"]]):
        add(f"verifiers={value!r}", dict(verifiers=value), ("verifiers", "verifier"))
    add("verifier raising", lambda ctx: dict(verifiers=[ctx.custom.raises]), ("raises", "scorer broke"))
    add("verifier returning a string", lambda ctx: dict(verifiers=[ctx.custom.a_string]), "a_string")
    add("verifier returning None", lambda ctx: dict(verifiers=[ctx.custom.nothing]), "nothing")
    add("verifier returning too many scores", lambda ctx: dict(verifiers=[ctx.custom.wrong_length]), "wrong_length")
    add("verifier returning 2-D scores", lambda ctx: dict(verifiers=[ctx.custom.two_columns]), "two_columns")
    add("verifier taking no arguments", lambda ctx: dict(verifiers=[ctx.custom.no_arguments]), "no_arguments")
    add("verifier slower than verifier_timeout=1", lambda ctx: dict(verifiers=[ctx.custom.slow], verifier_timeout=1),
        ("slow", "verifier"))
    add("evaluators='gmm-density' (a string)", dict(evaluators="gmm-density"), "evaluators")
    add("evaluators=['nope']", dict(evaluators=["nope"]), ("evaluators", "evaluator", "nope"))
    add("evaluators=[3]", dict(evaluators=[3]), ("evaluators", "evaluator"))
    # algorithm
    for value in (None, "", "nope", 3, ["random"], "Random"):
        add(f"algorithm={value!r}", dict(algorithm=value), "algorithm")
    # whole-number fields
    for name, values in (("budget", [None, 0, -1, 2.5, math.nan, math.inf, "40", True, [40], 1e300, 3]),
                         ("steps", [0, -1, 2.5, math.nan, "4", True, 10**9]),
                         ("seed", [-1, 2**63, 1.5, math.nan, "0", None, True, float(2**62)]),
                         ("batch_size", [0, -1, 2.5, "4", None, math.nan]),
                         ("final_steps", [0, -1, 2.5, 1000, "x"]),
                         ("final_top", [0, -1, 2.5, "2", None, True, math.nan])):
        for value in values:
            add(f"{name}={value!r}", {name: value}, ("final_steps", "final") if name == "final_steps" else
                ("steps", "budget") if name == "steps" and value == 10**9 else name)


def _api_cases_2(add, raw) -> None:
    import numpy as np
    import tsearch
    from tsearch.config import SearchConfig

    # solver, device, dtype, model options
    for name, value in (("solver", "rk4"), ("solver", 3), ("device", "tpu9"), ("device", "cuda:99"), ("device", ""),
                        ("device", None), ("device", 3), ("dtype", "int8"), ("dtype", "bfloat16"),
                        ("model_options", "x"), ("model_options", {"guidance": 7}), ("model_options", {"height": 64}),
                        ("model_options", {"guidance_scale": 7, "guidance": 7})):
        add(f"{name}={value!r}", {name: value}, name if name != "model_options" or value == "x" else
            ("height" if "height" in value else "guidance"))
    # algorithm options
    zo = dict(algorithm="zero-order", budget=60)
    for name, value in (("n", 0), ("n", 2.5), ("n", "3"), ("n", None), ("lam", 1.5), ("lam", math.nan),
                        ("lam", "0.5"), ("on_stall", "pause"), ("on_stall", None), ("rounds", -1)):
        add(f"zero-order {name}={value!r}", {**zo, name: value}, name)
    add("lam= with random", dict(lam=0.5), "lam")
    add("options='x'", dict(options="x"), "options")
    add("options=[1]", dict(options=[1]), "options")
    add("options={'nope': 1}", dict(options={"nope": 1}), "nope")
    add("options= and n= together", dict(options={"n": 2}, n=3, **zo), "options")
    paths = dict(algorithm="paths", budget=200)
    add("paths delta_f=0.9 > delta_b=0.8", dict(delta_f=0.9, delta_b=0.8, **paths), ("delta_f", "delta_b"))
    add("paths sigma=2", dict(sigma=2, **paths), "sigma")
    add("paths L=0", dict(L=0, **paths), "L")
    add("steps growth=1.0", dict(growth=1.0, algorithm="steps"), "growth")
    add("random per_round=0", dict(per_round=0), "per_round")
    add("random per_round=True", dict(per_round=True), "per_round")
    add("unknown keyword bach_size=8", dict(bach_size=8), "bach_size")
    # how to run: out, should_stop, verifier_timeout
    add("out= a file", lambda ctx: dict(out=str(ctx.a_file)), "out")
    add("out= under a file", lambda ctx: dict(out=str(ctx.a_file / "run")), "out")
    add("out= under /proc", dict(out="/proc/tsearch-bad-inputs"), "out")
    add("out= a folder holding a run", lambda ctx: dict(out=str(ctx.saved_run)), "out")
    add("out=3", dict(out=3), "out")
    add("should_stop='x' (not callable)", dict(should_stop="x"), "should_stop")
    add("verifier_timeout=-1", dict(verifier_timeout=-1), "verifier_timeout")
    add("verifier_timeout='x'", dict(verifier_timeout="x"), "verifier_timeout")
    # SearchConfig and its stored form
    raw("search(config, budget=5): both", lambda ctx: tsearch.search(SearchConfig(**_config_kwargs()), budget=5),
        "budget")
    raw("search('gmm') (a string as the config)", lambda ctx: tsearch.search("gmm"), "config")
    raw("SearchConfig.from_run(missing)", lambda ctx: SearchConfig.from_run(ctx.tmp / "nowhere"), "nowhere")
    raw("SearchConfig.from_run(a folder that is not a run)", lambda ctx: SearchConfig.from_run(ctx.empty_dir),
        "run.json")
    raw("SearchConfig.from_dict([1])", lambda ctx: SearchConfig.from_dict([1]), "config")
    raw("SearchConfig.from_dict({budgett: 3})", lambda ctx: SearchConfig.from_dict({**_config_kwargs(), "budgett": 3}),
        "budgett")


def _api_cases_3(add, raw) -> None:
    import numpy as np
    from tsearch.config import SearchConfig

    raw("SearchConfig.from_dict({verifiers: 5})",
        lambda ctx: SearchConfig.from_dict({**_config_kwargs(), "verifiers": 5}), "verifiers")
    # legitimately valid
    add("valid: budget=40.0", dict(budget=40.0), "", valid=True)
    add("valid: budget=np.int64(40)", dict(budget=np.int64(40)), "", valid=True)
    add("valid: cls='1'", dict(cls="1"), "", valid=True)
    add("valid: cls=1.0", dict(cls=1.0), "", valid=True)
    add("valid: seed=2**63-1", dict(seed=2**63 - 1), "", valid=True)
    add("valid: batch_size=10**9", dict(batch_size=10**9), "", valid=True)
    add("valid: verifiers=('gmm-density',)", dict(verifiers=("gmm-density",)), "", valid=True)
    add("budget=10**30 (no upper bound: runs until stopped)", dict(budget=10**30), "budget")
    _api_cases_4(add, raw)


def _api_cases_4(add, raw) -> None:
    """Issue 25: huge numbers bounded in O(1); Stop's edges; smc at one step; a loaded seed of 2^70."""
    import tsearch
    from tsearch.config import SearchConfig

    for top in (10**9, 10**12, 10**400):
        add(f"final_top={'10**400' if top > 10**20 else top}", dict(final_steps=4, final_top=top, budget=200),
            "final_top")
    add("final_top=4*10**8 within a 10**9 budget", dict(final_steps=4, final_top=4 * 10**8, budget=10**9),
        "final_top")
    for algorithm, option, value in (("random", "per_round", 10**400), ("zero-order", "n", 10**12),
                                     ("smc", "k", 10**400), ("cem", "grid", 10**12), ("cem", "channels", 10**12),
                                     ("evolution", "population", 10**12), ("paths", "L", 10**400),
                                     ("prune", "n", 10**400)):
        add(f"{algorithm} {option}=huge", {"algorithm": algorithm, option: value, "budget": 10**9}, option)
    add("paths delta_b - delta_f = 1e-15", dict(algorithm="paths", delta_f=0.5, delta_b=0.5 + 1e-15, budget=10**9),
        ("delta_b", "delta_f"))
    add("smc at one step", dict(algorithm="smc", steps=1, budget=200), "steps")
    add("smc intervals=1", dict(algorithm="smc", intervals=1, budget=200), "intervals")
    add("batch_size=10**30", dict(batch_size=10**30), "batch_size")

    def raising_stop(ctx):
        calls = []

        def should_stop():
            calls.append(1)
            if len(calls) > 1:
                raise KeyError("the caller's page went away")
            return False
        return tsearch.search(**{**API_BASE, "budget": 200, "batch_size": 2}, should_stop=should_stop)
    raw("should_stop raising KeyError", raising_stop, "should_stop")
    raw("SearchConfig.from_run(a run.json with seed 2**70)",
        lambda ctx: SearchConfig.from_run(ctx.damaged_run_json("a stored seed 2**70", None)), "seed")


def _config_kwargs() -> dict:
    return dict(model="gmm", condition=1, verifiers=("gmm-density",), algorithm="random", budget=40, steps=4)


# --- app cases --------------------------------------------------------------------------------------------------------
APP_BASE = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=40, steps=4,
                seed=0, evaluator="", baseline=False, batch_size=4)
APP_SHAPES = dict(APP_BASE, model="shapes", prompt="a red circle", cls=None, verifiers=["shapes-clip"], budget=8,
                  steps=2)
COMPARE_BASE = dict(model="gmm", prompt="", cls=1, verifiers=["gmm-density"], algorithm="random", budget=24,
                    steps=4, seed=0, evaluator="", batch_size=4)


def app_cases() -> list[Case]:
    from tsearch.app import compare as compare_tab
    from tsearch.app import handlers
    from tsearch.app.state import Session

    cases: list[Case] = []

    def add(label, overrides, needle, valid=False, base=APP_BASE):
        def call(ctx, overrides=overrides):
            given = overrides(ctx) if callable(overrides) else overrides
            return list(handlers.search(**_merged(base, given), session=Session()))
        cases.append(Case("app", label, call, _needles(needle), valid))

    def compare(label, overrides, needle, valid=False):
        def call(ctx, overrides=overrides):
            return list(compare_tab.compare(**_merged(COMPARE_BASE, overrides), session=Session()))
        cases.append(Case("app", f"compare: {label}", call, _needles(needle), valid))

    def raw(label, call, needle, valid=False):
        cases.append(Case("app", label, call, _needles(needle), valid))

    _app_cases_1(add, compare, raw)
    _app_cases_2(add, compare, raw)
    _app_cases_3(add, compare, raw)
    return cases


def _app_cases_1(add, compare, raw) -> None:
    # model
    for value in (None, "", "nope", 3, ["gmm"], "GMM", " gmm"):
        add(f"model={value!r}", dict(model=value), "model")
    add("model='sdxl' (a hub model a visitor names)", dict(model="sdxl", prompt="a cat", cls=None,
                                                           verifiers=["clipscore"]), ("model", "sdxl"))
    # the condition on gmm (class-conditional)
    add("cls=None, prompt=''", dict(cls=None), ("class", "cls"))
    for value in (-1, 4, 10**30, 2.5, math.nan, math.inf, True, "abc", [1], "", " ", "-1", "1.5"):
        add(f"cls={value!r}", dict(cls=value), ("class", "cls", "condition"))
    add("cls=None, prompt='a cat'", dict(cls=None, prompt="a cat"), ("class", "cls", "prompt"))
    # the prompt on shapes (text-conditioned)
    add("valid: shapes prompt=None (the model's preset prompt)", dict(prompt=None), "", valid=True, base=APP_SHAPES)
    for value in ("", "   ", 3, ["a red circle"], "zzz qqq", "一个红色的圆", "a red circle\nand a square",
                  "\x00", "a red circle " * 400):
        shown = value if not (isinstance(value, str) and len(value) > 40) else f"{len(value)} characters"
        add(f"shapes prompt={shown!r}", dict(prompt=value), ("prompt", "caption"), base=APP_SHAPES)
    add("shapes cls=1 and no prompt", dict(prompt="", cls=1), "prompt", base=APP_SHAPES)
    # model options: only those the chosen model takes
    add("gmm guidance=2", dict(guidance=2), "guidance")
    add("shapes height=64", dict(height=64), ("height", "shapes"), base=APP_SHAPES)
    add("shapes guidance='strong'", dict(guidance="strong"), "guidance", base=APP_SHAPES)
    add("shapes guidance=-1", dict(guidance=-1), "guidance", base=APP_SHAPES)
    add("shapes negative_prompt=3", dict(negative_prompt=3), "negative_prompt", base=APP_SHAPES)
    add("valid: shapes guidance=2", dict(guidance=2), "", valid=True, base=APP_SHAPES)
    # verifiers and the evaluator
    add("valid: verifiers=None (the model's preset verifiers)", dict(verifiers=None), "", valid=True)
    for value in ([], "", "nope", ["nope"], [3], [None], [""], ["shapes-clip"], [["gmm-density"]],
                  ["gmm-density", "nope"], 5):
        add(f"verifiers={value!r}", dict(verifiers=value), ("verifier", "verifiers"))
    for value in ("nope", 3, ["gmm-density"], "shapes-oracle", True):
        needle = ("evaluator", value) if isinstance(value, str) else "evaluator"
        add(f"evaluator={value!r}", dict(evaluator=value), needle)
    # algorithm
    for value in (None, "", "nope", 3, ["random"], "Random"):
        add(f"algorithm={value!r}", dict(algorithm=value), "algorithm")
    # whole-number fields
    add("valid: budget=None (the model's preset budget)", dict(budget=None), "", valid=True)
    for name, values in (("budget", [0, -1, 2.5, math.nan, math.inf, "40", "abc", True, [40], 3, 1e300]),
                         ("steps", [-1, 2.5, math.nan, "4", "abc", True, [4], 10**9]),
                         ("seed", [-1, 2**63, 2.5, math.nan, math.inf, "abc", True, [0], float(2**60)]),
                         ("batch_size", [-1, 2.5, math.nan, "abc", True, [4], math.inf]),
                         ("final_steps", [-1, 2.5, 1000, "abc", math.nan, True])):
        for value in values:
            needle = {"batch_size": ("batch_size", "batch"), "final_steps": ("final_steps", "final")}.get(name, name)
            if name == "steps" and value == 10**9:
                needle = ("steps", "budget")
            add(f"{name}={value!r}", {name: value}, needle)


def _app_cases_2(add, compare, raw) -> None:
    from tsearch.app import files_tab
    from tsearch.app.state import Session

    add("baseline='no' (a string)", dict(baseline="no"), "baseline")
    # algorithm options (the app's flat keys)
    zo = dict(algorithm="zero-order", budget=60)
    for key, value in (("zero_order_lam", 1.5), ("zero_order_lam", math.nan), ("zero_order_lam", "abc"),
                       ("zero_order_n", 0), ("zero_order_n", 2.5), ("zero_order_n", "3"),
                       ("zero_order_on_stall", "pause"), ("zero_order_on_stall", 3), ("zero_order_rounds", -1)):
        add(f"{key}={value!r}", {**zo, key: value}, (key, key.split("_", 2)[-1]))
    paths = dict(algorithm="paths", budget=200)
    add("paths_delta_f=0.9 > paths_delta_b=0.8", dict(paths_delta_f=0.9, paths_delta_b=0.8, **paths),
        ("delta_f", "delta_b", "paths_delta_f"))
    add("paths_sigma=2", dict(paths_sigma=2, **paths), ("sigma", "paths_sigma"))
    add("paths_l=0", dict(paths_l=0, **paths), ("L", "paths_l"))
    add("steps_growth=1.0", dict(steps_growth=1.0, algorithm="steps"), ("growth", "steps_growth"))
    add("random_per_round=0", dict(random_per_round=0), ("per_round", "random_per_round"))
    add("random_per_round=True", dict(random_per_round=True), ("per_round", "random_per_round"))
    add("unknown option key bogus_option=1", dict(bogus_option=1), "bogus_option")
    # load
    raw("load(None)", lambda ctx: files_tab.load(None, Session()), "zip")
    raw("load('')", lambda ctx: files_tab.load("", Session()), "zip")
    raw("load(a missing file)", lambda ctx: files_tab.load(str(ctx.tmp / "missing.zip"), Session()),
        ("no such file", "not found", "does not exist", "cannot find"))
    raw("load(a text file)", lambda ctx: files_tab.load(str(ctx.a_file), Session()), "zip")
    raw("load(an empty file)", lambda ctx: files_tab.load(str(ctx.empty_file), Session()), "zip")
    raw("load(a folder that is not a run)", lambda ctx: files_tab.load(str(ctx.empty_dir), Session()), "run.json")
    raw("load('/etc')", lambda ctx: files_tab.load("/etc", Session()), "run.json")
    raw("load(3)", lambda ctx: files_tab.load(3, Session()), ("file", "zip"))
    raw("load(['a.zip'])", lambda ctx: files_tab.load([str(ctx.run_zip)], Session()), ("file", "zip"))
    raw("valid: load({'path': ...}) (a FileData dict, as gradio passes an upload)",
        lambda ctx: files_tab.load({"path": str(ctx.run_zip)}, Session()), "", valid=True)
    for label, build, needle in _zip_cases():
        raw(f"load: {label}", lambda ctx, build=build: files_tab.load(str(build(ctx)), Session()), needle)
    for label, damage, needle in _damaged_runs():
        raw(f"load: run.json {label}", lambda ctx, label=label, damage=damage:
            files_tab.load(str(ctx.damaged_zip("json-" + label, damage)), Session()), needle or "", valid=needle is None)
    for label, damage, valid in _damaged_rows():
        raw(f"load: {label}", lambda ctx, label=label, damage=damage:
            files_tab.load(str(ctx.damaged_zip("rows-" + label, damage)), Session()), "candidates", valid=valid)
    # export
    raw("export(None)", lambda ctx: files_tab.export(None), "export")
    raw("export with nothing run", lambda ctx: files_tab.export(Session()), "export")
    raw("export of a run folder that was deleted", lambda ctx: files_tab.export(_session_with(ctx.tmp / "gone")),
        ("run", "run.json"))
    raw("export of a folder that is not a run", lambda ctx: files_tab.export(_session_with(ctx.empty_dir)),
        ("run", "run.json"))


def _app_cases_3(add, compare, raw) -> None:
    from tsearch.app import files_tab
    from tsearch.app.state import Session

    # compare
    compare("mode='nope'", dict(mode="nope", algorithms=["random", "zero-order"]), "mode")
    compare("mode=None", dict(mode=None, algorithms=["random", "zero-order"]), "mode")
    compare("algorithms=None", dict(mode="algorithms", algorithms=None), ("two", "algorithms"))
    compare("one algorithm", dict(mode="algorithms", algorithms=["random"]), ("two", "algorithms"))
    compare("the same algorithm twice", dict(mode="algorithms", algorithms=["random", "random"]), ("two", "algorithms"))
    compare("algorithms=['random', 'nope']", dict(mode="algorithms", algorithms=["random", "nope"]), "nope")
    compare("algorithms='random' (a string)", dict(mode="algorithms", algorithms="random"), "algorithms")
    compare("algorithms=[3, 4]", dict(mode="algorithms", algorithms=[3, 4]), "algorithm")
    compare("one verifier", dict(mode="verifiers", compare_verifiers=["gmm-density"]), ("two", "verifiers"))
    compare("compare_verifiers=['gmm-density', 'nope']", dict(mode="verifiers",
                                                              compare_verifiers=["gmm-density", "nope"]), "nope")
    compare("compare_verifiers=None", dict(mode="verifiers", compare_verifiers=None), ("two", "verifiers"))
    compare("budget=-1", dict(mode="algorithms", algorithms=["random", "zero-order"], budget=-1), "budget")
    compare("budget too small for one entry", dict(mode="algorithms", algorithms=["random", "paths"], budget=24),
            "budget")
    compare("cls=9", dict(mode="algorithms", algorithms=["random", "zero-order"], cls=9), ("class", "cls"))
    compare("model='nope'", dict(mode="algorithms", algorithms=["random", "zero-order"], model="nope"), "model")
    compare("seed='abc'", dict(mode="algorithms", algorithms=["random", "zero-order"], seed="abc"), "seed")
    # legitimately valid
    add("valid: budget=40.0", dict(budget=40.0), "", valid=True)
    add("valid: cls='1'", dict(cls="1"), "", valid=True)
    add("valid: steps=0 (the model's default)", dict(steps=0, budget=40), "", valid=True)
    add("valid: seed='' (0)", dict(seed=""), "", valid=True)
    add("valid: verifiers='gmm-density' (one name)", dict(verifiers="gmm-density"), "", valid=True)
    add("valid: zero_order_lam with random (ignored: the page sends every option)", dict(zero_order_lam=0.5), "",
        valid=True)
    raw("valid: load an exported run", lambda ctx: files_tab.load(str(ctx.run_zip), Session()), "", valid=True)
    compare("valid: two algorithms", dict(mode="algorithms", algorithms=["random", "zero-order"]), "", valid=True)
    add("budget=10**30 (no upper bound: runs until stopped)", dict(budget=10**30), "budget")


def _session_with(run_dir):
    from tsearch.app.state import Session

    session = Session()
    session.last_run_dir = str(run_dir)
    return session


def _zip_cases():
    """(label, build(ctx) -> zip path, needle) for zips that are not one safe run export."""
    def write(name, members, compression=zipfile.ZIP_DEFLATED):
        def build(ctx):
            target = ctx.tmp / "zips" / f"{name}.zip"
            target.parent.mkdir(exist_ok=True)
            with zipfile.ZipFile(target, "w", compression=compression) as archive:
                for member, data in members(ctx):
                    archive.writestr(member, data)
            return target
        return build

    def run_json(ctx):
        return (ctx.app_run / "run.json").read_bytes()

    return [
        ("a zip bomb (20 MB of zeros)", write("bomb", lambda ctx: [("junk.bin", b"\0" * (20 << 20))]),
         ("bomb", "junk.bin")),
        ("a zip bomb beside a run.json", write("bomb-run", lambda ctx: [("run.json", run_json(ctx)),
                                                                         ("images/x.png", b"\0" * (20 << 20))]),
         ("bomb", "x.png")),
        ("an entry ../evil.txt (path traversal)", write("traversal", lambda ctx: [("run.json", run_json(ctx)),
                                                                                   ("../evil.txt", b"x")]), "evil.txt"),
        ("an absolute entry /tmp/evil.txt", write("absolute", lambda ctx: [("run.json", run_json(ctx)),
                                                                            ("/tmp/evil.txt", b"x")]), "evil.txt"),
        ("two runs", write("two", lambda ctx: [("a/run.json", run_json(ctx)), ("b/run.json", run_json(ctx))]),
         "runs"),
        ("no run.json", write("none", lambda ctx: [("notes.txt", b"hello")]), "run.json"),
        ("an empty zip", write("empty", lambda ctx: []), "run.json"),
        ("a run nested two folders deep", write("nested", lambda ctx: [("a/b/run.json", run_json(ctx))]),
         ("nested", "run.json")),
        ("a 17 MB candidates.jsonl", write("rows", lambda ctx: [("run.json", run_json(ctx)),
                                                                ("candidates.jsonl", b"x" * (17 << 20))],
                                           zipfile.ZIP_STORED), "candidates.jsonl"),
        ("a truncated zip", lambda ctx: _truncated(ctx), "zip"),
        ("a file named .zip holding JSON", lambda ctx: _json_named_zip(ctx), "zip"),
    ]


def _truncated(ctx) -> Path:
    target = ctx.tmp / "zips" / "truncated.zip"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(ctx.run_zip.read_bytes()[: max(64, ctx.run_zip.stat().st_size // 2)])
    return target


def _json_named_zip(ctx) -> Path:
    target = ctx.tmp / "zips" / "json.zip"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps({"config": {}}))
    return target


def _set(path: Path, text: str | bytes) -> None:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def _edit_meta(change: Callable[[dict], None]):
    def damage(root: Path) -> None:
        meta = json.loads((root / "run.json").read_text())
        change(meta)
        (root / "run.json").write_text(json.dumps(meta))
    return damage


def _damaged_runs():
    """(label, damage(run folder), needle) for run.json files a load must refuse by name; needle None: a damage
    the load may pass over (a field shown only as a number), so the case is valid."""
    return [
        ("not JSON", lambda root: _set(root / "run.json", "{not json"), "run.json"),
        ("a list", lambda root: _set(root / "run.json", "[1, 2]"), ("run.json", "config")),
        ("config 5", lambda root: _set(root / "run.json", json.dumps({"config": 5})), "config"),
        ("without config", lambda root: _set(root / "run.json", json.dumps({"summary": None})), "config"),
        ("summary 'done'", lambda root: _set(root / "run.json", json.dumps({"config": {}, "summary": "done"})),
         "summary"),
        ("bytes ff fe 00", lambda root: _set(root / "run.json", b"\xff\xfe\x00"), "run.json"),
        ("empty", lambda root: _set(root / "run.json", ""), "run.json"),
        ("summary seconds 'abc'", _edit_meta(lambda m: m["summary"].update(seconds="abc")), "seconds"),
        ("summary best_score 'x'", _edit_meta(lambda m: m["summary"].update(best_score="x")), "best_score"),
        ("summary best_id [1]", _edit_meta(lambda m: m["summary"].update(best_id=[1])), "best_id"),
        ("config verifiers 5", _edit_meta(lambda m: m["config"].update(verifiers=5)), "verifiers"),
        ("config steps [1]", _edit_meta(lambda m: m["config"].update(steps=[1])), "steps"),   # not a SearchConfig
        ("a rounds.jsonl row with nfe_spent 'x'",
         lambda root: _set(root / "rounds.jsonl", json.dumps({"nfe_spent": "x", "best_id": 0, "best_score": 1}) + "\n"),
         ("rounds", "nfe_spent")),
    ]


def _edit_rows(change: Callable[[list[str]], list[str]]):
    def damage(root: Path) -> None:
        lines = (root / "candidates.jsonl").read_text().splitlines()
        (root / "candidates.jsonl").write_text("\n".join(change(lines)) + "\n")
    return damage


def _replace_row(index: int, row):
    def change(lines):
        lines[index] = row if isinstance(row, str) else json.dumps(row)
        return lines
    return change


def _damaged_rows():
    """(label, damage(run folder), valid): damaged candidates rows; a load passes over them by design (valid)."""
    return [
        ("a torn candidates row", _edit_rows(lambda lines: [lines[0][:20], *lines[1:]]), True),
        ("a candidates row with id 'five'", _edit_rows(_replace_row(1, {"id": "five", "recipe": 3})), True),
        ("a candidates row that is a list", _edit_rows(_replace_row(2, [1, 2, 3])), True),
        ("a 2 MB candidates row", _edit_rows(_replace_row(3, json.dumps({"id": 3, "pad": os.urandom(1 << 20).hex()}))),
         True),
        ("every candidates row damaged", _edit_rows(lambda lines: ["{" for _ in lines]), True),
        ("a candidates row with score 'abc'",
         _edit_rows(lambda lines: [json.dumps({**json.loads(lines[0]), "score": "abc"}), *lines[1:]]), True),
        ("a candidates row with nfe_spent -5",
         _edit_rows(lambda lines: [json.dumps({**json.loads(lines[0]), "nfe_spent": -5}), *lines[1:]]), True),
        ("an image that is not a PNG", lambda root: _set(root / "images" / "000000.png", "not a png"), True),
    ]


# --- setup ------------------------------------------------------------------------------------------------------------
@dataclass
class Context:
    tmp: Path
    saved_run: Path = None          # a CLI/API run folder (zero-order, 6 candidates)
    app_run: Path = None            # the folder of an app search
    run_zip: Path = None            # its export
    a_file: Path = None
    empty_file: Path = None
    empty_dir: Path = None
    good_png: Path = None
    torn_png: Path = None
    custom: Any = None              # the module of custom verifier functions
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self, suffix: str = "") -> str:
        """A path under the temp folder that does not exist yet."""
        with self._lock:
            self._count += 1
            return str(self.tmp / "fresh" / f"{self._count:04d}{suffix}")

    def damaged_run_json(self, label: str, text: str | None) -> Path:
        """A copy of the saved run whose run.json holds `text` (or a damaged form of its config, by label)."""
        folder = self.tmp / "damaged-cli" / re.sub(r"\W+", "-", label)
        shutil.rmtree(folder, ignore_errors=True)   # a label two cases share (the CLI's and the API's)
        shutil.copytree(self.saved_run, folder)
        if text is None:
            meta = json.loads((folder / "run.json").read_text())
            if label == "an unknown config field":
                meta["config"]["budgett"] = 3
            elif label == "a stored budget 'abc'":
                meta["config"]["budget"] = "abc"
            elif label == "stored options [1]":
                meta["config"]["options"] = [1]
            elif label == "stored verifiers 5":
                meta["config"]["verifiers"] = 5
            elif label == "a stored seed 2**70":
                meta["config"]["seed"] = 2**70
            text = json.dumps(meta)
        (folder / "run.json").write_text(text)
        return folder

    def arena_dir(self) -> Path:
        """A finished tiny gmm arena (made once): a sweep folder with results.jsonl and runs."""
        with self._lock:
            folder = self.tmp / "arena"
            if not (folder / "results.jsonl").exists():
                from tsearch.cli import main

                main([*ARENA, "--out", str(folder)])
            return folder

    def arena_without_budget(self) -> Path:
        """A copy of the arena whose first results row lost its config's budget (a hand-edited file)."""
        folder = self.tmp / "arena-without-budget"
        if not folder.exists():
            shutil.copytree(self.arena_dir(), folder)
            rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
            del rows[0]["config"]["budget"]
            (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return folder

    def damaged_zip(self, label: str, damage: Callable[[Path], None]) -> Path:
        """An export of a copy of the app's run, damaged by `damage(folder)` first."""
        name = re.sub(r"\W+", "-", label)
        folder = self.tmp / "damaged-app" / name
        shutil.copytree(self.app_run, folder)
        damage(folder)
        target = self.tmp / "damaged-app" / f"{name}.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        return target


def _setup(tmp: Path, need_app: bool) -> Context:
    import importlib

    import tsearch

    ctx = Context(tmp)
    (tmp / "fresh").mkdir()
    ctx.a_file = tmp / "afile.txt"
    ctx.a_file.write_text("not an image, not a zip, not a folder")
    ctx.empty_file = tmp / "empty.zip"
    ctx.empty_file.write_bytes(b"")
    ctx.empty_dir = tmp / "empty-folder"
    ctx.empty_dir.mkdir()
    from PIL import Image

    ctx.good_png = tmp / "good.png"
    Image.new("RGB", (32, 32), "red").save(ctx.good_png)
    ctx.torn_png = tmp / "torn.png"
    ctx.torn_png.write_bytes(ctx.good_png.read_bytes()[:60])
    modules = tmp / "modules"
    modules.mkdir()
    (modules / f"{CUSTOM_MODULE}.py").write_text(CUSTOM_SOURCE)
    sys.path.insert(0, str(modules))
    ctx.custom = importlib.import_module(CUSTOM_MODULE)
    ctx.saved_run = tmp / "saved-run"
    tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], algorithm="zero-order", budget=60, steps=4, n=2,
                   seed=3, out=str(ctx.saved_run))
    if need_app:
        from tsearch.app import files_tab, handlers
        from tsearch.app.state import Session

        session = Session()
        list(handlers.search(**APP_BASE, session=session))
        ctx.app_run = Path(session.last_run_dir)
        ctx.run_zip = Path(files_tab.export(session))
    return ctx


# --- running one case -------------------------------------------------------------------------------------------------
class _PerThread(io.TextIOBase):
    """sys.stdout/sys.stderr: each case thread writes to its own buffer, every other thread to the real stream."""

    def __init__(self, real, name: str):
        self.real, self.name = real, name

    def _target(self):
        return getattr(_local, self.name, None) or self.real

    def write(self, text):
        return self._target().write(text)

    def flush(self):
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


def _install_hooks():
    """Capture output per thread, let a timed-out case's search be stopped, note where the CLI's errors come from."""
    import tsearch.cli
    from tsearch import engine

    sys.stdout, sys.stderr = _PerThread(sys.stdout, "stdout"), _PerThread(sys.stderr, "stderr")
    real_run = engine.run

    def run(plan, should_stop=None, *args, **kwargs):
        cancel = getattr(_local, "cancel", None)
        if cancel is None:
            return real_run(plan, should_stop, *args, **kwargs)
        return real_run(plan, lambda: cancel.is_set() or bool(should_stop and should_stop()), *args, **kwargs)

    engine.run = run
    real_print = tsearch.cli._print_error

    def print_error(message):
        if not getattr(_local, "cli_origin", ""):
            _local.cli_origin = _origin(sys.exc_info()[1])
        real_print(message)

    tsearch.cli._print_error = print_error


def _frames(error: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(error.__traceback__)) if error.__traceback__ is not None else []


def _where(frame: traceback.FrameSummary) -> str:
    path = Path(frame.filename)
    try:
        name = path.resolve().relative_to(PACKAGE.parent).as_posix()
    except ValueError:
        name = "/".join(path.parts[-2:])
    return f"{name}:{frame.name}:{frame.lineno}"


def _origin(error: BaseException | None) -> str:
    """Where an error was first raised (following what it was raised from or during), in tsearch if it passed there."""
    if error is None:
        return ""
    chain, seen = [error], {id(error)}
    while True:
        inner = chain[-1].__cause__ or chain[-1].__context__
        if inner is None or id(inner) in seen:
            break
        chain.append(inner)
        seen.add(id(inner))
    places = []
    for link in reversed(chain):   # the innermost (first raised) first
        frames = _frames(link)
        ours = [f for f in frames if _is_ours(f.filename)]
        if ours:
            places.append(_where(ours[-1]))
        elif frames:
            places.append(_where(frames[-1]))
    unique = list(dict.fromkeys(places))
    return unique[0] + (f" (re-raised at {unique[-1]})" if len(unique) > 1 else "")


def _is_ours(filename: str) -> bool:
    path = Path(filename).resolve()
    return PACKAGE in path.parents and path != Path(__file__).resolve()


def _message_of(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return str(message) if isinstance(message, str) else str(error)


def _mentions(message: str, needles: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message, re.IGNORECASE)
               for n in needles if n)


def _refusal(case: Case, message: str) -> str:
    if case.valid:
        return "refused (valid)"
    lines = [line for line in message.splitlines() if line.strip()]
    return "clear" if len(lines) == 1 and _mentions(message, case.needle) else "unclear"


def _progress_line(line: str) -> bool:
    return "NFE" in line and "|" in line   # tqdm's bar, redrawn with carriage returns


def _classify_cli(case: Case, code, out: str, err: str) -> tuple[str, str, str]:
    lines = [line for line in err.splitlines() if line.strip() and not _progress_line(line)]
    text = "\n".join(lines)
    if "Traceback (most recent call last)" in err:
        return "crash", text[-2000:], f"exit {code}"
    if code == 0:
        last = out.strip().splitlines()[-1] if out.strip() else ""
        return ("accepted (valid)" if case.valid else "wrongly accepted"), f"ran: {last[:300]}", "exit 0"
    errors = [line for line in lines if line.startswith("error:")]
    if code == 1 and case.code == 1 and len(errors) == 1:   # some of its work failed: its error line, then the failures
        return _refusal(case, errors[0]), errors[0], "exit 1"
    if code == 2 and lines and all(line.startswith("error:") for line in lines[-1:]):
        if len(lines) > 1:
            return ("refused (valid)" if case.valid else "unclear"), text, "exit 2"
        return _refusal(case, lines[0]), lines[0], "exit 2"
    return "crash", text or "(nothing on stderr)", f"exit {code}"


def _accepted_message(value) -> str:
    summary = getattr(value, "summary", None)
    if summary is not None:
        return f"ran: {summary.candidates} candidates, {summary.nfe_spent} of {summary.budget} NFEs"
    if isinstance(value, list) and value and isinstance(value[-1], tuple):
        return f"ran: {str(value[-1][0])[:300]}"
    if isinstance(value, tuple) and value:
        return f"ran: {str(value[0])[:300]}"
    return f"ran: returned {type(value).__name__}"


def run_case(case: Case, ctx: Context, timeout: float) -> tuple[Result, threading.Thread | None]:
    box: dict[str, Any] = {}
    cancel = threading.Event()

    def target():
        _local.stdout, _local.stderr = io.StringIO(), io.StringIO()
        _local.cancel, _local.cli_origin = cancel, ""
        try:
            import contextlib

            with case.around() if case.around else contextlib.nullcontext():
                if case.interface == "cli":
                    from tsearch.cli import main

                    box["value"] = main(case.call(ctx))
                else:
                    box["value"] = case.call(ctx)
        except BaseException as error:  # noqa: BLE001 - every outcome is classified
            box["error"] = error
            box["origin"] = _origin(error)
        finally:
            box["out"], box["err"] = _local.stdout.getvalue(), _local.stderr.getvalue()
            box["cli_origin"] = _local.cli_origin

    started = time.perf_counter()
    thread = threading.Thread(target=target, name=f"bad-input {case.label}", daemon=True)
    thread.start()
    thread.join(timeout)
    seconds = round(time.perf_counter() - started, 2)
    if thread.is_alive():
        cancel.set()   # a search stops at its next batch; anything else is left to run out on its own
        return Result(case.interface, case.label, "hang", f"still running after {timeout:g} s", "timeout", "",
                      seconds), thread
    error = box.get("error")
    if case.interface == "cli":
        if error is not None:
            return Result(case.interface, case.label, "crash", f"{type(error).__name__}: {_message_of(error)}",
                          type(error).__name__, box.get("origin", ""), seconds), None
        outcome, message, kind = _classify_cli(case, box["value"], box["out"], box["err"])
        origin = box["cli_origin"] if outcome != "accepted (valid)" and outcome != "wrongly accepted" else ""
        return Result(case.interface, case.label, outcome, message, kind, origin, seconds), None
    if error is None:
        outcome = "accepted (valid)" if case.valid else "wrongly accepted"
        return Result(case.interface, case.label, outcome, _accepted_message(box["value"]), "returned", "",
                      seconds), None
    message = _message_of(error)
    if case.interface == "app":
        import gradio as gr

        refused = isinstance(error, gr.Error)
    else:
        from tsearch.registry import Unavailable

        refused = isinstance(error, (ValueError, Unavailable))
    if refused:
        outcome = _refusal(case, message)
    else:
        outcome = "crash"
        message = f"{type(error).__name__}: {message}"
    return Result(case.interface, case.label, outcome, message, type(error).__name__, box.get("origin", ""),
                  seconds), None


# --- the report -------------------------------------------------------------------------------------------------------
def tally(results: list[Result]) -> dict:
    table = {}
    for interface in INTERFACES + ("total",):
        rows = [r for r in results if interface == "total" or r.interface == interface]
        if not rows:
            continue
        counts = {"cases": len(rows)}
        for outcome in OUTCOMES + VALID_OUTCOMES:
            counts[outcome] = sum(r.outcome == outcome for r in rows)
        table[interface] = counts
    return table


def _table_text(table: dict) -> str:
    columns = ("cases",) + OUTCOMES + VALID_OUTCOMES
    head = f"{'interface':10s}" + "".join(f"{c:>18s}" for c in columns)
    lines = [head, "-" * len(head)]
    for interface, counts in table.items():
        lines.append(f"{interface:10s}" + "".join(f"{counts[c]:>18d}" for c in columns))
    return "\n".join(lines)


def _one_line(text: str, limit: int = 600) -> str:
    text = " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())
    return text if len(text) <= limit else text[:limit] + " …"


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.bad_inputs", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one strict JSON object instead of the table")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a case counts as a hang")
    parser.add_argument("--only", default=",".join(INTERFACES), help="comma-separated interfaces (cli,api,app)")
    parser.add_argument("--verbose", action="store_true", help="one line per case on stderr as it runs")
    parser.add_argument("--all", action="store_true", help="list every case, the clear ones too")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if not args.only or set(args.only) - set(INTERFACES):
        parser.error(f"--only takes some of {', '.join(INTERFACES)}")
    return args


def _run_all(args, tmp: Path) -> tuple[list[Result], list[tuple[Result, threading.Thread]]]:
    """Every case of the interfaces asked for, each in its thread; (results, the ones still running)."""
    real_out, real_err = sys.stdout, sys.stderr
    results: list[Result] = []
    stuck: list[tuple[Result, threading.Thread]] = []
    try:
        ctx = _setup(tmp, need_app="app" in args.only)
        _install_hooks()
        cases = [case for name, build in (("cli", cli_cases), ("api", api_cases), ("app", app_cases))
                 if name in args.only for case in build()]
        for number, case in enumerate(cases, 1):
            result, thread = run_case(case, ctx, args.timeout)
            results.append(result)
            if thread is not None:
                stuck.append((result, thread))
            if args.verbose:
                print(f"[{number}/{len(cases)}] {case.interface} {result.outcome:16s} {case.label} ({result.seconds} s)"
                      f": {_one_line(result.message, 160)}", file=real_err, flush=True)
        for result, thread in stuck:   # a stopped search ends at its next batch: give it a moment, then leave it
            thread.join(5)
            result.message += ("; it ended once asked to stop" if not thread.is_alive()
                               else "; still running when the bench ended")
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    return results, stuck


def _print_report(args, results: list[Result], seconds: float) -> None:
    table = tally(results)
    listed = [r for r in results if args.all or r.outcome not in ("clear", "accepted (valid)")]
    if args.json:
        rows = [{"interface": r.interface, "label": r.label, "outcome": r.outcome, "message": r.message,
                 "kind": r.kind, "origin": r.origin, "seconds": r.seconds} for r in listed]
        report = {"tally": table, "seconds": seconds, "timeout_s": args.timeout,
                  "all" if args.all else "non_clear": rows}
        print(json.dumps(report, allow_nan=False, ensure_ascii=False), flush=True)
        return
    print(_table_text(table))
    print(f"\n{len(results)} cases in {seconds} s (timeout {args.timeout:g} s per case)")
    if listed:
        print("\nEvery case:" if args.all else "\nEvery case that was not clear (or valid and accepted):")
    for r in listed:
        print(f"- [{r.interface}] {r.outcome}: {r.label} ({r.kind}{', ' + r.origin if r.origin else ''})\n"
              f"    {_one_line(r.message)}")
    sys.stdout.flush()


def main(argv=None) -> int:
    args = _parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tsearch-bad-inputs-"))
    os.environ["TSEARCH_APP_RUNS"] = str(tmp / "app-runs")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    results, stuck = _run_all(args, tmp)
    _print_report(args, results, round(time.perf_counter() - started, 1))
    shutil.rmtree(tmp, ignore_errors=True)
    if any(thread.is_alive() for _, thread in stuck):
        sys.stderr.flush()
        os._exit(0)   # a daemon thread left inside torch can abort the interpreter's shutdown
    return 0

if __name__ == "__main__":
    sys.exit(main())
