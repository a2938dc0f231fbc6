"""The verifier ladder: `python -m tsearch arena --verifiers shapes-oracle shapes-clip ...` (or `--ladder NAME`).

The arena's methods crossed with verifiers (issue 27, item 1; DESIGN.md, "The verifier axis"). An entry of
the ladder is a registered verifier name, or several joined by "+" (`shapes-clip+shapes-quality`), which
the engine combines by mean rank as it does for any search with several verifiers. The judge stays the
arena's held-out evaluator (the shapes world's exact oracle): accuracy is its pass mark on the result.
The oracle searched as a verifier is the labelled upper bound: never a default, shown as "upper bound
(oracle)" wherever it appears, and said to be judged by itself.

Cells. A method whose candidates never depend on the scores (random search: independent noises) is
*pooled*: one cell per unit (caption, seed) at the top budget scores its candidates with every verifier of
the ladder (the engine records each verifier's score on each candidate), and each entry's best-of-N at each
budget is read off those recorded scores (`ladder_pools`), so a ladder of V verifiers denoises once, not V
times. A later ladder that adds verifiers runs pooled cells with only the missing ones, and the cells of a
unit are joined candidate by candidate (same noises, same ids). Every other method (zero-order, smc, ...)
proposes from its verifier's scores, so it runs one cell per entry. Cells are sweep cells: resumable (run
the same command again) and on Ray unchanged. Writes DIR/ladder.json, DIR/ladder.md and
DIR/verifier_costs.json (each verifier's measured seconds per image, which splits a pooled cell's verifier
time between the entries: `ladder_pools.apportioned_seconds`).
"""

from __future__ import annotations

import time
from pathlib import Path

from tsearch import jsonio

from tsearch.arena.ladder_board import ORACLE, name_of

POOLED = ("random",)   # proposals never read a score: one pool serves every verifier
# named ladders (`--ladder NAME`); the oracle is in each as the labelled upper bound, never as a default. The
# noised oracles (shapes-oracle-e0.1 ...) and shapes-parts are registered by their own branch (issue 27 items 1-2):
# until then these ladders are refused with the names that are missing.
LADDERS = {"bundled": ["shapes-oracle", "shapes-clip", "shapes-quality", "shapes-clip+shapes-quality"],
           "clip": ["shapes-oracle", "shapes-clip"],
           "noise": ["shapes-oracle", "shapes-oracle-e0.1", "shapes-oracle-e0.2", "shapes-oracle-e0.3", "shapes-clip"],
           "parts": ["shapes-oracle", "shapes-parts", "shapes-clip", "shapes-parts+shapes-clip"]}


def entries_of(args) -> list[tuple]:
    """The ladder's entries (tuples of verifier names) from --ladder and --verifiers; ValueError naming the
    flag when a name is not a registered verifier."""
    from tsearch.verifiers import VERIFIERS

    given = [*(LADDERS[args.ladder] if getattr(args, "ladder", None) else []), *(args.verifiers or [])]
    entries = []
    for text in given:
        entry = tuple(part.strip() for part in str(text).split("+"))
        unknown = [name for name in entry if name not in VERIFIERS]
        if not all(entry) or unknown:
            flag = "--verifiers" if text in (args.verifiers or []) else f"--ladder {args.ladder}"
            raise ValueError(f"{flag}: {text!r} is not a registered verifier or a '+'-joined ensemble of them "
                             f"({', '.join(unknown or ['an empty name'])} unknown); registered: "
                             f"{', '.join(VERIFIERS)} (`python -m tsearch verifiers`)")
        if len(set(entry)) != len(entry):
            raise ValueError(f"--verifiers: {text!r} names a verifier twice")
        if entry not in entries:
            entries.append(entry)
    return entries


def atoms(entries: list[tuple]) -> list[str]:
    """Every verifier of the ladder, sorted: the pooled cells' verifier list."""
    return sorted({name for entry in entries for name in entry})


