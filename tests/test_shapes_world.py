"""The shapes world without networks: grammar, renderer, data API, oracle, eval CLI, shapes-oracle.

Issue 3, items 1, 2 and 4 (shapes-oracle): parse/render round trips for every category, clear
parser errors, an oracle exact on 2,000 clean renders and their contradicting captions, at
least 97% right on renders blurred by 1 pixel with noise of std 0.1, and refusing to judge junk
that is no scene (noise, coloured noise, drowned renders, blobs, crowds) whatever the caption.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from tsearch.worlds.shapes import eval_cli
from tsearch.worlds.shapes.data import (
    DEGRADATIONS, JUNK, all_specs, contradicting_captions, degrade, gaussian_blur, gaussian_noise,
    junk_images, sample_pairs, sample_scene, surely_false, to_tensor, to_unit,
)
from tsearch.worlds.shapes.grammar import (
    CATEGORIES, EXAMPLES, ObjectSpec, Spec, caption_of, category_of, parse, random_caption,
)
from tsearch.worlds.shapes import oracle
from tsearch.worlds.shapes.oracle import detect, evaluate, judge
from tsearch.worlds.shapes.render import BORDER, IMAGE_SIZE, Obj, Scene, overlaps, render


@pytest.fixture(scope="module")
def renders():
    """2,000 random (image, caption) pairs, a contradicting caption each, and degraded copies."""
    rng = np.random.default_rng(1234)
    images, captions = sample_pairs(2000, rng)
    negatives = [contradicting_captions(caption, rng)[0] for caption in captions]
    degraded = gaussian_noise(gaussian_blur(images, 1.0), rng, 0.1)
    return images, captions, negatives, degraded


# ---- grammar -------------------------------------------------------------------------------------

def test_every_caption_of_the_grammar_round_trips():
    specs = all_specs()
    assert len(specs) == len({caption_of(s) for s in specs}) == 126
    assert {s.category for s in specs} == set(CATEGORIES)
    for spec in specs:
        assert parse(caption_of(spec)) == spec


def test_examples_parse_to_their_category():
    for category, caption in EXAMPLES.items():
        assert category_of(caption) == category
    assert parse("a circle to the right of a triangle") == Spec(
        "position", (ObjectSpec("circle"), ObjectSpec("triangle")), "right")
    assert parse("four squares") == Spec("counting", (ObjectSpec("square", None, 4),))
    assert parse("  A Red  Circle. ") == parse("a red circle")


def test_random_captions_always_parse_to_the_asked_category():
    rng = np.random.default_rng(0)
    for category in CATEGORIES:
        for _ in range(50):
            assert category_of(random_caption(rng, category)) == category
    assert {category_of(random_caption(rng)) for _ in range(300)} == set(CATEGORIES)
    with pytest.raises(ValueError, match="unknown category"):
        random_caption(rng, "texture")


@pytest.mark.parametrize("caption, named", [
    ("a purple circle", "'purple'"),
    ("a circle next to a square", "'next'"),
    ("five circles", "'five'"),
    ("two circle", "'circle'"),
    ("one circle", "'one'"),
    ("the circle", "'the'"),
    ("a circle and a circle", "different shapes"),
    ("a red circle and a red square", "different colours"),
    ("a red circle and a square", "colour or neither"),
    ("a red circle above a square", "without colours"),
    ("a circle and", "found nothing"),
    ("", "empty"),
])
def test_parser_rejects_other_text_naming_the_problem_and_showing_examples(caption, named):
    with pytest.raises(ValueError) as error:
        parse(caption)
    message = str(error.value)
    assert named in message
    assert "'a red circle and a blue square'" in message   # shows what it does understand


# ---- renderer and data API -----------------------------------------------------------------------

def test_sampled_scenes_hold_exactly_the_named_objects_apart_and_inside():
    rng = np.random.default_rng(1)
    for spec in all_specs():
        for _ in range(5):
            scene = sample_scene(spec, rng)
            assert sorted(o.shape for o in scene.objects) == sorted(o.shape for o in spec.objects for _ in range(o.count))
            for named in spec.objects:
                if named.color:
                    assert any((o.shape, o.color) == (named.shape, named.color) for o in scene.objects)
            for i, a in enumerate(scene.objects):
                assert a.x >= BORDER and a.y >= BORDER and a.x + a.size <= IMAGE_SIZE - BORDER
                assert not any(overlaps(a, b) for b in scene.objects[i + 1:])
            image = render(scene)
            assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.uint8
            assert evaluate(image, spec).ok


def test_render_draws_flat_colours_on_black_and_rejects_bad_objects():
    image = render(Scene((Obj("square", "yellow", 4, 5, 8),)))
    assert (image[5:13, 4:12] == (255, 255, 0)).all()
    assert image.sum() == 64 * 2 * 255
    with pytest.raises(ValueError, match="does not fit"):
        render(Scene((Obj("circle", "red", 28, 0, 8),)))
    with pytest.raises(ValueError, match="unknown colour"):
        render(Scene((Obj("circle", "pink", 0, 0, 8),)))


def test_sample_pairs_shapes_categories_and_speed():
    rng = np.random.default_rng(2)
    images, captions = sample_pairs(64, rng, categories=["counting", "position"])
    assert images.shape == (64, IMAGE_SIZE, IMAGE_SIZE, 3) and images.dtype == np.uint8
    assert {category_of(c) for c in captions} == {"counting", "position"}
    start = time.perf_counter()
    sample_pairs(1000, rng)
    assert 1000 / (time.perf_counter() - start) > 1000   # ~10,000/s measured; loose for busy CI
    with pytest.raises(ValueError, match="unknown categories"):
        sample_pairs(4, rng, categories=["shading"])


def test_contradicting_captions_are_valid_false_and_favour_near_misses():
    rng = np.random.default_rng(3)
    for spec in all_specs():
        caption = caption_of(spec)
        for negative in contradicting_captions(caption, rng, k=5):
            assert negative != caption
            assert surely_false(parse(negative), spec)
    swapped = contradicting_captions("a red circle and a blue square", rng, k=200)
    assert swapped.count("a blue circle and a red square") > 10
    turned = contradicting_captions("a circle to the left of a square", rng, k=200)
    assert "a square to the left of a circle" in turned and "a circle to the right of a square" in turned
    counts = contradicting_captions("three triangles", rng, k=200)
    assert "two triangles" in counts and "four triangles" in counts
    assert "a triangle" not in contradicting_captions("a red triangle", rng, k=200)


def test_degrade_keeps_shape_and_dtype_and_changes_every_image():
    rng = np.random.default_rng(4)
    images, _ = sample_pairs(16, rng)
    for kind in (*DEGRADATIONS, None):
        out = degrade(images, rng, kind)
        assert out.shape == images.shape and out.dtype == np.uint8
        assert all((a != b).any() for a, b in zip(out, images)), kind
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(images, rng, "sepia")
    with pytest.raises(ValueError, match="uint8"):
        degrade(images.astype(np.float32), rng)


def test_tensor_conversions():
    images, _ = sample_pairs(3, np.random.default_rng(5))
    unit, signed = to_unit(images), to_tensor(images)
    assert unit.shape == signed.shape == (3, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert unit.dtype == signed.dtype == torch.float32
    assert unit.min() == 0 and unit.max() == 1 and signed.min() == -1 and signed.max() == 1
    assert torch.equal(unit[1, :, 7, 9], torch.from_numpy(images[1, 7, 9]).float() / 255)
    assert to_unit(images[0]).shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)


# ---- oracle --------------------------------------------------------------------------------------

def test_oracle_is_exact_on_2000_clean_renders_and_their_negatives(renders):
    images, captions, negatives, _ = renders
    for image, caption, negative in zip(images, captions, negatives):
        found = detect(image)
        assert found.scene.problem is None and found.scene.rejected == 0, (caption, found.scene)
        assert judge(found, parse(caption)).ok, (caption, found)
        assert not judge(found, parse(negative)).ok, (caption, negative, found)


def test_oracle_is_at_least_97_percent_right_on_blurred_noisy_renders(renders):
    _, captions, negatives, degraded = renders
    right = 0
    refused = 0
    for image, caption, negative in zip(degraded, captions, negatives):
        found = detect(image)
        refused += found.scene.problem is not None
        right += judge(found, parse(caption)).ok + (not judge(found, parse(negative)).ok)
    assert right / (2 * len(captions)) >= 0.97   # measured 99.9%
    assert refused == 0   # the scene bounds leave margin: darkest render 68% black (needs 60%)


def test_oracle_accepts_uint8_float_chw_hwc_and_torch():
    image = render(sample_scene("a triangle below a circle", np.random.default_rng(6)))
    unit = image.astype(np.float32) / 255
    for form in (image, unit, unit.transpose(2, 0, 1), torch.from_numpy(unit).permute(2, 0, 1)):
        assert evaluate(form, "a triangle below a circle").ok
    with pytest.raises(ValueError, match="one RGB image"):
        evaluate(np.zeros((32, 32)), "a circle")


def _scene(*objects):
    return render(Scene(tuple(Obj(*o) for o in objects)))


def test_oracle_names_the_failed_check():
    image = _scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9))
    assert evaluate(image, "a red circle and a blue square").failed is None
    assert evaluate(image, "a triangle").failed.startswith("presence:")
    assert evaluate(image, "a blue circle").failed.startswith("color:")
    assert evaluate(image, "two circles").failed == "count: expected 2 circles, found 1"
    assert evaluate(image, "a circle to the right of a square").failed.startswith("position:")
    assert evaluate(image, "a circle to the left of a square").ok
    assert evaluate(image, "a circle above a square").failed.startswith("position:")


def test_partial_credit_ranks_near_misses_above_far_misses():
    caption = "a red circle and a blue square"
    exact = _scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9))
    wrong_colours = _scene(("circle", "blue", 2, 12, 9), ("square", "red", 20, 12, 9))
    one_missing = _scene(("circle", "red", 2, 12, 9))
    wrong_shapes = _scene(("triangle", "green", 2, 12, 9))
    nothing = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    scores = [evaluate(x, caption).partial for x in (exact, wrong_colours, one_missing, wrong_shapes, nothing)]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True) and len(set(scores)) == 5
    assert scores[-1] == 0.0
    left = "a circle to the left of a square"
    beside = evaluate(_scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9)), left).partial
    on_top = evaluate(_scene(("circle", "red", 12, 2, 9), ("square", "blue", 12, 20, 9)), left).partial
    opposite = evaluate(_scene(("circle", "red", 20, 12, 9), ("square", "blue", 2, 12, 9)), left).partial
    assert beside == 1.0 > on_top > opposite > 0
    count = "four triangles"
    three, one = (evaluate(_scene(*[("triangle", "red", x, 12, 7) for x in range(1, 1 + 10 * n, 10)]), count) for n in (3, 1))
    assert three.failed == "count: expected 4 triangles, found 3" and 1 > three.partial > one.partial > 0


# ---- junk: images that are no scene ----------------------------------------------------------------

# Share of each kind refused as no scene (measured on 200 per kind by `python -m
# tsearch.worlds.shapes.oracle`: 100% for all but blobs, 98.5%; the few blob images let through
# are soft blobs in the four hues, spaced out on black); asserted with a little margin.
REFUSED_AT_LEAST = {kind: 0.95 for kind in JUNK} | {"blobs": 0.9}


@pytest.mark.parametrize("kind", JUNK)
def test_oracle_refuses_junk_whatever_the_caption(kind):
    rng = np.random.default_rng(11)
    images = junk_images(50, rng, kind)
    assert images.shape == (50, IMAGE_SIZE, IMAGE_SIZE, 3) and images.dtype == np.uint8
    refused, accepted = 0, 0
    for image in images:
        found = detect(image)
        refused += found.scene.problem is not None
        for category in CATEGORIES:
            verdict = judge(found, parse(random_caption(rng, category)))
            accepted += verdict.ok
            if found.scene.problem is not None:
                assert not verdict.ok and verdict.failed.startswith("scene: ")
                assert verdict.partial <= oracle.JUNK_CREDIT
    assert refused / len(images) >= REFUSED_AT_LEAST[kind]
    assert accepted / (len(images) * len(CATEGORIES)) <= 0.02   # measured 0% (blobs 0.3%)


def test_junk_images_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown junk kind"):
        junk_images(2, np.random.default_rng(0), "static")


def test_oracle_names_why_an_image_is_no_scene():
    rng = np.random.default_rng(12)
    noise = junk_images(1, rng, "noise")[0]
    assert "near-black background" in evaluate(noise, "a circle").failed
    # the old oracle passed this: noise holds a blob of every shape and colour
    assert evaluate(noise, "a circle").failed.startswith("scene: only ")
    grid = [(x, y) for y in (1, 12, 23) for x in (1, 12, 23)]
    six = _scene(*[("circle", "red", x, y, 7) for x, y in grid[:6]])
    seven = _scene(*[("circle", "red", x, y, 7) for x, y in grid[:7]])
    assert evaluate(six, "a circle").ok   # GenEval allows extra objects, up to MAX_OBJECTS
    assert evaluate(seven, "a circle").failed == "scene: 7 objects (a scene has at most 6)"
    cluttered = _scene(("circle", "red", 2, 12, 9))
    cluttered[2:12, 20:30] = (255, 0, 255)   # a magenta square: no hue of this world
    verdict = evaluate(cluttered, "a red circle")
    assert verdict.failed.startswith("scene: ") and "lit outside any object" in verdict.failed
    found = detect(cluttered)
    assert found.scene.rejected == 1 and [d.color for d in found] == ["red"]
    assert judge(list(found), parse("a red circle")).ok   # a plain list is judged as a scene


def test_junk_ranks_below_near_misses():
    from tsearch.verifiers import load_verifier

    caption = "a red circle and a blue square"
    exact = _scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9))
    wrong_colours = _scene(("circle", "blue", 2, 12, 9), ("square", "red", 20, 12, 9))
    one_missing = _scene(("circle", "red", 2, 12, 9))
    rng = np.random.default_rng(13)
    # the exact scene drowned in noise shows the right objects, yet is no scene
    drowned = np.clip(0.5 * exact + 0.5 * rng.uniform(0, 255, exact.shape), 0, 255).astype(np.uint8)
    junk = [drowned, *(junk_images(1, rng, kind)[0] for kind in JUNK)]
    near = [evaluate(x, caption) for x in (wrong_colours, one_missing)]
    far = [evaluate(x, caption) for x in junk]
    assert all(v.failed.startswith("scene: ") for v in far)
    assert max(v.partial for v in far) <= oracle.JUNK_CREDIT < min(v.partial for v in near)
    scores = load_verifier("shapes-oracle").score(to_unit(np.stack([exact, wrong_colours, *junk])), caption)
    assert scores[0] == 1.5 and scores[0] > scores[1] > scores[2:].max()


# ---- eval CLI and verifier -----------------------------------------------------------------------

def test_eval_cli_gives_one_json_verdict_per_image(tmp_path, capsys):
    image = _scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9))
    Image.fromarray(image).save(tmp_path / "small.png")
    Image.fromarray(image).resize((128, 128), Image.Resampling.NEAREST).save(tmp_path / "large.png")
    Image.fromarray(np.zeros_like(image)).save(tmp_path / "black.png")
    paths = [str(tmp_path / n) for n in ("small.png", "large.png", "black.png")]
    results = eval_cli.run("a circle to the left of a square", paths)
    assert [r["ok"] for r in results] == [True, True, False]
    assert [r["path"] for r in results] == paths
    assert results[2]["failed"].startswith("presence:") and results[2]["partial"] == 0.0
    assert {r["category"] for r in results} == {"position"}
    json.dumps(results)
    with pytest.raises(ValueError, match="'purple'"):
        eval_cli.run("a purple circle", paths)
    with pytest.raises(ValueError, match="no image file"):
        eval_cli.run("a circle", [str(tmp_path / "missing.png")])
    assert eval_cli.main(["--prompt", "a red circle", paths[0]]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_shapes_oracle_verifier_scores_and_ranks():
    from tsearch.verifiers import VERIFIERS, load_verifier

    assert VERIFIERS["shapes-oracle"].kind == "bundled"
    verifier = load_verifier("shapes-oracle")
    assert verifier.name == "shapes-oracle"
    caption = "a red circle and a blue square"
    batch = np.stack([
        _scene(("circle", "red", 2, 12, 9), ("square", "blue", 20, 12, 9)),
        _scene(("circle", "blue", 2, 12, 9), ("square", "red", 20, 12, 9)),
        np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8),
    ])
    scores = verifier.score(to_unit(batch), caption)
    assert scores.shape == (3,) and scores.dtype == torch.float32 and scores.device.type == "cpu"
    assert scores[0] == 1.5 and scores[0] > scores[1] > scores[2] and scores[2] == 0
    larger = torch.nn.functional.interpolate(to_unit(batch), scale_factor=2, mode="nearest")
    assert torch.equal(verifier.score(larger, caption), scores)
    with pytest.raises(ValueError, match="captions of the shapes grammar"):
        verifier.score(to_unit(batch), 3)
    with pytest.raises(ValueError, match=r"\[b, 3, H, W\]"):
        verifier.score(to_unit(batch)[0], caption)
