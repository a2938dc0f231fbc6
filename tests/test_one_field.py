"""Issue 26, item 1: a new run setting is one field. One `setting(...)` field is added to SearchConfig in a copy of
the package, with nothing else edited, and every door offers, checks, stores and restores it: `run --help` and
`arena --help`, the API's range check, run.json and `from_run`, the app's `/search` endpoint and a labelled control
on its page, the MCP tool's schema, and a sweep's cell keys. Existing sweep keys and run.json configs stay the same."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIELD = ('    warmth: int = setting(0, "how warm the search runs (a test\'s own setting)", label="warmth", '
         'group="advanced", minimum=0, maximum=7, when_set=True)\n')

# What the doors see, gathered in one subprocess (one import of torch and gradio) over the patched copy.
PROBE = r'''
import contextlib, io, json, sys
import tsearch
from tsearch.cli import main
from tsearch.config import SearchConfig
from tsearch.sweep.spec import parse_spec

seen = {}
for name, argv in (("run_help", ["run", "--help"]), ("arena_help", ["arena", "--help"])):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit:
            pass
    seen[name] = " ".join(out.getvalue().split())
errors = []
for value in (9, -3, 2.5):
    try:
        SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",), budget=8, warmth=value).validate()
        errors.append(None)
    except ValueError as error:
        errors.append(str(error))
seen["errors"] = errors
run = sys.argv[1]
result = tsearch.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=8, steps=2, warmth=3, out=run)
seen["stored"] = json.load(open(run + "/run.json"))["config"].get("warmth")
seen["from_run"] = SearchConfig.from_run(run).warmth
seen["default_stored"] = "warmth" in SearchConfig(model="gmm", condition=1, verifiers=("gmm-density",)).to_dict()
sweep = parse_spec({"model": "gmm", "classes": [1], "verifiers": ["gmm-density"], "budgets": [8], "steps": 2,
                    "warmth": [0, 3], "algorithm": [{"name": "random"}, {"name": "zero-order", "warmth": 5}]})
seen["cells"] = [[cell.config.algorithm, cell.config.warmth, cell.key] for cell in sweep.cells]

from tsearch.app import build_demo, mcp
demo = mcp.add_tool(build_demo(model="gmm"))
info = demo.get_api_info()["named_endpoints"]
seen["search_parameters"] = [p["parameter_name"] for p in info["/search"]["parameters"]]
seen["tool_parameters"] = [p["parameter_name"] for p in info["/search_noise"]["parameters"]]
seen["tool_doc"] = mcp.search_noise.__doc__
seen["labels"] = [getattr(b, "label", None) for b in demo.blocks.values()]
from tsearch.app import files_tab, handlers
from tsearch.app.state import Session
done = list(handlers.search(model="gmm", cls=1, verifiers=["gmm-density"], budget=8, steps=2, warmth=4,
                            evaluator="", session=Session()))[-1]
seen["app_run"] = json.load(open(done[-1]["run_dir"] + "/run.json"))["config"].get("warmth")
from tsearch.app import catalog, restore
from tsearch.app.export import export_zip
from tsearch.models import MODEL_OPTIONS
session = Session()
files_tab.load(str(export_zip(done[-1]["run_dir"])), session)
c = {key: key for key in restore.MODEL_CONTROLS + restore.RUN_CONTROLS}
c["option_inputs"] = {f.key: f.key for f in catalog.all_option_fields()}
c["model_option_inputs"] = {name: name for name in MODEL_OPTIONS}
seen["restored"] = dict(zip(restore.outputs(c), restore.restore(c, session)))["warmth"].get("value")
print("PROBE" + json.dumps(seen))
'''


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy")
    shutil.copytree(ROOT / "tsearch", copy / "tsearch", ignore=shutil.ignore_patterns("__pycache__"))
    config = copy / "tsearch" / "config.py"
    text = config.read_text(encoding="utf-8")
    marker = "\n    # --- validation"
    assert text.count(marker) == 1
    config.write_text(text.replace(marker, "\n" + FIELD.rstrip("\n") + "\n" + marker, 1), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "TSEARCH_APP_RUNS": str(tmp_path_factory.mktemp("app-runs"))}
    run = tmp_path_factory.mktemp("run") / "run"
    done = subprocess.run([sys.executable, "-c", PROBE, str(run)], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE"))
    return json.loads(line[len("PROBE"):])


def test_the_command_lines_offer_it(seen):
    assert "--warmth WARMTH how warm the search runs (a test's own setting) (default 0; at least 0 and at most 7)" \
        in seen["run_help"]
    assert "--warmth" in seen["arena_help"]


def test_the_api_range_checks_it_by_name(seen):
    assert all(error is not None and "warmth" in error for error in seen["errors"]), seen["errors"]


def test_run_json_stores_it_and_from_run_reads_it_back(seen):
    assert seen["stored"] == 3 and seen["from_run"] == 3
    assert seen["default_stored"] is False   # stored only when set: older runs and sweep keys stay the same


def test_a_sweep_grids_it_and_keys_differ(seen):
    cells = seen["cells"]
    assert sorted((a, w) for a, w, _ in cells) == [("random", 0), ("random", 3), ("zero-order", 5)]
    assert len({key for _, _, key in cells}) == 3


def test_the_app_offers_it_as_a_parameter_and_a_labelled_control(seen):
    assert "warmth" in seen["search_parameters"]
    assert "Warmth" in seen["labels"]
    assert seen["app_run"] == 4
    assert seen["restored"] == 4   # a loaded run's value put back into its control


def test_the_mcp_tool_takes_it(seen):
    assert "warmth" in seen["tool_parameters"]
    assert "warmth: how warm the search runs" in seen["tool_doc"]


# --- nothing that existed changes: sweep keys and stored configs computed before the settings were generated ------

SWEEP_KEYS = {"compute_split.toml": "ab952efd9545f07a", "compute_split_640.toml": "033633a78371b392",
              "digits_hacking.toml": "58732eb284d54a4f", "search_vs_steps.toml": "982450eb01636881",
              "smc_hard.toml": "441e41b695aeb3c0", "verifier_alignment.toml": "2bcfea0f10366a22"}
CONFIGS = [
    (dict(model="gmm", condition=1, verifiers=("gmm-density",), budget=40), "0aa9607177f6da77",
     '{"model": "gmm", "condition": 1, "verifiers": ["gmm-density"], "evaluators": [], "algorithm": "random", '
     '"options": {}, "budget": 40, "steps": null, "seed": 0, "batch_size": 8, "solver": null, "final_steps": null, '
     '"device": "cpu", "dtype": null, "model_options": {}}'),
    (dict(model="gmm", condition=2, verifiers=("gmm-density",), algorithm="zero-order", options={"lam": 0.5},
          budget=80, steps=4, final_steps=8, final_top=2, seed=3), "20baece9a7bd3862",
     '{"model": "gmm", "condition": 2, "verifiers": ["gmm-density"], "evaluators": [], "algorithm": "zero-order", '
     '"options": {"lam": 0.5}, "budget": 80, "steps": 4, "seed": 3, "batch_size": 8, "solver": null, '
     '"final_steps": 8, "device": "cpu", "dtype": null, "model_options": {}, "final_top": 2}'),
    (dict(model="shapes", condition="a red circle", verifiers=("shapes-clip",), evaluators=("shapes-oracle",),
          budget=60, steps=5, solver="heun", batch_size=4, dtype="fp32", model_options={"guidance": 2.0}),
     "b539545bfe8c6da6",
     '{"model": "shapes", "condition": "a red circle", "verifiers": ["shapes-clip"], "evaluators": ["shapes-oracle"], '
     '"algorithm": "random", "options": {}, "budget": 60, "steps": 5, "seed": 0, "batch_size": 4, "solver": "heun", '
     '"final_steps": null, "device": "cpu", "dtype": "float32", "model_options": {"guidance": 2.0}}'),
]


def test_the_sweep_keys_of_every_spec_in_sweeps_are_unchanged(one_thread):
    from tsearch.sweep.spec import load_spec

    for name, digest in SWEEP_KEYS.items():
        keys = ",".join(cell.key for cell in load_spec(ROOT / "sweeps" / name).cells)
        assert hashlib.sha256(keys.encode()).hexdigest()[:16] == digest, name


@pytest.mark.parametrize("values,key,stored", CONFIGS)
def test_stored_configs_and_their_keys_are_byte_identical(values, key, stored):
    from tsearch.config import SearchConfig
    from tsearch.sweep.spec import cell_key

    config = SearchConfig(**values).validate()
    assert json.dumps(config.to_dict()) == stored
    assert cell_key(config) == key
    assert SearchConfig.from_dict(json.loads(stored)) == config


def test_the_mcp_tool_runs_the_settings_it_now_takes(one_thread, tmp_path, monkeypatch):
    """batch_size, solver, final_steps and final_top reach agents (the tool took 9 of the settings before)."""
    from tsearch.app import mcp, runs_root
    from tsearch.runs import load_run

    monkeypatch.setenv("TSEARCH_APP_RUNS", str(tmp_path))
    runs_root._last_cleanup.clear()
    _, _, text = mcp.search_noise(model="gmm", cls=1, verifiers=["gmm-density"], budget=60, steps=3, batch_size=3,
                                  solver="heun", final_steps=4, final_top=2)
    config = load_run(json.loads(text)["run_dir"]).config
    assert (config["batch_size"], config["solver"], config["final_steps"], config["final_top"]) == (3, "heun", 4, 2)


def test_every_field_added_since_is_stored_only_when_set():
    """A field stored always would change every sweep key and stored config written before it: a new field says
    `when_set=True` (as final_top does)."""
    from tsearch.config import SETTINGS

    always = [name for name, s in SETTINGS.items() if not s.when_set]
    assert always == ["model", "condition", "verifiers", "evaluators", "algorithm", "options", "budget", "steps", "seed",
                      "batch_size", "solver", "final_steps", "device", "dtype", "model_options"], \
        "a new SearchConfig field must be declared with when_set=True (stored only when set)"
