"""`shapes-parts` (issue 27, item 2): a segmenter trained here, atoms judged and combined GenEval's way."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tsearch.verifiers import atoms, load_verifier
from tsearch.verifiers.atoms import Ask, Found, Want
from tsearch.verifiers.shapes_parts import DEFAULT_PATH, build
from tsearch.worlds.shapes import data, oracle

pytestmark = pytest.mark.usefixtures("one_thread")

FORBIDDEN = ("tsearch.worlds.shapes.oracle", "tsearch.worlds.shapes.render", "tsearch.worlds.shapes.data",
             "tsearch.verifiers.shapes_oracle", "tsearch.verifiers.shapes_oracle_noisy")


def test_it_never_imports_the_oracle_or_the_renderer_even_while_scoring():
    """Every tsearch module loaded by building and scoring it, in a fresh interpreter (transitively)."""
    code = ("import sys, json, torch\n"
            "from tsearch.verifiers import load_verifier\n"
            "v = load_verifier('shapes-parts')\n"
            "v.score(torch.rand(2, 3, 32, 32), 'a circle above a square'); v.atoms(torch.rand(1, 3, 64, 64), 'three triangles')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tsearch'))))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert "tsearch.verifiers.shapes_parts" in loaded and "tsearch.worlds.shapes.parts_model" in loaded
    assert not [m for m in loaded if m in FORBIDDEN]


def test_training_a_few_steps_saves_weights_that_load_and_score(tmp_path):
    from tsearch.worlds.shapes import train_parts
    from tsearch.worlds.shapes.parts_model import PartsConfig

    log = train_parts.train(train_parts.TrainConfig(steps=3, batch_size=4, eval_scenes=4), tmp_path, PartsConfig(width=8))
    assert log["steps"] == 3 and log["final_loss"] > 0 and 0 <= log["held_out"]["object_pixel_accuracy"] <= 1
    from safetensors.torch import load_file

    assert all(v.dtype == torch.float16 for v in load_file(str(tmp_path / "parts.safetensors")).values())
    assert json.loads((tmp_path / "train_log.json").read_text())["seed_sequence"][0] == train_parts.SEED_BASE
    scores = build(path=tmp_path).score(torch.rand(3, 3, 32, 32), "a red circle")
    assert scores.shape == (3,) and torch.isfinite(scores).all()


@pytest.fixture(scope="module")
def shipped():
    assert (DEFAULT_PATH / "parts.safetensors").is_file(), "the shipped weights are missing"
    return load_verifier("shapes-parts")


def test_shipped_weights_tell_true_captions_from_contradicting_ones_on_renders(shipped):
    rng = np.random.default_rng([27_000, 9])   # renders from the held-out seed family, not the benchmarks'
    images, captions = data.sample_pairs(60, rng)
    images[::2] = data.gaussian_noise(data.gaussian_blur(images[::2], 0.8), rng, 0.05)
    negatives = [data.contradicting_captions(c, rng)[0] for c in captions]
    batch = data.to_unit(images)
    true = [atoms.passed(float(shipped.score(batch[i:i + 1], c)[0])) for i, c in enumerate(captions)]
    false = [atoms.passed(float(shipped.score(batch[i:i + 1], c)[0])) for i, c in enumerate(negatives)]
    assert np.mean(true) >= 0.9 and np.mean(false) <= 0.1, (np.mean(true), np.mean(false))
    truth = [oracle.evaluate(image, c).ok for image, c in zip(images, negatives)]
    assert np.mean([t == p for t, p in zip(truth, false)]) >= 0.9


def test_noise_is_no_scene_and_its_atoms_and_boxes_are_exposed(shipped):
    junk = data.to_unit(data.junk_images(6, np.random.default_rng(4), "noise"))
    assert not any(atoms.passed(float(s)) for s in shipped.score(junk, "a circle"))
    from tsearch.worlds.shapes.render import Obj, Scene, render

    image = data.to_unit(render(Scene((Obj("circle", "red", 3, 12, 9), Obj("square", "blue", 20, 11, 10)))))
    explained = shipped.atoms(image, "a circle to the left of a square")[0]
    assert [(a["kind"], a["verdict"]) for a in explained["atoms"]] == [("object", "pass"), ("object", "pass"), ("relation", "pass")]
    labels = sorted(b["label"] for b in explained["boxes"])
    assert labels == ["circle", "square"] and explained["frame"] == 32
    circle = next(b for b in explained["boxes"] if b["label"] == "circle")
    assert circle["color"] == "red" and circle["confidence"] > 0.6 and circle["box"][0] < circle["box"][2] <= 32
    flipped = shipped.atoms(image, "a circle to the right of a square")[0]["atoms"]
    assert flipped[-1]["verdict"] == "fail"


def _found(label, box, p=1.0, color="red"):
    return Found(1.0, {label: p}, {color: 1.0}, box)


def test_a_missing_object_fails_its_relation_and_sure_passes_rank_above_unsure_ones():
    ask = Ask((Want("circle"), Want("square")), (0, "left", 1))
    left, right = (2, 10, 10, 18), (20, 10, 28, 18)
    sure = atoms.judge(ask, [_found("circle", left), _found("square", right)])
    unsure = atoms.judge(ask, [_found("circle", left, 0.5), _found("square", right)])
    missing = atoms.judge(ask, [_found("circle", left)])
    wrong_side = atoms.judge(ask, [_found("circle", right), _found("square", left)])
    assert [a.verdict for a in missing] == ["pass", "fail", "fail"]
    assert [a.verdict for a in unsure] == ["undecidable", "pass", "undecidable"]
    assert wrong_side[-1].verdict == "fail"
    scores = [atoms.combine(x) for x in (sure, unsure, wrong_side, missing)]
    assert scores[0] > scores[1] > scores[2] > scores[3]
    a_bit_less_sure = atoms.judge(ask, [_found("circle", left, 0.9), _found("square", right)])
    assert atoms.tier(a_bit_less_sure) == "pass" and scores[0] > atoms.combine(a_bit_less_sure) > scores[1]


def test_counts_are_exact_and_colours_belong_to_their_object():
    three = Ask((Want("triangle", 3, exact=True),))
    boxes = [(0, 0, 5, 5), (10, 0, 15, 5), (20, 0, 25, 5), (0, 20, 5, 25)]
    assert atoms.tier(atoms.judge(three, [_found("triangle", b) for b in boxes[:3]])) == "pass"
    assert atoms.tier(atoms.judge(three, [_found("triangle", b) for b in boxes])) == "fail"
    attr = Ask((Want("circle", color="red"), Want("square", color="blue")))
    swapped = [_found("circle", boxes[0], color="blue"), _found("square", boxes[1], color="red")]
    assert [a.verdict for a in atoms.judge(attr, swapped)] == ["pass", "fail", "pass", "fail"]


def test_the_agreement_bench_counts_ordered_pairs_and_halves_ties():
    from tsearch.bench.parts_agreement import pairwise

    reference = np.array([1.5, 0.4, 0.2, 0.2])
    assert pairwise(reference, np.array([3.0, 1.0, 0.5, 0.1])) == (5.0, 5)     # the tied reference pair is skipped
    assert pairwise(reference, np.array([1.0, 1.0, 1.0, 1.0])) == (2.5, 5)     # verifier ties count one half
    assert pairwise(reference, np.array([0.0, 1.0, 2.0, 2.0]), only_pass_fail=True) == (0.0, 3)