# --- cells -----------------------------------------------------------------------------------------
def cells(spec: dict, entries: list[tuple], anytime: dict, out: Path):
    """(the ladder's sweep, its spec as written, its pooled units' keys): pooled cells with the verifiers each
    unit still lacks, and one cell per entry for every other method."""
    from tsearch.sweep import parse_spec
    from tsearch.sweep.results import finished
    from tsearch.sweep.spec import Sweep

    top = max(spec["budgets"])
    tables, pooled_table, base = [], None, {k: v for k, v in spec.items() if k != "algorithm"}
    for table in spec["algorithm"]:
        if _pooled(table, anytime):
            pooled_table = {**table, "verifiers": atoms(entries), "budgets": [top]}
            tables.append(pooled_table)
        else:
            tables += [{**table, "verifiers": list(entry)} for entry in entries]
    written = {**base, "algorithm": tables, "ladder": [name_of(e) for e in entries]}
    others = [t for t in tables if t is not pooled_table]
    out_cells = list(parse_spec({**base, "algorithm": others}, base=out).cells) if others else []
    units: set = set()
    if pooled_table is not None:
        full = parse_spec({**base, "algorithm": [pooled_table]}, base=out).cells
        units = {_unit_key(cell.config.to_dict()) for cell in full}
        have, lacking = _covered(finished(out).values(), top), {}
        for cell in full:
            unit = _unit_key(cell.config.to_dict())
            missing = tuple(sorted(set(atoms(entries)) - have.get(unit, set())))
            if missing and missing not in lacking:   # the cells of a pool with only the verifiers missing somewhere
                one = {**pooled_table, "verifiers": list(missing)}
                lacking[missing] = {_unit_key(c.config.to_dict()): c
                                    for c in parse_spec({**base, "algorithm": [one]}, base=out).cells}
            if missing:
                out_cells.append(lacking[missing][unit])
    return Sweep(f"ladder-{spec['name']}", out_cells, ""), written, units


def _pooled(table: dict, anytime: dict) -> bool:
    return table["name"] in POOLED and "label" not in table and anytime.get(table["name"], False)


def _unit_key(config: dict) -> str:
    """What a pooled cell shares with every other pooled cell of its unit: all but its verifiers and budget."""
    return jsonio.dumps({k: v for k, v in config.items() if k not in ("verifiers", "budget")}, sort_keys=True)


def _covered(rows, top: int) -> dict:
    """unit key -> the verifiers that finished pooled cells of that unit (at budget >= top) recorded."""
    have: dict = {}
    for row in rows:
        c = row.get("config") or {}
        if c.get("algorithm") in POOLED and not (row.get("metadata") or {}).get("label") and not row.get("error") \
                and row.get("summary") and c.get("budget", 0) >= top:
            have.setdefault(_unit_key(c), set()).update(c.get("verifiers") or [])
    return have


