"""What the app offers, read from the registries: models, verifiers, algorithms and their options.

Nothing here lists models, verifiers or algorithms by hand; `PRESETS` only says which registered
names a model starts with (its verifiers, held-out evaluator, prompt and budget), and is filtered
against what the registries report as available here.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from dataclasses import dataclass

import gradio as gr

from tsearch.models import MODELS, model_status
from tsearch.search import ALGORITHMS
from tsearch.verifiers import verifier_status


@dataclass(frozen=True)
class Preset:
    verifiers: tuple[str, ...]      # the verifiers a search with this model starts with
    evaluator: str | None           # held-out scorer plotted beside them (never told to the search)
    prompt: str | None = None       # text models: the prompt the app opens with
    cls: int | None = None          # class models: the class the app opens with
    budget: int = 400               # NFEs; about half a minute or less on a 2-core CPU
    steps: int | None = None        # steps per candidate the page opens with (None: the model's default)


@dataclass(frozen=True)
class Planned:
    """The compute planner's best choice for the page's default budget in seconds (docs/planner.md, its figures
    in docs/bench/plan_hard.json): the model, steps, verifier and budget the page opens on. A test keeps this,
    the documented choice and the page the same."""
    model: str
    steps: int
    candidates: int
    verifier: str
    budget: int                     # NFEs of its candidates (and commits)
    draft_steps: int | None = None  # draft-then-commit: the drafts' steps (None: a plain search)
    commit: int = 0

    @property
    def algorithm(self) -> str:
        """The planner's pools are random search's, so its choice is random search (drafts: random-draft)."""
        return "random-draft" if self.draft_steps else "random"


# `python -m tsearch arena plan --threads 1` (cells), then `--no-run --retime --threads 2` (seconds on 2 threads):
# the most accurate choice within 2 s on the hard split, and the cheapest of the equals (100% of 96 units, 0.46 s)
PLANNED = Planned(model="shapes-small", steps=4, candidates=16, verifier="shapes-parts", budget=128)
PROMPT = "a red circle and a blue square"
PRESETS = {
    "shapes": Preset(("shapes-clip",), "shapes-oracle", prompt=PROMPT, budget=800),
    "shapes-teacher": Preset(("shapes-clip",), "shapes-oracle", prompt=PROMPT, budget=800),
    # one pass per step: the teacher's 40 candidates of 10 steps cost half the NFEs
    "shapes-distilled": Preset(("shapes-clip",), "shapes-oracle", prompt=PROMPT, budget=400),
    PLANNED.model: Preset((PLANNED.verifier,), "shapes-oracle", prompt=PROMPT, budget=PLANNED.budget,
                          steps=PLANNED.steps),
    "digits": Preset(("digits-classifier",), None, cls=3, budget=600),
    "gmm": Preset(("gmm-density",), None, cls=1, budget=300),
}
MOST_NFES = 20000   # a Run's (and an MCP call's) largest budget: a page search should end within minutes on a CPU
# the planner's choice is random search; at its setting every other method that fits loses on the same 96 units
# (zero-order 81.2%, -18.8 [-26.0, -11.5] against random's 100%; sweeps/default_algorithm.toml, docs/planner.md)
DEFAULT_ALGORITHM = PLANNED.algorithm
PREFERRED_MODELS = tuple(dict.fromkeys((PLANNED.model, "shapes", "gmm")))   # the first available one opens the app
LOCAL_KINDS = ("analytic", "bundled")  # registry kinds that load in seconds; others may download weights
DOWNLOADING_KINDS = ("diffusers",)     # registry kinds that fetch weights from the hub when first loaded


def _pool():
    from tsearch.app.pool import POOL

    return POOL


def provided() -> dict[str, str]:
    """Models handed to the app already loaded (build_demo(model=pipe)): name -> description."""
    return _pool().provided()


def models() -> list[tuple[str, bool, str, str]]:
    """(name, available, reason, description) for the models handed to the app, then every registered model."""
    given = provided()
    return [(name, True, "ok", description) for name, description in given.items()] + \
        [row for row in model_status() if row[0] not in given]


def known_models() -> list[str]:
    return [*provided(), *(name for name in MODELS if name not in provided())]


def model_options(model: str) -> tuple[str, ...]:
    """The model options (MODEL_OPTIONS) the chosen model takes, known without loading it."""
    from tsearch.models import MODEL_OPTIONS, supported_options

    if model in provided():
        options_class = getattr(_pool().get(model).model, "options_class", None)
        names = {f.name for f in dataclasses.fields(options_class)} if options_class else set()
        return tuple(o for o in MODEL_OPTIONS if o in names)
    return (supported_options(model) or ()) if model in MODELS else ()


def check_model_options(model: str, options: dict) -> None:
    """gr.Error naming a model option the chosen model does not take, and the models that do."""
    from tsearch.models import option_error

    taken = model_options(model)
    for name in options:
        if name not in taken:
            error = option_error(name, f"model {model!r}", taken)
            raise gr.Error(str(error) if error else f"unknown model option {name!r}")


def verifiers() -> list[tuple[str, bool, str, str]]:
    return verifier_status()


def status_of(kind: str, name: str) -> tuple[bool, str]:
    """(available, reason) of one registered model or verifier: imports only that entry, not the whole registry."""
    from tsearch.registry import status
    from tsearch.verifiers import VERIFIERS

    if kind == "model" and name in provided():
        return True, "ok"
    return status((MODELS if kind == "model" else VERIFIERS)[name])


def available_verifiers() -> list[str]:
    return [name for name, ok, _, _ in verifiers() if ok]


def score_note(verifiers, evaluator) -> str:
    """What each chosen score means and which way is better, from the verifier registry's descriptions."""
    from tsearch.verifiers import VERIFIERS

    chosen = [(name, "verifier") for name in (verifiers or []) if name in VERIFIERS] + \
        ([(evaluator, "held-out")] if evaluator in VERIFIERS else [])
    lines = [f"- **{name}** ({role}): {VERIFIERS[name].description}; higher is better" for name, role in chosen]
    if len([v for v in verifiers or [] if v in VERIFIERS]) > 1:
        lines.append("- the search ranks by the verifiers' mean rank, so its score is a rank, not a verifier's scale")
    return "\n".join(lines)


