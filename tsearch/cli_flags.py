"""The `run` command's flags, generated from the settings (tsearch.options), and the SearchConfig they describe.

Every flag's help, default and range come from the setting it sets: SearchConfig's fields (`--budget`), the
model options (`--guidance`) and each algorithm's options, namespaced by algorithm so no two algorithms share a
flag (`--smc.lam`, `--zero-order.lam`), as jsonargparse and tyro spell nested options. The flat spelling of
earlier versions (`--lam`) still sets the chosen algorithm's option; it is hidden from --help, and left out for a
name that a run flag owns, so an option named like one can never clash: `run --help` lists every algorithm's
options, `run --algorithm smc --help` only smc's.
"""

from __future__ import annotations

import argparse

from tsearch.config import SETTINGS, SearchConfig, offered_settings
from tsearch.flags import (CONFIG_FLAGS, OWN_FLAGS, add_config_flags, flag, help_text, number_or_text,  # noqa: F401
                           parse_text, setting_type)
from tsearch.models import MODEL_OPTIONS, check_model_options, normalise_options
from tsearch.options import Setting
from tsearch.describe import algorithm_summary, option_flag, options_table  # noqa: F401 (options command)
from tsearch.search import ALGORITHMS

NAMESPACE = "opt."   # argparse dest of a namespaced option: opt.<algorithm>.<option>
FLAT = "flat_"       # argparse dest of a flat (older) option flag

def _flat_flags(taken: set[str]) -> dict[str, tuple]:
    """Older flat option flags (--lam): name -> (argparse type, choices), for names no run flag owns.

    A name several algorithms share takes one flag; where their kinds differ it parses as a number when it is
    one. The chosen algorithm's setting checks the value when the config is built."""
    seen: dict[str, list[Setting]] = {}
    for algorithm in ALGORITHMS:
        try:
            for s in offered_settings(algorithm).values():
                seen.setdefault(s.name, []).append(s)
        except ValueError:   # an algorithm whose option clashes with a setting: reported when it is chosen
            continue
    flags = {}
    for name, settings in seen.items():
        if flag(name) in taken:
            continue
        kinds = {s.kind for s in settings}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind in (int, float, bool):
            parse = setting_type(Setting(name, kind, None, ""))
        else:
            parse = str if kind is str else (lambda text: number_or_text(text, False))
        choices = sorted({c for s in settings for c in s.choices}) if all(s.choices for s in settings) else None
        flags[name] = (parse, choices)
    return flags


def add_run_flags(run: argparse.ArgumentParser, only: str | None = None) -> None:
    """The run command's flags; `only`: list just that algorithm's options in --help."""
    run.add_argument("--from", dest="from_run", metavar="RUN",
                     help="start a saved run's search again (its folder or run.json); needs --out; "
                          "other flags override the stored values")
    run.add_argument("--model", help=SETTINGS["model"].help)
    cond = run.add_mutually_exclusive_group()
    cond.add_argument("--prompt", help="text prompt (text-to-image models)")
    cond.add_argument("--class", dest="cls", help="class label (class-conditional models)")
    run.add_argument("--verifier", action="append", help=SETTINGS["verifiers"].help + "; repeat the flag for several "
                     "(a registered name or module:function)")
    run.add_argument("--evaluator", action="append", help=SETTINGS["evaluators"].help)
    run.add_argument("--algorithm", choices=sorted(ALGORITHMS), help=SETTINGS["algorithm"].help)
    run.add_argument("--out", help="run folder to write (run.json, candidates.jsonl, images/)")
    add_config_flags(run)
    models = run.add_argument_group("model options", "each model takes those it has a use for; the others are "
                                    "refused by name")
    for s in MODEL_OPTIONS.values():
        models.add_argument(flag(s.name), type=str if s.kind is str else setting_type(s), help=help_text(s))
    taken = set(run._option_string_actions)
    for algorithm in ALGORITHMS:
        _add_algorithm(run, algorithm, shown=only is None or only == algorithm)
    for name, (parse, choices) in _flat_flags(taken).items():
        run.add_argument(flag(name), dest=FLAT + name, type=parse, choices=choices, help=argparse.SUPPRESS)


