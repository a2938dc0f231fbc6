"""A sweep spec (TOML) -> its cells: one validated `SearchConfig` per search (DESIGN.md, "Scale: sweeps").

    model = "gmm"
    classes = [0, 1]                 # or prompts = [...], or prompts_file = "prompts.jsonl"
                                     # (prompts_limit = 48: only the file's first 48 prompts)
    seeds = [0, 1]                   # or seeds = 2 (0 and 1)
    verifiers = ["gmm-density"]      # a list of lists is a grid of verifier sets
    budgets = [40, 80]               # NFEs
    steps = 10                       # a list is a grid

    [[algorithm]]
    name = "random"

    [[algorithm]]
    name = "zero-order"
    lam = [0.5, 0.9]                 # a list value of an option is a grid
    budgets = [80]                   # every run setting (OVERRIDES) may be set per method
    steps = 6                        # draft-then-commit: 6-step drafts, the best 2 re-rendered at 10 steps
    final_steps = 10                 # (final_top alone, without final_steps, is refused)
    final_top = 2

A key per run setting: each SearchConfig field is a spec key of its own name (a list is a grid), at the
sweep's top level or in an [[algorithm]] table, generated from its settings (`SETTING_KEYS`), so a new
field is a sweep key with no edit here. A few are spelled in the plural or have tables of their own:
budgets, seeds, prompts/classes, model_options, [[algorithm]] (name and options); device and dtype are the
sweep's (each worker loads the model once for them).

Every cell goes through `SearchConfig.validate` (the one front door, STYLE.md 13); a bad spec is a
ValueError naming its key. A cell's key is a hash of its config's `to_dict()` as canonical JSON, so
the same search in two sweeps, or in a rerun, has the same key.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsearch import jsonio
from tsearch.config import SETTINGS, SearchConfig, offered_settings
from tsearch.options import shown
from tsearch.search import ALGORITHMS

CONDITION_KEYS = ("prompts", "prompts_file", "classes")
# the settings with keys of their own shape (above); every other setting is a key of its name, a list a grid
SPELLED = ("model", "condition", "verifiers", "evaluators", "algorithm", "options", "budget", "seed", "device",
           "dtype", "model_options")
SETTING_KEYS = tuple(name for name in SETTINGS if name not in SPELLED)
# sweep-level keys that an [[algorithm]] table may set for its own cells
OVERRIDES = ("budgets", "verifiers", "evaluators", *SETTING_KEYS)
TOP_KEYS = ("name", "description", "model", "model_options", *CONDITION_KEYS, "prompts_limit", "seeds", "device",
            "dtype", *OVERRIDES, "algorithm")
ALGORITHM_KEYS = ("name", "label", *OVERRIDES)
MAX_CELLS = 10**5   # searches in one sweep: counted before any is built (each is validated, ~1 ms)
GRID_KEYS = {"budgets": "budget", "seeds": "seed"}   # spec keys in the plural: a grid of a SearchConfig field


@dataclass(frozen=True)
class Cell:
    """One search of a sweep."""
    key: str                                    # hash of config.to_dict(), see `cell_key`
    config: SearchConfig                        # validated
    metadata: dict = field(default_factory=dict)   # e.g. a prompt's category, the method's label

    @property
    def model(self) -> str:
        return self.config.model_name


@dataclass(frozen=True)
class Sweep:
    name: str
    cells: list[Cell]
    description: str = ""


def cell_key(config: SearchConfig) -> str:
    """The first 16 hex digits of the SHA-256 of the config's canonical JSON (sorted keys, no spaces)."""
    text = jsonio.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_spec(path: str | Path) -> Sweep:
    """The sweep a TOML file describes; ValueError naming the file and the key when it is not one."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read spec {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"spec {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"spec {path} is not valid TOML: {error}") from None
    try:
        return parse_spec(data, base=path.parent, default_name=path.stem)
    except ValueError as error:
        raise ValueError(f"spec {path}: {error}") from None


def parse_spec(data: dict, base: str | Path = ".", default_name: str = "sweep") -> Sweep:
    """The sweep of a parsed spec (a dict as tomllib gives it); `base` is where prompts_file is looked up."""
    _known(data, TOP_KEYS, "key")
    if "model" not in data:
        raise ValueError("model: give the model every cell runs (e.g. model = \"gmm\"); see `python -m tsearch models`")
    models = _strings("model", data["model"])
    model_options = data.get("model_options", {})
    if not isinstance(model_options, dict):
        raise ValueError(f"model_options: a table of the model's options (model_options = {{guidance = 3.0}}), "
                         f"got {model_options!r}")
    conditions = _conditions(data, Path(base))
    seeds = _seeds(data.get("seeds", [0]))
    tables = data.get("algorithm")
    if tables is None:
        raise ValueError("algorithm: add one [[algorithm]] table per method, e.g. [[algorithm]] name = \"random\"")
    if isinstance(tables, dict):
        tables = [tables]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ValueError("algorithm: write one [[algorithm]] table per method (a table with name = ...)")
    name = data.get("name", default_name)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError("name and description are strings")

    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for number, table in enumerate(tables, 1):
        _table_cells(number, table, data, models, model_options, conditions, seeds, cells, seen)
    return Sweep(name, _by_model(cells), description)


def _table_cells(number: int, table: dict, data: dict, models, model_options, conditions, seeds, cells: list,
                 seen: dict) -> None:
    """The cells of one [[algorithm]] table, appended to `cells` (each validated; a repeat is refused)."""
    where = f"[[algorithm]] #{number}"
    algorithm = table.get("name")
    if not isinstance(algorithm, str):
        raise ValueError(f"{where}: name: give the algorithm's name ({', '.join(ALGORITHMS)})")
    where = f"[[algorithm]] #{number} ({algorithm})"
    label = table.get("label")
    if label is not None and not isinstance(label, str):
        raise ValueError(f"{where}: label is a string, got {label!r}")
    values = {key: table.get(key, data.get(key)) for key in OVERRIDES}
    budgets = _whole_list("budgets", values["budgets"], where)
    verifier_sets = _verifier_sets(values["verifiers"], where)
    evaluators = _names("evaluators", values["evaluators"] or [])
    options = _option_keys(table, algorithm, where)   # every other key is an option of the algorithm
    option_names = sorted(options)
    # each setting's values (absent: its default), in field order: steps, batch_size, solver, final_steps, ...
    grids = {name: _grid(name, SETTINGS[name].default if values[name] is None else values[name])
             for name in SETTING_KEYS}
    count = len(cells) + len(models) * len(verifier_sets) * len(conditions) * len(seeds) * len(budgets)
    for name, grid in [*((k, options[k]) for k in option_names), *grids.items()]:
        count *= len(_grid(name, grid))
    if count > MAX_CELLS:   # before the grid is built: each cell costs a validation
        raise ValueError(f"{where}: the sweep would hold {count} cells (models x options x verifiers x "
                         f"{' x '.join(SETTING_KEYS)} x budgets x conditions x seeds); at most {MAX_CELLS} are "
                         f"taken: split it")
    option_grid = [dict(zip(option_names, combo))
                   for combo in itertools.product(*(_grid(k, options[k]) for k in option_names))]
    for model, opts, verifiers, *chosen, budget in itertools.product(
            models, option_grid, verifier_sets, *grids.values(), budgets):
        for condition, metadata in conditions:
            for seed in seeds:
                try:
                    config = SearchConfig(
                        model=model, condition=condition, verifiers=verifiers, evaluators=evaluators,
                        algorithm=algorithm, options=opts, budget=budget, seed=seed, **dict(zip(grids, chosen)),
                        device=data.get("device", "cpu"), dtype=data.get("dtype"),
                        model_options=model_options).validate(here=False)   # workers check the device
                except ValueError as error:
                    raise ValueError(f"{where}: {error}") from None
                key = cell_key(config)
                if key in seen:
                    raise ValueError(f"{where}: cell {len(cells) + 1} is the same search as cell {seen[key]} "
                                     f"({_describe(config)}); remove the repeated prompt, seed or table")
                seen[key] = len(cells) + 1
                cells.append(Cell(key, config, {**metadata, **({"label": label} if label else {})}))


def _option_keys(table: dict, algorithm: str, where: str) -> dict:
    """The table's keys that are not sweep keys, checked against the algorithm's options (its settings)."""
    options = {key: value for key, value in table.items() if key not in ALGORITHM_KEYS}
    if algorithm not in ALGORITHMS:
        return options   # SearchConfig.validate names the algorithm
    try:
        known = offered_settings(algorithm)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    bad = [key for key in options if key not in known]
    if bad:
        close = difflib.get_close_matches(bad[0], [*known, *ALGORITHM_KEYS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: option(s) {', '.join(bad)} do not apply to algorithm {algorithm!r}{hint}; its "
                         f"options: {', '.join(known) or 'none'}; an [[algorithm]] table's own keys: "
                         f"{', '.join(ALGORITHM_KEYS)}")
    return options


# --- pieces -------------------------------------------------------------------------------------
def _known(table: dict, allowed, what: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown {what} {key!r}{hint}; known: {', '.join(allowed)}")


def _grid(name: str, value) -> list:
    """A list value is a grid; a scalar (or absence: None) is one value."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{name}: an empty list makes no cells; give at least one value")
        return value
    if isinstance(value, dict):
        raise ValueError(f"{name}: a value or a list of values, got a table")
    return [value]


