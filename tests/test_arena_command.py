"""`python -m tsearch arena` at toy size: a sweep underneath (resumable), anytime methods run once, a
leaderboard at equal NFEs and seconds with paired verdicts, strict-JSON results, HTML and PNG."""

import json

from tsearch.cli import main


def test_arena_runs_resumes_and_writes_its_leaderboard(tmp_path, capsys):
    out = tmp_path / "arena"
    argv = ["arena", "--split", "hard", "--captions", "2", "--candidates", "1", "2", "4", "--steps", "2",
            "--methods", "random", "smc", "evolution", "--reps", "50", "--threads", "1", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "At equal NFEs" in printed and "At equal seconds" in printed and "half the seconds" in printed
    assert "torch thread" in printed
    board = json.loads((out / "leaderboard.json").read_text(), parse_constant=lambda c: 1 / 0)   # strict JSON
    assert board["anytime"] == ["evolution", "random"]
    assert board["cells"] == 2 + 2 + 2 * len(json.loads((out / "spec.json").read_text())["algorithm"][1]["budgets"])
    budgets = board["budgets"]
    random_rows = {r["budget"]: r for r in board["rows"] if r["method"] == "random"}
    assert sorted(random_rows) == budgets and random_rows[budgets[0]]["nfe"] < random_rows[budgets[-1]]["nfe"]
    assert all(r["units"] == 2 and r["seconds"] > 0 and r["verifier_calls"] >= 1 for r in board["rows"])
    verdicts = {(v["method"], v["axis"], v["fraction"]) for v in board["verdicts"]}
    assert ("evolution", "nfe", 0.5) in verdicts and ("smc", "seconds", 0.25) in verdicts
    assert (out / "arena.png").stat().st_size > 0 and (out / "arena.html").exists()
    assert main(argv) == 0                                   # again: every cell is already done
    assert "0 cells ran, " in capsys.readouterr().out


def test_arena_tab_builds_and_shows_a_saved_leaderboard(tmp_path):
    import gradio as gr

    from tsearch.app.arena_tab import arena_tab, load_leaderboard

    with gr.Blocks() as demo, gr.Tabs():
        parts = arena_tab(str(tmp_path))
    assert {"board", "image", "live", "load"} <= set(parts) and demo is not None
    text, png = load_leaderboard(str(tmp_path))
    assert "No leaderboard" in text and png is None
    (tmp_path / "leaderboard.md").write_text("| method |\n|---|\n| random |\n")
    assert load_leaderboard(str(tmp_path))[0].startswith("| method |")


def test_the_apps_arena_tab_opens_on_the_shipped_leaderboard_and_takes_no_path_from_a_visitor():
    import gradio as gr

    from tsearch.app.arena_tab import arena_tab, shipped_leaderboard

    text, png = shipped_leaderboard()
    assert text.lstrip().startswith("Metric:") and png is not None and png.endswith("arena_hard.png")
    with gr.Blocks(), gr.Tabs():
        parts = arena_tab()
    assert isinstance(parts["folder"], gr.State) and parts["board"].value.strip() == text.strip()
    assert parts["load"].visible is False   # no host folder named: nothing but the shipped board to show
