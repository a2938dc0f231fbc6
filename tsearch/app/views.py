"""From a run's rows to what the page shows: gallery items, the best sample's card, the status line.

Images are the PNG files the run writes once per candidate; the gallery points at them instead of
re-encoding pictures on every update, and holds the top candidates plus the latest, not thousands.
"""

from __future__ import annotations

from tsearch.app.state import LiveRun
from tsearch.candidate import Candidate
from tsearch.events import no_finite_score
from tsearch.jsonio import finite

TOP = 8      # best-scoring candidates kept in the gallery
LATEST = 8   # most recent candidates kept beside them


def fmt(value) -> str:
    """A score in full: up to 6 significant digits."""
    value = finite(value)
    return "n/a" if value is None else f"{value:.6g}"


def caption(candidate: Candidate, best_id: int | None = None) -> str:
    """A gallery caption of two short lines, score first: `★ 1.23457` then `40 NFE · #3`.

    gradio draws a caption on one line at most 80% of the thumbnail wide and cuts the rest ("score
    1...." before); the page's CSS keeps these line breaks (a thumbnail is ~100 px wide at 1280 px),
    and the preview's one-line caption shows the break as a space. Round and parent are on the best
    sample's card and in the run's files."""
    star = "★ " if candidate.id == best_id else ""
    return f"{star}{fmt(candidate.score)}\n{candidate.nfe_spent} NFE · #{candidate.id}"


def gallery_rows(run: LiveRun, top: int = TOP, latest: int = LATEST) -> list[Candidate]:
    """The algorithm's best first, then the top candidates by score, then the latest ones not already shown."""
    scored = [c for c in run.candidates if finite(c.score) is not None and c.image_path]
    best = run.candidate(run.best_id)
    ranked = sorted(scored, key=lambda c: (-c.score, c.id))
    head = ([best] if best is not None and best.image_path else []) + [c for c in ranked if c is not best]
    head = head[:top]
    shown = {c.id for c in head}
    recent = [c for c in reversed(scored) if c.id not in shown][:latest]
    return head + recent


def gallery(run: LiveRun) -> list[tuple[str, str]]:
    return [(c.image_path, caption(c, run.best_id)) for c in gallery_rows(run)]


def recipe_text(recipe) -> str:
    """A recipe as one line, e.g. `gaussian(seed=7) → neighbour(cos=0.95, seed=3) → integrate(1→0, 10 steps)`."""
    parts = []
    for op in recipe:
        kind = op.get("op")
        if kind == "gaussian":
            parts.append(f"gaussian(seed={op['seed']})")
        elif kind == "neighbour":
            parts.append(f"neighbour(cos={op['cos']:g}, seed={op['seed']})")
        elif kind == "integrate":
            parts.append(f"integrate({op['t_from']:g}→{op['t_to']:g}, {op['steps']} steps)")
        elif kind == "renoise":
            parts.append(f"renoise({op['t_from']:g}→{op['t_to']:g}, seed={op['seed']})")
        elif kind == "crossover":
            parts.append(f"crossover(cos={op['cos']:g}, with [{recipe_text(op.get('other') or [])}])")
        elif kind == "coarsenoise":
            parts.append(f"coarse-band noise(seed={op['seed']}, {op['grid']}x{op['grid']} cells)")
        else:
            parts.append(str(op))
    return " → ".join(parts)


def best_path(run: LiveRun) -> str | None:
    if run.final_path:
        return run.final_path
    best = run.candidate(run.best_id)
    return best.image_path if best else None


def best_card(run: LiveRun) -> str:
    """Markdown beside the large best image: its scores and the recipe that regenerates it."""
    best = run.candidate(run.best_id)
    if best is None:
        return "*No finished sample yet.*"
    lines = [f"### Best so far: #{best.id}",
             f"**{' + '.join(run.verifiers) or 'score'}**: {fmt(run.best_score)}"]
    if len(run.verifiers) > 1:
        lines.append("Per verifier: " + ", ".join(f"{k} {fmt(v)}" for k, v in best.scores.items()))
    for name, value in best.evals.items():
        lines.append(f"**{name}** (held out): {fmt(value)}")
    parent = "none" if best.parent is None else f"#{best.parent}"
    lines.append(f"Found at {best.nfe_spent} NFEs, round {best.round}, parent {parent}.")
    if run.final_path:
        lines.append("Shown re-rendered with more steps (the final render).")
    lines.append(f"Recipe: `{recipe_text(best.recipe)}`")
    lines.append(f"Condition: `{run.condition}` · seed {run.seed} · {run.steps} steps per candidate")
    return "\n\n".join(lines)


def status_line(run: LiveRun, note: str = "") -> str:
    """NFEs spent / budget, candidates per second and the time left (or how the run ended)."""
    n, elapsed = len(run.candidates), max(run.elapsed, 1e-9)
    rate = n / elapsed
    head = f"**{run.nfe_spent} / {run.budget} NFEs** · {n} candidates · {rate:.1f} candidates/s"
    if run.running:
        left = max(run.budget - run.nfe_spent, 0)
        eta = left * elapsed / run.nfe_spent if run.nfe_spent else None
        tail = f" · ETA {eta:.0f} s" if eta is not None else " · starting"
        state = "Running"
    elif run.error:
        tail, state = f" · ended after {elapsed:.1f} s on an error: {run.error}; everything found so far is kept", "Failed"
    elif run.stopped:
        tail, state = f" · stopped after {elapsed:.1f} s; everything found so far is kept", "Stopped"
    else:
        tail, state = f" · done in {elapsed:.1f} s", "Done"
    if not run.running and not run.error and no_finite_score(n, run.best_score):
        tail += f" · warning: {no_finite_score(n, run.best_score)}"
    if run.skipped_why:
        tail += f" · {run.skipped_why}"
    return f"{state}: {head}{tail}" + (f" · {note}" if note else "")


def summary(run: LiveRun) -> dict:
    """The machine-readable state of a run (shown under "Run details", returned to API clients)."""
    return {"run_dir": run.run_dir, "model": run.model, "condition": run.condition, "algorithm": run.algorithm,
            "verifiers": list(run.verifiers), "evaluators": list(run.evaluators), "budget": run.budget,
            "steps": run.steps, "seed": run.seed, "nfe_spent": run.nfe_spent, "candidates": len(run.candidates),
            "best_id": run.best_id, "best_score": finite(run.best_score), "running": run.running, "stopped": run.stopped,
            "error": run.error,
            "seconds": round(run.elapsed, 3)}