def _strings(name: str, value) -> list[str]:
    values = _grid(name, value)
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{name}: a name or a list of names, got {value!r}")
    return values


def _names(name: str, value) -> tuple:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{name}: a list of registered names (e.g. {name} = [\"shapes-oracle\"]), got {value!r}")
    return tuple(value)


def _verifier_sets(value, where: str) -> list[tuple]:
    if value is None:
        raise ValueError(f"{where}: verifiers: give the verifiers to search with (e.g. verifiers = [\"gmm-density\"])")
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [_names("verifiers", v) for v in value]   # a grid of verifier sets
    return [_names("verifiers", value)]


def _whole_list(name: str, value, where: str) -> list[int]:
    if value is None:
        raise ValueError(f"{where}: {name}: give the NFE budgets, e.g. {name} = [40, 160]")
    values = _grid(name, value)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{name}: whole numbers (NFEs), got {v!r}")
    return values


def _seeds(value) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_CELLS:   # before the list is made
            raise ValueError(f"seeds: a count from 1 to {MAX_CELLS} (the most cells a sweep holds) or a list of "
                             f"seeds, got {shown(value)}")
        return list(range(value))
    values = _grid("seeds", value)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"seeds: a count (seeds = 4) or a list of whole numbers, got {v!r}")
    return values