def verifier_fits(model: str, verifier: str) -> bool:
    """Whether a registered verifier can score this model's samples: a bundled world's verifiers score that world
    only; a text world (shapes) also takes the general verifiers that read a prompt or nothing; the class worlds
    (digits, gmm) take their own only (their classes are not ImageNet's); a hub or handed-in model takes the
    general ones."""
    from tsearch.config_checks import home_world, world_of
    from tsearch.verifiers import VERIFIERS

    home, world = home_world(model), world_of(verifier)
    if world is not None or home is None:
        return world == home
    return _pool().describe(model)["conditioning"] == "text" and VERIFIERS[verifier].condition in ("text", "")


def verifiers_for(model: str) -> list[str]:
    """The verifiers the page offers for this model: available here and able to score its samples."""
    return [name for name in available_verifiers() if verifier_fits(model, name)]


def is_local(model: str) -> bool:
    """Whether the model loads from this machine in seconds (so the page may load it to describe it)."""
    return model in provided() or (model in MODELS and MODELS[model].kind in LOCAL_KINDS)


def offered(model: str) -> bool:
    """Whether the host lets visitors load this model: the models that load from this machine (bundled, analytic),
    those handed to the app or loaded already, and those $TSEARCH_APP_MODELS lists (see check_allowed)."""
    if model in provided():
        return True
    listed = allowed_models()
    if listed is not None:
        return model in listed or is_local(model)
    return MODELS[model].kind not in DOWNLOADING_KINDS or _pool().loaded(model)


