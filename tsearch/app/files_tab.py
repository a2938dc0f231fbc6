"""The Export / load tab: the last run of this tab as a zip (`export`), and a zip from Export opened in the Search
tab as if it had just run (`load`), its settings checked as a typed Run's are (`loaded.checked`) before `restore`
puts them back into the form.
"""

from __future__ import annotations

import os

import gradio as gr

from tsearch.app.export import discard_loaded, export_zip, load_live
from tsearch.app.loaded import checked, parsed
from tsearch.app.state import Session
from tsearch.app.views import search_view
from tsearch.runs import load_run


def export(session: Session | None = None) -> str:
    if session is None or not session.last_run_dir:
        raise gr.Error("nothing to export yet: run a search (or load a run) first")
    try:
        return str(export_zip(session.last_run_dir))
    except ValueError as error:
        raise gr.Error(str(error)) from None


def load(file, session: Session | None = None):
    """A zip from Export shown as if it had just run: gallery, best sample, chart, status."""
    if not file:
        raise gr.Error("choose a zip exported from this app")
    path = file.get("path") if isinstance(file, dict) else getattr(file, "name", file)
    if not isinstance(path, (str, os.PathLike)):
        raise gr.Error(f"load takes the path of a zip exported from this app, got {file!r}")
    if not os.path.exists(path):
        raise gr.Error(f"{os.path.basename(str(path))} was not found: upload the zip again")
    try:
        run = load_live(path)   # this tab's run loaded before stays until this one passes
    except (ValueError, TypeError, OSError) as error:
        raise gr.Error(f"cannot show this run: {error}") from None
    try:   # a record SearchConfig itself refuses is refused whole; one a typed Run here would refuse (a CLI run
        # over the page's budget cap, a model or class this host lacks) is shown, its settings not put back
        row = load_run(run.run_dir).config
        parsed(row)
        try:
            checked(row)
            note = "loaded from a saved run"
        except gr.Error as error:
            note = f"loaded from a saved run; its settings are not put back into the form ({error.message})"
        view = search_view(run, note=note, cost=session.shown.cost if session else "nfe")
    except gr.Error as error:
        discard_loaded(run.run_dir)
        raise gr.Error(f"cannot load this run: its settings do not pass this page's checks: {error.message}") from None
    except (ValueError, TypeError, OSError) as error:
        discard_loaded(run.run_dir)
        raise gr.Error(f"cannot show this run: {error}") from None
    if session is not None and session.loaded_run_dir and session.loaded_run_dir != run.run_dir:
        discard_loaded(session.loaded_run_dir)
    if session is not None:
        session.last_run_dir = session.loaded_run_dir = run.run_dir
        session.shown.run, session.shown.baseline = run, None
    return view
