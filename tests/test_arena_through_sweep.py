"""The arena reads through the sweep: one headline, one device note, one set of backend flags, and outcomes
read from the run records, so `tsearch report` and the arena give the same number for the same cells."""

import json

import pytest

from tsearch.arena import curves
from tsearch.arena import cli as arena_cli
from tsearch.candidate import Candidate, Scores
from tsearch.sweep import cli as sweep_cli
from tsearch.sweep import device_note, headline, report


def test_the_headline_is_an_oracles_accuracy_else_the_first_evaluator_else_the_score():
    assert headline.name(["digits-classifier", "shapes-oracle"]) == "accuracy % (shapes-oracle)"
    assert headline.name(["digits-classifier"]) == "digits-classifier" and headline.name([]) == "score"
    assert headline.scale("accuracy % (shapes-oracle)") == 100.0 and headline.scale("score") == 1.0
    mark = headline.ACCURACY["shapes-oracle"]
    assert headline.value("accuracy % (shapes-oracle)", {"shapes-oracle": mark}, 0.1) == 1.0
    assert headline.value("accuracy % (shapes-oracle)", {}, 0.1, {"shapes-oracle": mark - 0.5}) == 0.0   # searched
    assert headline.value("accuracy % (shapes-oracle)", {}, 0.1) is None
    assert headline.of_summary({"best_score": 0.3, "evals": {"shapes-oracle": mark}}, "accuracy % (shapes-oracle)") \
        == 100.0
    assert headline.of_summary({"best_score": 0.3}, "score") == 0.3


def _sweep_folder(root, passes):
    """A sweep folder of smc cells on shapes, one per unit, whose chosen candidate passes the oracle or not."""
    mark, rows = headline.ACCURACY["shapes-oracle"], []
    for i, passed in enumerate(passes):
        run = root / "runs" / f"k{i}"
        run.mkdir(parents=True)
        config = {"model": "shapes", "algorithm": "smc", "condition": f"caption {i}", "seed": 0, "budget": 40,
                  "steps": 4, "verifiers": ["shapes-clip"], "evaluators": ["shapes-oracle"], "options": {}}
        oracle = mark + 0.5 if passed else mark - 0.5
        chosen = Candidate(id=1, parent=None, round=0, score=0.5, scores=Scores(["shapes-clip"], [0.5]),
                           evals=Scores(["shapes-oracle"], [oracle]), nfe=20, nfe_spent=40, t_end=0.0, recipe=(),
                           seconds=0.25)
        other = Candidate(id=0, parent=None, round=0, score=0.1, scores=Scores(["shapes-clip"], [0.1]),
                          evals=Scores(["shapes-oracle"], [mark + 0.5]), nfe=20, nfe_spent=20, t_end=0.0, recipe=(),
                          seconds=0.25)
        (run / "candidates.jsonl").write_text("".join(json.dumps(c.to_row()) + "\n" for c in (other, chosen)))
        (run / "run.json").write_text(json.dumps({"config": config, "torch_threads": 2}))
        rows.append({"key": f"k{i}", "config": config, "metadata": {}, "run_dir": f"runs/k{i}", "error": None,
                     "summary": {"best_id": 1, "best_score": 0.5, "nfe_spent": 40, "candidates": 2, "seconds": 0.5,
                                 "evals": {"shapes-oracle": oracle}, "scores": {"shapes-clip": 0.5}}})
    (root / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_the_arena_and_the_report_give_the_same_headline_for_the_same_cells(tmp_path):
    rows = _sweep_folder(tmp_path, [True, False, True, True])
    found = curves.outcomes(tmp_path, rows, [40], {"smc": False})
    data = report.build(tmp_path, reps=50, set_metrics=False)
    (group,) = data["groups"]
    assert data["headline"] == headline.name(["shapes-oracle"]) == "accuracy % (shapes-oracle)"
    assert [o.value for o in found] == [1.0, 0.0, 1.0, 1.0]          # the summary's best_id, read as a record
    assert 100.0 * sum(o.value for o in found) / len(found) == group.values[data["headline"]][0] == 75.0
    assert [(o.nfe, o.seconds, o.verifier_calls) for o in found][0] == (40, 0.5, 2)


def test_a_damaged_record_is_refused_not_read_as_missing(tmp_path):
    rows = _sweep_folder(tmp_path, [True])
    rows[0]["summary"]["best_id"] = "one"   # a renamed or retyped field: the Summary record refuses it
    with pytest.raises(ValueError, match="best_id"):
        curves.outcomes(tmp_path, rows, [40], {"smc": False})


def test_one_device_note_names_the_device_its_hardware_and_the_runs_threads(tmp_path):
    rows = _sweep_folder(tmp_path, [True])
    note = device_note.note(tmp_path, rows, where="backend local")
    assert note.startswith("cpu (") and note.endswith("), 2 torch thread(s) per search, backend local")
    assert device_note.note(tmp_path, [], devices=["cpu"]).endswith("? torch thread(s) per search")
    assert report.build(tmp_path, reps=20, set_metrics=False)["device"] == device_note.note(tmp_path, rows)


def _flags(parser):
    return {option for action in parser._actions for option in action.option_strings}


def test_the_sweep_and_the_arena_share_their_backend_flags_and_refuse_the_same_way(tmp_path, capsys):
    backend = {"--backend", "--address", "--workers", "--threads", "--no-progress"}
    parser = sweep_cli.Parser()
    sweep_cli.add_backend_flags(parser)
    assert _flags(parser) - {"-h", "--help"} == backend
    assert backend <= _flags(sweep_cli._sweep_parser())
    assert vars(arena_cli.parse(["--workers", "2"]))["workers"] == 2
    out = str(tmp_path / "o")
    assert arena_cli.main(["--workers", "2", "--out", out]) == 2
    assert capsys.readouterr().err == "error: --address and --workers are for --backend ray\n"
    spec = tmp_path / "s.toml"
    spec.write_text('model = "gmm"\nverifiers = ["gmm-density"]\nbudgets = [8]\nclasses = [0]\n'
                    '[[algorithm]]\nname = "random"\n')
    assert sweep_cli.main_sweep([str(spec), "--out", out, "--workers", "2"]) == 2
    assert capsys.readouterr().err == "error: --address and --workers are for --backend ray\n"