def _add_algorithm(run: argparse.ArgumentParser, algorithm: str, shown: bool) -> None:
    """One algorithm's options as --ALGORITHM.OPTION flags, in a help group of their own."""
    try:
        settings = offered_settings(algorithm)
    except ValueError as error:   # refused at use: choosing it says why; its flags would mislead
        if shown:
            run.add_argument_group(f"algorithm {algorithm}", str(error).replace("%", "%%"))
        return
    doc = algorithm_summary(algorithm)
    group = run.add_argument_group(f"algorithm {algorithm} (--algorithm {algorithm})",
                                   doc if shown else None)
    for s in settings.values():
        group.add_argument(option_flag(algorithm, s.name), dest=f"{NAMESPACE}{algorithm}.{s.name}",
                           metavar=s.kind.__name__.upper(),
                           type=str if s.kind is str and not s.choices else setting_type(s),
                           help=help_text(s) if shown else argparse.SUPPRESS)


def chosen_options(args, algorithm: str | None) -> dict:
    """The algorithm options the flags set, for the chosen algorithm; ValueError for another algorithm's."""
    given = {}
    for dest, value in vars(args).items():
        if value is None:
            continue
        if dest.startswith(NAMESPACE):
            owner, name = dest[len(NAMESPACE):].rsplit(".", 1)
            if owner != algorithm:
                raise ValueError(f"{option_flag(owner, name)} is an option of algorithm {owner!r}, but the algorithm is "
                                 f"{algorithm!r}; give --algorithm {owner} or leave the flag out")
            given[name] = value
    for dest, value in vars(args).items():
        if dest.startswith(FLAT) and value is not None:
            name = dest[len(FLAT):]
            if name in given:
                raise ValueError(f"give {flag(name)} or {option_flag(algorithm, name)}, not both")
            given[name] = value
    return given


def given_model_options(args, model) -> dict:
    given = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name) is not None}
    if given:
        check_model_options(model, given, flag=flag)
    return given


def config_from_args(args, stored: dict | None) -> SearchConfig:
    """The search the flags describe (over a saved run's stored config with --from), validated once."""
    condition = args.prompt if args.prompt is not None else _class_label(args.cls)
    algorithm = args.algorithm or (stored or {}).get("algorithm")
    options = chosen_options(args, algorithm)
    if stored is None:
        missing = [f for f, value in (("--model", args.model), ("--prompt or --class", condition),
                                      ("--verifier", args.verifier), ("--algorithm", args.algorithm),
                                      ("--budget", args.budget)) if value is None]
        if missing:
            raise ValueError(f"run needs {', '.join(missing)} (or --from RUN to start a saved run's search again)")
        stored = {"options": options}
    elif args.algorithm is not None and args.algorithm != stored.get("algorithm"):
        stored["options"] = dict(options)   # the stored options belong to the stored algorithm
    else:
        stored["options"] = {**(stored.get("options") or {}), **options}
    overrides = {"model": args.model, "condition": condition, "algorithm": args.algorithm,
                 **{name: getattr(args, name) for name in CONFIG_FLAGS},
                 "verifiers": tuple(args.verifier) if args.verifier is not None else None,
                 "evaluators": tuple(args.evaluator) if args.evaluator is not None else None}
    values = {**stored, **{key: value for key, value in overrides.items() if value is not None}}
    model_options = given_model_options(args, values.get("model"))
    if model_options:
        values["model_options"] = {**normalise_options(values.get("model_options") or {}), **model_options}
    if args.from_run is None:
        return SearchConfig(**values).validate()
    try:
        return SearchConfig.from_dict(values)
    except TypeError as error:   # a stored field of the wrong shape
        raise ValueError(f"--from {args.from_run}: the stored config does not load ({error})") from None


def _class_label(text: str | None):
    """--class as a class index where it is a whole number ("3", "3.0", "-1": refused by the config), else a name."""
    if text is None:
        return None
    value = number_or_text(text, True)
    return value if isinstance(value, int) else text


def only_algorithm(argv: list[str]) -> str | None:
    """The algorithm of `run --algorithm NAME --help` (its help lists only that algorithm's options)."""
    if "-h" not in argv and "--help" not in argv:
        return None
    for i, arg in enumerate(argv):
        if arg == "--algorithm" and i + 1 < len(argv) and argv[i + 1] in ALGORITHMS:
            return argv[i + 1]
        if arg.startswith("--algorithm=") and arg.split("=", 1)[1] in ALGORITHMS:
            return arg.split("=", 1)[1]
    return None


__all__ = ["add_run_flags", "config_from_args", "flag", "only_algorithm", "option_flag", "options_table"]