# --- outcomes --------------------------------------------------------------------------------------
def searches(root: Path, sweep, units: set, entries: list[tuple], spec: dict, anytime: dict,
             cost: dict) -> tuple[list, list]:
    """(the ladder's searches as `ladder_board.Search`, notes): every entry on every unit and budget; pooled
    cells of the `units` keys (this ladder's), joined unit by unit, and this ladder's other cells."""
    from tsearch.arena import variants
    from tsearch.arena.curves import read_candidates
    from tsearch.arena.ladder_pools import covers, join, pool_of
    from tsearch.sweep.headline import ACCURACY, oracle_of
    from tsearch.sweep.results import finished

    evaluators = tuple(spec["evaluators"])
    oracle = oracle_of(evaluators)
    mark = ACCURACY.get(oracle)
    budgets, top = spec["budgets"], max(spec["budgets"])
    done = finished(root)
    keys = {cell.key for cell in sweep.cells}
    rows = [row for key, row in done.items() if not row.get("error") and row.get("summary")]
    out, notes = [], []
    pooled_units: dict = {}
    for row in rows:
        method = variants.method_of(row)
        c = row["config"]
        if method in POOLED and method == c["algorithm"] and anytime.get(method) and c["budget"] >= top \
                and _unit_key(c) in units:
            pooled_units.setdefault(_unit_key(c), []).append(row)
    for unit_rows in pooled_units.values():
        unit_rows.sort(key=lambda r: (r["key"] not in keys, -len(r["config"]["verifiers"])))   # this ladder's first
        pool = join([pool_of(read_candidates(root, r), oracle) for r in unit_rows])
        row = unit_rows[0]
        if pool is None:
            notes.append(f"unit {row['config']['condition']!r} seed {row['config']['seed']}: its pooled cells hold "
                         f"different candidates; left out")
            continue
        for entry in entries:
            if covers(pool, entry):
                out += _pooled_searches(row, pool, entry, budgets, evaluators, cost, mark)
    for row in rows:
        if row["key"] not in keys or variants.method_of(row) in POOLED and row["config"]["algorithm"] in POOLED \
                and anytime.get(variants.method_of(row)):
            continue
        entry = tuple(row["config"]["verifiers"])
        if entry in entries:
            out += _cell_searches(root, row, entry, budgets, anytime, oracle, mark)
    return out, notes


def _pooled_searches(row, pool, entry, budgets, evaluators, cost, mark) -> list:
    """An entry's best-of-N at every budget, read off a pooled unit's recorded scores."""
    from tsearch.arena.curves import unit_of
    from tsearch.arena.ladder_board import Search
    from tsearch.arena.ladder_pools import agreement, apportioned_seconds, entry_scores, pick, tied_best
    from tsearch.config import SearchConfig

    c, out = SearchConfig.from_row(row["config"]), []
    seconds = apportioned_seconds(pool, entry, evaluators, cost)
    for budget in budgets:
        part = pool.within(budget)
        if not len(part):
            continue
        scores = entry_scores(part, entry)
        best = pick(scores)
        judged = part.oracle[best]
        out.append(Search(method=c.algorithm, entry=entry, unit=unit_of(c), budget=budget,
                          value=None if mark is None or judged != judged else float(judged >= mark),
                          nfe=float(part.nfe_spent[-1]), seconds=float(seconds[:len(part)].sum()),
                          category=(row.get("metadata") or {}).get("category"), tied=tied_best(scores),
                          agree=agreement(scores, part.oracle), agree_pass=agreement(scores, part.oracle, mark),
                          candidates=len(part)))
    return out


def _cell_searches(root, row, entry, budgets, anytime, oracle, mark) -> list:
    """A method's own cell (its verifier chose its proposals): its outcomes (`curves`) and its pool's statistics."""
    from tsearch.arena import curves, variants
    from tsearch.arena.ladder_board import Search
    from tsearch.arena.ladder_pools import agreement, entry_scores, pool_of, tied_best

    method = variants.method_of(row)
    pool = pool_of(curves.read_candidates(root, row), oracle)
    if not len(pool) or not all(name in pool.names for name in entry):
        return []
    out = []
    for o in curves.outcomes_of_cell(root, row, method, budgets, anytime.get(method, False)):
        part = pool.within(o.budget)
        scores = entry_scores(part, entry)
        out.append(Search(method=method, entry=entry, unit=o.unit, budget=o.budget, value=o.value, nfe=o.nfe,
                          seconds=o.seconds, category=o.category, tied=tied_best(scores),
                          agree=agreement(scores, part.oracle), agree_pass=agreement(scores, part.oracle, mark),
                          candidates=len(part)))
    return out