def _conditions(data: dict, base: Path) -> list[tuple[Any, dict]]:
    given = [key for key in CONDITION_KEYS if key in data]
    if len(given) != 1:
        which = "one of" if not given else f"only one of (got {', '.join(given)})"
        raise ValueError(f"give {which} prompts = [...], prompts_file = \"FILE\" or classes = [...]")
    key = given[0]
    if "prompts_limit" in data and key != "prompts_file":
        raise ValueError("prompts_limit: applies to prompts_file only (it keeps the file's first N prompts)")
    if key == "prompts":
        prompts = data["prompts"]
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"prompts: a non-empty list of strings, got {prompts!r}")
        return [(p, {}) for p in prompts]
    if key == "classes":
        classes = _grid("classes", data["classes"])
        for c in classes:
            if isinstance(c, bool) or not isinstance(c, (int, str)):
                raise ValueError(f"classes: class indices, got {c!r}")
        return [(c, {}) for c in classes]
    return _first(_prompts_file(data["prompts_file"], base), data.get("prompts_limit"))


def _first(prompts: list, limit) -> list:
    """The file's first `limit` prompts (None: all of them)."""
    if limit is None:
        return prompts
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"prompts_limit: a whole number of at least 1 (the file's first N prompts), got {limit!r}")
    return prompts[:limit]


def _prompts_file(name, base: Path) -> list[tuple[str, dict]]:
    """One prompt per line ('#' comments and blank lines skipped), or JSONL objects with a "prompt" field."""
    if not isinstance(name, str):
        raise ValueError(f"prompts_file: a path (relative to the spec's folder), got {name!r}")
    path = base / name
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"prompts_file: cannot read {path} ({getattr(error, 'strerror', None) or error})") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("{"):
            try:
                row = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"prompts_file {path}, line {number}: not valid JSON ({error})") from None
            prompt = row.pop("prompt", None) if isinstance(row, dict) else None
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError(f"prompts_file {path}, line {number}: a JSON line needs a \"prompt\" string")
            out.append((prompt, row))
        else:
            out.append((text, {}))
    if not out:
        raise ValueError(f"prompts_file {path} holds no prompts")
    return out


def _describe(config: SearchConfig) -> str:
    return (f"{config.algorithm}, condition {config.condition!r}, seed {config.seed}, budget {config.budget}, "
            f"steps {config.steps}")


def _by_model(cells: list[Cell]) -> list[Cell]:
    """Cells grouped by model (stable within a model), so each worker loads each model once."""
    order = {m: i for i, m in enumerate(dict.fromkeys(_model_key(c) for c in cells))}
    return sorted(cells, key=lambda c: order[_model_key(c)])


def _model_key(cell: Cell) -> str:
    c = cell.config
    return jsonio.dumps([c.model_name, c.device, c.dtype, dict(c.model_options)], sort_keys=True)
