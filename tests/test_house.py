"""The house (issue 17): tsearch's imports drawn as a graph have no circle and no arrow that runs back up.

Every `import` in every module counts, function-local (lazy) ones included. A module's layer comes
from DESIGN.md ("Arrows point one way"): the basics at the bottom; then the parts (search, models,
verifiers, the worlds and the records they exchange); the config over them (its one validation reads
the registries); the engine; the API; the front doors, each on its own floor (sweeps, then the arena over them, the CLI, the
app and its MCP tool); the benchmarks and the package itself on top. The worlds sit under the parts: no world
imports a model or a verifier. A module may import its own layer or any below; and search, models and
verifiers do not know each other (STYLE.md 1). The long-function check of the same issue is here too.
Inside the app the same rule holds floor by floor (APP_LAYERS: services, the live run and its views, the one path,
the form, the tabs, then the page and the MCP tool side by side), and no tab's handlers import another tab's.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import tsearch

ROOT = Path(tsearch.__file__).parent
LAYERS = [   # lowest first; a module belongs to the first prefix that names it or a package above it
    ("tsearch._compat", "tsearch.jsonio", "tsearch.noise", "tsearch.sampling", "tsearch.schedule", "tsearch.registry",
     "tsearch.version", "tsearch.options", "tsearch.envvars"),
    ("tsearch.worlds",),   # data, oracles, training: no world imports a model, a verifier or anything above
    ("tsearch.search", "tsearch.models", "tsearch.verifiers", "tsearch.candidate",
     "tsearch.events", "tsearch.recipes", "tsearch.runs", "tsearch.runfolder",
     "tsearch.flops"),
    ("tsearch.config", "tsearch.config_checks", "tsearch.describe", "tsearch.flags", "tsearch.lineage",
     "tsearch.lineage_html"),
    ("tsearch.engine",),
    ("tsearch.api", "tsearch.regenerate"),
    ("tsearch.bench.charts",),   # plain drawing code, imports nothing of tsearch; the sweeps and the arena draw with it
    # the front doors, each on its own floor: a door may drive the ones below it, never one above
    ("tsearch.sweep",),
    ("tsearch.arena",),   # a thin layer over sweeps
    ("tsearch.cli", "tsearch.cli_flags", "tsearch.cli_progress"),
    ("tsearch.app",),   # the page and its MCP tool, over the library
    ("tsearch.bench", "tsearch.__main__", "tsearch"),
]
STRANGERS = ("tsearch.search", "tsearch.models", "tsearch.verifiers")   # none imports another
# No circle is left: the models package's registry and option helpers live in its leaf models.table, which
# pipeline reads without importing the package's loaders.
KNOWN_CIRCLES: list[list[str]] = []   # none left: the models circle ended when the registry moved to models.table
# Inside the app (issue 26, item 3), lowest first: a module of tsearch.app may import its own floor or one below.
APP_LAYERS = [
    # services, shared by every tab and the MCP tool: the model pool (and how many searches share it), ZeroGPU,
    # what the registries offer here, the time measurements, run folders, and the net that turns a failure into a line
    ("gpu", "pool", "catalog", "estimate", "runs_root", "contain"),
    # the live run and its views: a tab's run state, its best, the gallery and card, charts and their axis, the
    # gmm picture, the verifier's evidence, the lineage view, the words for screen readers, a run as a zip
    ("state", "best", "charts", "axis", "density", "evidence", "views", "lineage_view", "a11y", "compare_table",
     "export"),
    ("one_path",),   # the one path every search of the app takes: a validated config planned, then driven
    # the form: the controls generated from the settings, their choices and notes, the time estimate it shows,
    # the checks a Run passes, and a loaded run's settings put back
    ("form", "validate", "budget", "numbers", "timing", "choices", "controls", "loaded", "restore"),
    # the tabs, over the one path: each tab's handlers in modules of its own (TABS)
    ("handlers", "compare", "compare_estimate", "files_tab", "arena_tab", "arena_ladder"),
    # the page and the MCP tool side by side (neither imports the other), and the package that opens the page
    ("ui", "style", "mcp", "tsearch.app"),
]
SIDE_BY_SIDE = ("tsearch.app.ui", "tsearch.app.mcp")   # the top floor's two front doors do not know each other
TABS = {"Search": ("handlers",), "Compare": ("compare", "compare_estimate"), "Export / load": ("files_tab",),
        "Arena": ("arena_tab", "arena_ladder")}   # no tab's module imports another tab's
TRAINING = ("train", "fit_")   # the worlds' training scripts are exempt from the length rule
MAX_LINES = 60


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
    return []


def graph() -> dict[str, set[str]]:
    """module -> the tsearch modules it imports (anywhere in it), each resolved to a module that exists."""
    known, edges = modules(), collections.defaultdict(set)
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node, known):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target.startswith("tsearch") and target != name:
                    edges[name].add(target)
    return edges


def layer(name: str) -> tuple[int, str]:
    """(layer number, the prefix that placed it): the longest prefix of any layer that names it."""
    matches = [(len(p), number, p) for number, prefixes in enumerate(LAYERS) for p in prefixes
               if name == p or name.startswith(p + ".")]
    assert matches, f"module {name} has no layer: add it to LAYERS in {__file__}"
    _, number, prefix = max(matches)
    return number, prefix


def app_layer(name: str) -> int:
    """The app floor (APP_LAYERS) of a module of tsearch.app."""
    floors = [number for number, names in enumerate(APP_LAYERS)
              if name in names or name in (f"tsearch.app.{n}" for n in names)]
    assert floors, f"app module {name} has no floor: add it to APP_LAYERS in {__file__}"
    return floors[0]


def app_upward(edges: dict[str, set[str]]) -> list[str]:
    """'a (floor) -> b (floor)' for every import from an app module to one on a higher app floor."""
    inside = lambda name: name == "tsearch.app" or name.startswith("tsearch.app.")   # noqa: E731
    return sorted(f"{a} ({app_layer(a)}) -> {b} ({app_layer(b)})" for a, targets in edges.items() if inside(a)
                  for b in targets if inside(b) and app_layer(b) > app_layer(a))


def cycles(edges: dict[str, set[str]], nodes=None) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes if nodes is not None else modules()):
        if v not in index:
            visit(v)
    return found


def test_the_imports_have_no_circle():
    assert cycles(graph()) == KNOWN_CIRCLES


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    upward = [f"{a} ({layer(a)[1]}) -> {b} ({layer(b)[1]})" for a, targets in graph().items() for b in targets
              if layer(b)[0] > layer(a)[0]]
    assert upward == []


def test_the_app_flows_one_way():
    """No module of the app imports one on a higher floor; the page and the MCP tool do not import each other, nor
    one tab another's; every module of the app has a floor; no circle among them."""
    edges = graph()
    app = [name for name in modules() if name == "tsearch.app" or name.startswith("tsearch.app.")]
    assert all(app_layer(name) >= 0 for name in app)
    assert app_upward(edges) == []
    assert [f"{a} -> {b}" for a in SIDE_BY_SIDE for b in SIDE_BY_SIDE if b in edges.get(a, ())] == []
    tab = {f"tsearch.app.{name}": title for title, names in TABS.items() for name in names}
    assert set(tab) == {f"tsearch.app.{name}" for name in APP_LAYERS[-2]}
    assert [f"{a} -> {b}" for a in tab for b in edges.get(a, ()) if b in tab and tab[b] != tab[a]] == []
    assert cycles({a: edges.get(a, set()) & set(app) for a in app}, app) == []


