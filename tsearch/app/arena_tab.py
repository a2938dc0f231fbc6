"""The app's Arena tab: a saved arena leaderboard (`python -m tsearch arena --out DIR`), or a small one run live.

`arena_tab(default_dir)` builds the tab's components inside the caller's `gr.Blocks` (and `gr.Tabs`) and
wires its two buttons; ui.py calls it in one line. The live arena is the command's own code at toy size
(a few captions, 1-4 candidates, few steps) in a temporary folder, so it answers in seconds on a CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

LIVE_METHODS = ("random", "tree", "smc", "evolution")


def load_leaderboard(folder: str) -> tuple[str, str | None]:
    """(the leaderboard's Markdown, its PNG path or None) of an arena folder; a plain message when it has none."""
    root = Path(str(folder or "").strip()).expanduser()
    board = root / "leaderboard.md"
    if not board.is_file():
        return (f"No leaderboard in `{root}`: run `python -m tsearch arena --split hard --out {root}` first, "
                f"or run a small one live below."), None
    png = root / "arena.png"
    return board.read_text(encoding="utf-8"), str(png) if png.is_file() else None


def run_live(split: str, captions: float, methods: list[str], steps: float) -> tuple[str, str | None]:
    """A toy arena (captions x 1, 2 and 4 candidates) in a temporary folder: its leaderboard and PNG."""
    from tsearch.arena.cli import main

    if not methods:
        return "Choose at least one method (random is always added as the reference).", None
    out = Path(tempfile.mkdtemp(prefix="tsearch-arena-"))
    chosen = list(dict.fromkeys(["random", *methods]))
    argv = ["--split", split, "--captions", str(int(captions)), "--candidates", "1", "2", "4", "--steps",
            str(int(steps)), "--methods", *chosen, "--reps", "200", "--threads", "1", "--out", str(out),
            "--no-progress"]
    if main(argv) != 0:
        return "The arena refused these settings (see the server log).", None
    return load_leaderboard(str(out))


SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "bench"   # the measured leaderboard (docs/benchmarks/arena.md)


def shipped_leaderboard() -> tuple[str, str | None]:
    """The measured leaderboard (docs/bench/arena_hard.*, shown in docs/benchmarks/arena.md), shown when the tab opens."""
    board, png = SHIPPED / "arena_hard.md", SHIPPED / "arena_hard.png"
    if not board.is_file():
        return "No leaderboard ships with this copy: run `python -m tsearch arena --split hard`.", None
    return board.read_text(encoding="utf-8"), str(png) if png.is_file() else None


def arena_tab(default_dir: str | None = None):
    """The Arena tab's components, built in the current `gr.Blocks` context; returns them by name.

    `default_dir`: the host's arena folder (the command's --out), read on the server; a visitor never names a
    path (it is held in a gr.State), so nothing outside that folder is read."""
    import gradio as gr

    from tsearch.app.arena_ladder import load_ladder, shipped_ladder

    text, png = shipped_leaderboard()
    with gr.Tab("Arena", id="arena"):
        gr.Markdown("Every method on the shapes world's hard split at equal NFEs and equal seconds, paired "
                    "against random search (`python -m tsearch arena`). Below: the leaderboard measured on the "
                    "project's CPU (docs/benchmarks/arena.md); a small arena can run live here.")
        folder = gr.State(default_dir)
        load = gr.Button("Show the host's arena leaderboard", visible=default_dir is not None)
        with gr.Accordion("Run a small arena live (a few captions, 1-4 candidates: seconds to a minute)",
                          open=False):
            split = gr.Radio(["hard", "easy"], value="hard", label="Split")
            captions = gr.Slider(1, 12, value=3, step=1, label="Captions")
            steps = gr.Slider(1, 10, value=4, step=1, label="Steps per candidate")
            methods = gr.CheckboxGroup(list(LIVE_METHODS), value=["tree", "smc"], label="Methods")
            live = gr.Button("Run live", variant="primary")
        board = gr.Markdown(text, elem_id="arena-board")
        image = gr.Image(png, label="Accuracy against NFEs", type="filepath", interactive=False)
        with gr.Accordion("Verifier ladder: each verifier against the oracle's upper bound", open=False):
            ladder = gr.Markdown(shipped_ladder(), elem_id="arena-ladder")
    load.click(load_leaderboard, inputs=folder, outputs=[board, image], api_visibility="private")
    load.click(load_ladder, inputs=folder, outputs=ladder, api_visibility="private")
    live.click(run_live, inputs=[split, captions, methods, steps], outputs=[board, image], api_visibility="private",
               concurrency_limit=1)
    return {"folder": folder, "load": load, "live": live, "board": board, "image": image, "ladder": ladder}
