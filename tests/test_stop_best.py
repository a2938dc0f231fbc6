"""Stop keeps the best it has seen (issue 25): after a Stop -- a caller's should_stop, a closed generator, Ctrl-C in
the CLI -- the reported best is the best of every scored candidate, the round the Stop cut included. A raising
should_stop is named; smc at one step is refused. All on the analytic gmm model (milliseconds a search)."""

import json

import pytest

import tsearch
from tsearch.cli import main
from tsearch.engine import StopCheckError
from tsearch.events import CandidateScored, RoundDone, SearchDone
from tsearch.runs import load_run

BASE = dict(model="gmm", cls=2, steps=4, algorithm="random", batch_size=2)


def rising():
    """A verifier whose scores rise with every image it sees: the latest candidate is always the best, so a best
    that ignores the round a Stop cut is caught every time."""
    seen = []

    def score(images, condition):
        first = len(seen)
        seen.extend(images)
        return [float(first + j) for j in range(len(images))]
    return score


def stop_after(count: int, events: list):
    """should_stop: True once `count` candidates were scored (asked between batches)."""
    return lambda: sum(isinstance(e, CandidateScored) for e in events) >= count


def run_until(stop_at: int, out, **overrides):
    events = []
    for event in tsearch.stream(**{**BASE, "verifiers": [rising()], "budget": 4 * 48, **overrides}, out=str(out),
                                should_stop=stop_after(stop_at, events)):
        events.append(event)
    return events


def scored(events):
    return [e.candidate for e in events if isinstance(e, CandidateScored)]


@pytest.mark.parametrize("stop_at", [2, 4, 22])   # inside round 1 (16 a round), its second group, mid round 2
def test_a_stop_keeps_the_best_of_every_scored_candidate(tmp_path, stop_at):
    events = run_until(stop_at, tmp_path / "run", per_round=16)
    candidates = scored(events)
    top = max(candidates, key=lambda c: c.score)
    summary = events[-1].summary
    assert isinstance(events[-1], SearchDone) and summary.stopped and len(candidates) == stop_at
    assert (summary.best_id, summary.best_score) == (top.id, top.score)
    last_round = [e for e in events if isinstance(e, RoundDone)][-1]
    assert (last_round.best_id, last_round.best_score) == (top.id, top.score)   # what the page and CLI show
    run = load_run(tmp_path / "run")
    assert run.summary["best_id"] == top.id and json.loads(
        (tmp_path / "run" / "rounds.jsonl").read_text().splitlines()[-1])["best_id"] == top.id
    assert (tmp_path / "run" / "best.png").exists()


def test_closing_the_stream_mid_round_keeps_the_best_of_the_batch_in_hand(tmp_path):
    stream = tsearch.stream(**{**BASE, "verifiers": [rising()], "budget": 4 * 48}, per_round=16,
                            out=str(tmp_path / "run"))
    seen = []
    for event in stream:
        if isinstance(event, CandidateScored):
            seen.append(event.candidate)
            if len(seen) == 3:   # round 1, second batch, before its second candidate is reported
                break
    stream.close()
    run = load_run(tmp_path / "run")
    kept = max(run.candidates, key=lambda c: c.score)
    assert len(run.candidates) == 4 and run.summary["stopped"] is True
    assert (run.summary["best_id"], run.summary["best_score"]) == (kept.id, kept.score)


def test_a_density_verifier_stop_reports_the_max_over_everything_scored(tmp_path):
    """The real verifier, several stops: the best is never worse than a candidate the run kept."""
    for stop_at in (3, 7, 13):
        events = []
        for event in tsearch.stream(**{**BASE, "verifiers": ["gmm-density"], "budget": 4 * 40, "seed": stop_at},
                                    per_round=8, should_stop=stop_after(stop_at, events)):
            events.append(event)
        candidates = scored(events)
        assert events[-1].summary.best_score == max(c.score for c in candidates)


def test_the_cli_interrupted_in_round_one_reports_the_best_it_scored(tmp_path, monkeypatch, capsys):
    """Ctrl-C inside the first round (before any round was told) still names a best, the engine's."""
    (tmp_path / "stop_best_verifiers.py").write_text(
        "calls = []\n"
        "def rising_then_interrupt(images, condition):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        raise KeyboardInterrupt\n"
        "    return [float(len(calls))] * len(images)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run"
    argv = ["run", "--model", "gmm", "--class", "1", "--verifier", "stop_best_verifiers:rising_then_interrupt",
            "--algorithm", "random", "--budget", "60", "--steps", "4", "--batch-size", "1", "--out", str(out)]
    assert main(argv) == 130
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["candidates"] == 2 and line["best_id"] == 1 and line["best_score"] == 2.0
    assert line["stopped"] is True and line["error"] == "interrupted"
    assert json.loads((out / "run.json").read_text())["summary"]["best_id"] == 1


def test_a_raising_should_stop_is_named_and_keeps_what_was_found(tmp_path):
    calls = []

    def broken():
        calls.append(1)
        if len(calls) > 2:
            raise KeyError("the page went away")
        return False

    with pytest.raises(StopCheckError, match=r"should_stop raised KeyError") as caught:
        tsearch.search(**{**BASE, "verifiers": ["gmm-density"], "budget": 4 * 32}, per_round=8,
                       out=str(tmp_path / "run"), should_stop=broken)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)
    run = load_run(tmp_path / "run")
    assert run.candidates and "should_stop" in run.summary["error"]
    assert run.summary["best_score"] == max(c.score for c in run.candidates)


@pytest.mark.parametrize("options", [dict(steps=1), dict(steps=8, intervals=1)])
def test_smc_with_one_segment_is_refused_at_construction(options):
    with pytest.raises(ValueError, match=r"smc needs at least two segments.*steps=") as caught:
        tsearch.api.prepare(model="gmm", cls=2, verifiers=["gmm-density"], algorithm="smc", budget=400, **options)
    assert "\n" not in str(caught.value)


def test_the_steps_baseline_cut_keeps_its_latest_sample_as_its_rule_says():
    from tsearch.engine.state import RunState

    class Latest:
        best_is_latest, best = True, (0, 5.0)

    state = RunState.__new__(RunState)   # only the fields keep_cut reads
    from tsearch.candidate import Candidate, Scores
    state.candidates = {i: Candidate(i, None, 1, s, Scores((), ()), Scores((), ()), 1, i, 0.0, ())
                        for i, s in ((1, 9.0), (2, 1.0))}
    state.untold, state.told, state.images, state.writer = [1, 2], {1: 9.0, 2: 1.0}, {}, None
    state.best, state.best_image, state.counter, state.count = (0, 5.0), None, None, 3
    assert state.keep_cut(Latest()) and state.best == (2, 1.0)