def test_search_models_and_verifiers_do_not_know_each_other():
    crossing = [f"{a} -> {b}" for a, targets in graph().items() for b in targets
                if (pa := layer(a)[1]) in STRANGERS and (pb := layer(b)[1]) in STRANGERS and pa != pb]
    assert crossing == []


def long_functions(limit: int = MAX_LINES) -> list[str]:
    """'path:line name (n lines)' for every function over `limit` lines outside the worlds' training scripts."""
    found = []
    for name, path in sorted(modules().items()):
        if name.startswith("tsearch.worlds.") and path.stem.startswith(TRAINING):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_the_checks_find_what_they_look_for():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, "abcd") == [["a", "b", "c"]]
    assert layer("tsearch.engine.loop") == (4, "tsearch.engine") and layer("tsearch") == (11, "tsearch")
    assert layer("tsearch.sweep.stats")[0] < layer("tsearch.arena.cli")[0] < layer("tsearch.cli")[0] < layer("tsearch.app")[0]
    assert "tsearch.engine.overlap" in graph()["tsearch.engine.loop"]   # lazy and top-level imports alike
    assert app_layer("tsearch.app.pool") < app_layer("tsearch.app.state") < app_layer("tsearch.app.one_path") \
        < app_layer("tsearch.app.form") < app_layer("tsearch.app.handlers") < app_layer("tsearch.app.ui") \
        == app_layer("tsearch.app.mcp") == app_layer("tsearch.app")
    assert app_upward({"tsearch.app.pool": {"tsearch.app.ui"}, "tsearch.app.ui": {"tsearch.app.pool"}}) == [
        "tsearch.app.pool (0) -> tsearch.app.ui (5)"]
    assert long_functions(limit=10) and all(" lines)" in line for line in long_functions(limit=10))


def test_no_function_is_over_60_lines_outside_the_training_scripts():
    assert long_functions() == []


if __name__ == "__main__":   # for the lead: python tests/test_house.py lists what the checks would refuse
    for line in long_functions():
        print("long:", line)
    for component in cycles(graph()):
        print("circle:", " -> ".join(component))
    for line in app_upward(graph()):
        print("app upward:", line)
