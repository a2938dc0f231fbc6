"""From a run's rows to what the page shows: gallery items, the best sample's card, the status line,
the verdict against more steps. "Best" is `tsearch.app.best`'s, the one place it is derived.

Images are the PNG files the run writes once per candidate; the gallery points at them instead of
re-encoding pictures on every update, and holds the SHOWN highest-scoring, not thousands.
"""

from __future__ import annotations

from tsearch.app import best as best_lib
from tsearch.app.charts import plot, ranked_against, run_figure
from tsearch.app.state import LiveRun
from tsearch.candidate import Candidate
from tsearch.events import no_finite_score
from tsearch.jsonio import finite
from tsearch.recipes import recipe_text

SHOWN = 16   # the gallery holds SHOWN candidates, highest score first (SHOWN // 4 places kept for previews)


def fmt(value) -> str:
    """A score in full: up to 6 significant digits."""
    value = finite(value)
    return "n/a" if value is None else f"{value:.6g}"


def caption(candidate: Candidate, best_id: int | None = None) -> str:
    """A gallery caption of two short lines, score first: `★ 1.23457` then `40 NFE · #3`.

    A preview (the clean estimate of a noisy state) reads `◇ 1.23457` and `preview · #3`; a draft (a
    few-step render the run does not deliver) `✎ 1.23457` and `draft · 8 NFE · #3`. The page's CSS sets the
    caption under the thumbnail, never over it, and keeps the line break. Round and parent are on the best
    sample's card and in the run's files."""
    if not candidate.finished:
        return f"◇ {fmt(candidate.score)}\npreview · #{candidate.id}"
    if candidate.draft:
        return f"✎ {fmt(candidate.score)}\ndraft · {candidate.nfe_spent} NFE · #{candidate.id}"
    star = "★ " if candidate.id == best_id else ""
    return f"{star}{fmt(candidate.score)}\n{candidate.nfe_spent} NFE · #{candidate.id}"


GALLERY_LABEL = ("Candidates, highest score first (finished samples, then ✎ drafts: few-step renders the run does "
                 "not deliver, then ◇ previews: clean estimates of noisy states)")