# --- verifier costs --------------------------------------------------------------------------------
def verifier_costs(root: Path, names: list[str], model_name: str, device: str, sample_row: dict | None) -> dict:
    """Each verifier's seconds per image, measured once on a pooled cell's saved images (DIR/verifier_costs.json;
    a name measured before keeps its figure, so a leaderboard reads the same on every rerun)."""
    import json

    import numpy as np
    import torch
    from PIL import Image

    from tsearch.api import Loader

    path = root / "verifier_costs.json"
    try:
        cost = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cost = {}
    todo = [n for n in names if n not in cost]
    if not todo or sample_row is None:
        return cost
    folder = root / sample_row["run_dir"] / "images"
    files = sorted(folder.glob("*.png"))[:32]
    if not files:
        return cost
    images = torch.tensor(np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0
                                    for f in files])).permute(0, 3, 1, 2)
    loader = Loader()
    model = loader.load_model(model_name, device, {})
    condition = sample_row["config"]["condition"]
    for name in todo:
        verifier = loader.load_verifier(name, model, device)
        verifier.score(images[:2], condition)   # warm-up
        started = time.perf_counter()
        for _ in range(3):
            verifier.score(images, condition)
        cost[name] = (time.perf_counter() - started) / (3 * len(images))
    path.write_text(jsonio.dumps(cost, indent=1, sort_keys=True), encoding="utf-8")
    return cost


# --- the command -----------------------------------------------------------------------------------
def run_ladder(args, spec: dict, anytime: dict, notes: list[str], run_cells, device_note) -> int:
    """The ladder arena: plan its cells, run them (sweep: local or Ray, resumable), write and print its board.
    `run_cells` and `device_note` are the arena command's (tsearch.arena.cli), passed in: it imports this module."""
    from tsearch.arena import ladder_board
    from tsearch.sweep.headline import ACCURACY, oracle_of
    from tsearch.sweep.results import finished

    entries = entries_of(args)
    if not entries:
        raise ValueError("--verifiers: name at least one verifier (or --ladder NAME)")
    if oracle_of(spec["evaluators"]) is None:
        raise ValueError(f"--verifiers: the ladder is judged by a world's exact oracle ({', '.join(ACCURACY)}); "
                         f"model {args.model!r} has none: use --model shapes")
    if (ORACLE,) not in entries:
        notes = [*notes, f"{ORACLE} is not in the ladder: no gap to the oracle-verified search (add it to --verifiers)"]
    sweep, written, units = cells(spec, entries, anytime, args.out)
    (args.out / "ladder_spec.json").write_text(jsonio.dumps(written, indent=1), encoding="utf-8")
    outcome, wall = run_cells(args, spec, sweep)
    done = finished(args.out)
    pooled = [r for r in done.values() if r["config"]["algorithm"] in POOLED and r.get("summary")
              and _unit_key(r["config"]) in units]
    cost = verifier_costs(args.out, sorted({n for r in pooled for n in r["config"]["verifiers"]} |
                                           set(spec["evaluators"])), args.model, args.device,
                          pooled[0] if pooled else None)
    found, more = searches(args.out, sweep, units, entries, spec, anytime, cost)
    rows = [r for r in done.values() if r["key"] in {c.key for c in sweep.cells}] or pooled
    board = ladder_board.build(found, entries, spec["evaluators"], device_note(args, rows), reps=args.reps)
    board.update(split=args.split, steps=args.steps, solver=spec["solver"], cells=len(sweep.cells),
                 ran=outcome.ran, failed=outcome.failed, seconds=wall, notes=[*notes, *more], verifier_costs=cost)
    text = ladder_board.render_markdown(board)
    (args.out / "ladder.json").write_text(jsonio.dumps(board, indent=1), encoding="utf-8")
    (args.out / "ladder.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    ran = ("ran nothing (--no-run)" if args.no_run else
           "0 cells ran: nothing left to run (every unit's pool holds every verifier)" if not sweep.cells else
           f"{outcome.ran} cells ran, {outcome.skipped} were already done, {outcome.failed} failed, in {wall:.0f} s")
    print(f"\n{ran}; wrote {args.out / 'ladder.md'} and ladder.json; the same command resumes.")
    if outcome.failed:   # as the arena and `sweep`: the board holds the cells that ran, the status says some did not
        from tsearch.sweep.cli import print_failures

        print_failures(outcome, args.out)
        return 1
    return 0