def runs_here(model: str) -> bool:
    return any(name == model and ok for name, ok, _, _ in models()) and offered(model)


def model_choices() -> list[tuple[str, str]]:
    """The model dropdown's choices (label, name): only the models that run here; the others are listed apart
    (`other_models_note`)."""
    return [(name, name) for name, ok, _, _ in models() if ok and offered(name)]


def _short(reason: str) -> str:
    """A registry's reason without its command-line advice (the host section says what to do)."""
    return reason.split("; to use it")[0].split("; or ")[0].rstrip(".")


def other_models() -> list[tuple[str, str, str]]:
    """(name, description, what keeps it off the page) of each registered model the page does not offer."""
    rows = []
    for name, ok, reason, description in models():
        if ok and offered(name):
            continue
        why = ([] if ok else [f"not loadable here ({_short(reason)})"]) + \
            ([] if offered(name) else ["not listed in TSEARCH_APP_MODELS"])
        rows.append((name, description, "; ".join(why)))
    return rows


def other_models_note() -> str:
    """Markdown: the registered models that do not run here, and what would make them available."""
    rows = other_models()
    if not rows:
        return "Every registered model runs here."
    lines = [f"- **{name}**: {description}. *Now:* {why}." for name, description, why in rows]
    return ("These models are registered but not offered on this page. **Visitors:** nothing to do; they need the "
            "host's set-up. **Hosts:** make a model loadable here (its weights cached or the hub reachable, often "
            "a GPU) and list it in the TSEARCH_APP_MODELS environment variable (comma-separated names).\n\n"
            + "\n".join(lines))


def default_model() -> tuple[str, str]:
    """The model the app opens on and a note saying why, when it is not the first preference."""
    status = {name: (ok, reason) for name, ok, reason, _ in models()}
    for name in PREFERRED_MODELS:
        if status.get(name, (False, ""))[0]:
            first = PREFERRED_MODELS[0]
            if name == first:
                return name, ""
            why = status.get(first, (False, "it is not registered"))[1]
            return name, f"The bundled `{first}` model is not available here, so the app opened on `{name}`. Why: {why}"
    usable = [name for name, ok, _, _ in models() if ok]
    if not usable:
        raise RuntimeError("no model is available here; run `python -m tsearch models` to see why")
    return usable[0], ""


def preset(model: str) -> Preset:
    """The model's preset, keeping only the verifiers that are registered and available here."""
    ready = set(available_verifiers())
    base = PRESETS.get(model, Preset((), None))
    chosen = tuple(v for v in base.verifiers if v in ready)
    evaluator = base.evaluator if base.evaluator in ready else None
    return dataclasses.replace(base, verifiers=chosen, evaluator=evaluator)


def warm(model: str) -> None:
    """Load a local model with its preset verifiers (so the first Run shows a candidate within seconds); one that
    will not load is left for the Run button, which says why."""
    from tsearch.registry import Unavailable

    if is_local(model):
        chosen = preset(model)
        try:
            _pool().warm(model, chosen.verifiers + ((chosen.evaluator,) if chosen.evaluator else ()))
        except (ValueError, Unavailable):
            pass


def model_note(model: str) -> str:
    """One markdown line about the chosen model: its description, or why it cannot run here."""
    for name, ok, reason, description in models():
        if name == model:
            if not ok:
                return f"**{name} is unavailable here:** {_short(reason)}."
            return f"**{name}**: {description}" + ("" if reason == "ok" else f" ({_short(reason)})")
    return f"**{model}** is not a registered model."


def _listing(title: str, rows) -> str:
    lines = [f"- **{name}**: {description}" + ("" if ok else f" (*unavailable: {_short(reason)}*)")
             for name, ok, reason, description in rows]
    return f"**{title}**\n\n" + "\n".join(lines)


def model_list_note() -> str:
    """The models that run here (the others are listed apart, with what makes them available)."""
    return _listing("Models", [row for row in models() if row[1] and offered(row[0])])