def gallery_rows(run: LiveRun, shown: int = SHOWN) -> list[Candidate]:
    """Up to `shown` candidates: the highest-scoring deliverable samples, highest first (ties: earlier first), then
    the highest-scoring drafts, then previews; the run's best is always among them (the steps baseline's latest
    may not score highest), in its place in that order."""
    scored = [c for c in run.candidates if finite(c.score) is not None and c.image_path]
    order = lambda c: (-c.score, c.id)   # noqa: E731
    finished = sorted((c for c in scored if c.deliverable), key=order)
    previews = (sorted((c for c in scored if c.finished and c.draft), key=order)
                + sorted((c for c in scored if not c.finished), key=order))
    room = shown - min(len(previews), shown // 4)   # previews, when there are any, get a few places
    rows = finished[:room]
    winner = best_lib.best(run)
    if winner is not None and winner.image_path and rows and winner not in rows:
        rows = sorted(rows[:-1] + [winner], key=order)
    return rows + previews[:shown - len(rows)]


def gallery(run: LiveRun) -> list[tuple[str, str]]:
    winner = best_lib.best(run)
    from tsearch.app.evidence import marks   # atom-judging verifiers: pass/fail marks under each thumbnail

    return [(c.image_path, caption(c, winner.id if winner else None) + marks(run, c)) for c in gallery_rows(run)]


def best_path(run: LiveRun) -> str | None:
    """The best sample's image (its final render when one was made), else the best draft's or preview's."""
    winner = best_lib.best(run)
    if run.final_path and winner is not None and winner.id == run.best_id:
        return run.final_path
    shown = winner or best_lib.best_draft(run) or best_lib.best_preview(run)
    return shown.image_path if shown else None


def _meaning(verifiers) -> str:
    """What a score means, from the verifier registry's one-line description."""
    from tsearch.verifiers import VERIFIERS

    parts = [f"{name}: {VERIFIERS[name].description}" for name in verifiers if name in VERIFIERS]
    return "; ".join(parts) + ". Higher is better." if parts else "Higher is better."


def best_card(run: LiveRun) -> str:
    """Markdown beside the large best image: a short head (its scores, where it was found), then the recipe that
    regenerates it in a collapsed "How to regenerate this sample" (an HTML <details>, markdown inside)."""
    best = best_lib.best(run)
    draft = best_lib.best_draft(run) if best is None else None
    if draft is not None:
        return (f"### No full render yet\n\nShown: the best **draft** so far, #{draft.id} (a few-step render, "
                f"{draft.nfe} NFEs), scoring {fmt(draft.score)}. The run delivers full renders: its result is the "
                "full render of its best draft, which comes later.")
    if best is None:
        preview = best_lib.best_preview(run)
        if preview is None:
            return "*No finished sample yet.*"
        return (f"### No finished sample yet\n\nShown: the best **preview** so far, #{preview.id} "
                f"(the clean estimate of a noisy state at t = {preview.t_end:g}), scoring {fmt(preview.score)}. "
                "This algorithm's result is its best finished sample, which comes later.")
    return "\n\n".join(_card_head(run, best) + _card_recipe(run, best))


def _card_head(run: LiveRun, best: Candidate) -> list[str]:
    """The best's id, its score (and each verifier's), its held-out scores, where it was found."""
    lines = [f"### Best so far: #{best.id}",
             f"**{' + '.join(run.verifiers) or 'score'}**: {fmt(best.score)} (higher is better)"]
    if len(run.verifiers) > 1:
        lines.append("Per verifier: " + ", ".join(f"{k} {fmt(v)}" for k, v in best.scores.items()))
    for name, value in best.evals.items():
        lines.append(f"**{name}** (held out): {fmt(value)}")
    top = max((c for c in run.candidates if c.deliverable and finite(c.score) is not None), key=lambda c: c.score,
              default=None)
    if top is not None and finite(best.score) is not None and top.score > best.score:
        lines.append(f"The highest score so far is #{top.id} ({fmt(top.score)}): {run.algorithm or 'this algorithm'} "
                     "returns this one by its own rule (the steps baseline its latest sample).")
    draft = run.candidate(best.parent)
    if draft is not None and draft.draft:
        lines.append(f"The full render of draft #{draft.id}, which scored {fmt(draft.score)} in {draft.nfe} NFEs "
                     "(drafts and full renders are different images, so their scores differ).")
    parent = "none" if best.parent is None else f"#{best.parent}"
    found = f"Found at {best.nfe_spent} NFEs, round {best.round}, parent {parent}."
    if best_path(run) == run.final_path and run.final_path:
        found += " Shown re-rendered with more steps (the final render)."
    return lines + [found]


def _card_recipe(run: LiveRun, best: Candidate) -> list[str]:
    """What the scores mean and how to regenerate the sample, collapsed (markdown inside an HTML <details>)."""
    return ["<details><summary>How to regenerate this sample</summary>",
            f"Recipe: `{recipe_text(best.recipe)}`",
            f"Condition: `{run.condition}` · seed {run.seed} · {run.steps} steps per candidate",
            f"*{_meaning(run.verifiers)}*",
            "</details>"]


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


def baseline_line(baseline: LiveRun) -> str:
    """The best card's line on the more-steps baseline's result, shown beside the best:
    `**More steps** (one noise, 400 NFEs, beside): 1.06 · shapes-oracle (held out) 0.5`; "" before it has one."""
    last = best_lib.best(baseline)
    if last is None:
        return ""
    evals = "".join(f" · {name} (held out) {fmt(value)}" for name, value in last.evals.items())
    return f"**More steps** (one noise, {last.nfe} NFEs; its image beside the best): {fmt(last.score)}{evals}"


def verdict(run: LiveRun, baseline: LiveRun) -> str:
    """Search against more steps, e.g. `search 2.01 vs more steps 1.06 at 800 NFEs; held-out 1.5 vs 0.5`.

    Each side's result is its own best (the steps baseline's is its latest sample, with the most steps).
    With several verifiers both are given as mean percentiles among the search's candidates (their raw
    scales differ); "" until both have a finished sample."""
    mine, theirs = best_lib.best(run), best_lib.best(baseline)
    if mine is None or theirs is None:
        return ""
    if len(run.verifiers) > 1:
        a, b = ranked_against(run, [mine, theirs])
        head = f"search {fmt(a)} vs more steps {fmt(b)} (mean rank among the search's candidates)"
    else:
        head = f"search {fmt(mine.score)} vs more steps {fmt(theirs.score)}"
    spent = f"at {run.nfe_spent} NFEs" if run.nfe_spent == baseline.nfe_spent else \
        f"at {run.nfe_spent} and {baseline.nfe_spent} NFEs"
    text = f"{head} {spent}"
    for name in run.evaluators[:1]:
        text += f"; held-out {name} {fmt(mine.evals.get(name))} vs {fmt(theirs.evals.get(name))}"
    return text


def search_view(run: LiveRun, baseline: LiveRun | None = None, note: str = "", chart: bool = True,
                cost: str = "nfe") -> tuple:
    """The Search tab's update of a run (and the more-steps baseline after it): (status, best image, best card,
    chart, gallery, details), the chart left as it is (gr.skip()) when `chart` is False."""
    import gradio as gr

    from tsearch.app.evidence import boxed

    figure = plot(run_figure(run, baseline, cost)) if chart else gr.skip()
    status = status_line(run, note)
    if baseline is not None and baseline.running:
        status = (f"Search done: {run.nfe_spent} NFEs in {run.elapsed:.1f} s. Now the more-steps baseline "
                  f"(one noise, more steps): {status_line(baseline)}")
    elif baseline is not None and baseline.stopped:
        status = (f"Stopped during the more-steps baseline ({len(baseline.candidates)} of its samples kept). "
                  f"The search before it: {status_line(run)}")
    elif baseline is not None and baseline.candidates:
        status = f"{status} · {verdict(run, baseline)}"
    card = best_card(run)
    if baseline is not None and not baseline.running and baseline_line(baseline):
        card += "\n\n" + baseline_line(baseline)   # its image is beside the best once the Run ends
    best = boxed(run, best_path(run))   # atom-judging verifiers: the detected boxes drawn over it
    return (status, best, card, figure, gallery(run), summary(run))
