"""The Arena tab's verifier ladder (`python -m tsearch arena --verifiers ...`, tsearch.arena.ladder): the one measured
for the docs (docs/bench/arena_ladder.md) when the tab opens, or the host's arena folder's DIR/ladder.md."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "bench" / "arena_ladder.md"
COMMAND = "python -m tsearch arena --split hard --methods random --ladder bundled"
BOARD = "**Verifier ladder**"   # where the board written by the command starts (tsearch.arena.ladder_board)


def shipped_ladder() -> str:
    """The ladder measured for the docs, or a line saying how to measure one."""
    if not SHIPPED.is_file():
        return f"No verifier ladder ships with this copy: run `{COMMAND}`."
    text = SHIPPED.read_text(encoding="utf-8")
    return text[text.find(BOARD):] if BOARD in text else text   # the board itself: the page's prose is for the docs


def load_ladder(folder: str | None) -> str:
    """The host's arena folder's ladder (DIR/ladder.md), else the shipped one."""
    board = Path(str(folder or "").strip()).expanduser() / "ladder.md"
    if folder and board.is_file():
        return board.read_text(encoding="utf-8")
    return shipped_ladder()