def verifier_note() -> str:
    return _listing("Verifiers", verifiers())


def allowed_models() -> tuple[str, ...] | None:
    """The models the host lets visitors load: $TSEARCH_APP_MODELS (comma-separated), else None (see check_allowed)."""
    listed = os.environ.get("TSEARCH_APP_MODELS")
    if listed is None:
        return None
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def check_allowed(model: str) -> None:
    """A public app must not download any hub model a caller names: by default only the models that load from
    this machine (bundled, analytic) and those the host has loaded already; $TSEARCH_APP_MODELS lists others."""
    if not offered(model):
        names = tuple(n for n in known_models() if offered(n))
        raise gr.Error(f"model {model!r} is not offered by this app; it offers {', '.join(names) or 'none'} "
                       f"(the host lists more in $TSEARCH_APP_MODELS)")


# --- algorithm options ------------------------------------------------------------------------

@dataclass(frozen=True)
class OptionField:
    algorithm: str
    name: str
    kind: type           # int, float or str
    default: object
    help: str            # the dataclass's inline comment
    choices: tuple[str, ...] = ()   # str options whose comment quotes the valid values

    @property
    def key(self) -> str:
        """The keyword the app and its API use: algorithm and field in lower case, e.g. zero_order_lam, paths_l."""
        return f"{self.algorithm.replace('-', '_')}_{self.name}".lower()


def option_fields(algorithm: str) -> list[OptionField]:
    """The algorithm's options with their help and choices, from its Options dataclass's field metadata."""
    return [OptionField(algorithm, f.name, type(f.default), f.default, f.metadata.get("help", ""),
                        tuple(f.metadata.get("choices", ())))
            for f in dataclasses.fields(ALGORITHMS[algorithm].Options)]


def all_option_fields() -> list[OptionField]:
    return [field for name in ALGORITHMS for field in option_fields(name)]


def algorithm_brief(algorithm: str) -> str:
    """One plain sentence about the algorithm: its `in_brief`, else the first sentence of its documentation."""
    from tsearch.describe import algorithm_summary

    text = getattr(ALGORITHMS[algorithm], "in_brief", None) or without_sources(algorithm_summary(algorithm))
    return text[:1].upper() + text[1:].rstrip(".") + "."


def algorithm_doc(algorithm: str) -> str:
    """The algorithm's own explanation, its module docstring, without the file and module names it cites."""
    module = inspect.getmodule(ALGORITHMS[algorithm])
    return without_sources(inspect.cleandoc(module.__doc__ or ALGORITHMS[algorithm].__doc__ or ""))


_SOURCES = (r"\s*\(`?tsearch(\.\w+)+`?\)",          # "(`tsearch.noise.crossover`)": the code's own name
            r";?\s*(see\s+)?`?[A-Z][A-Z_]+\.md`?",     # "; see PEERS.md": the repository's notes
            r";?\s*(see\s+)?`?(docs|sweeps|assets|tests)/[\w./-]*\w`?",   # "; see docs/bench/x.md": a path
            r"`?tsearch(\.\w+)+`?")                   # any other module name


def without_sources(text: str) -> str:
    """Text for a page's visitor: references to this repository's files and modules taken out."""
    for pattern in _SOURCES:
        text = re.sub(pattern, "", text)
    text = re.sub(r"\(\s*[;,]?\s*\)", "", text)   # a parenthesis left empty
    return re.sub(r"\s+([,.;)])", r"\1", re.sub(r"[ \t]{2,}", " ", text))


def options_for(algorithm: str, values: dict) -> dict:
    """The keyword options of one algorithm from the app's flat {key: value}, defaults left out."""
    chosen = {}
    for field in option_fields(algorithm):
        if field.key in values and values[field.key] is not None and values[field.key] != "":
            value = values[field.key]
            if value != field.default or type(value) is not type(field.default):
                chosen[field.name] = value
    return chosen
