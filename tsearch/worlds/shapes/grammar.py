"""The shapes world's caption grammar: GenEval's six categories (Ghosh et al. 2023) in miniature.

DESIGN.md, "The bundled worlds". Every caption is one of

    single       a circle
    colors       a red square
    counting     three triangles                       (two, three or four)
    two_objects  a circle and a square                 (two different shapes)
    position     a circle to the left of a square      (to the right of, above, below)
    color_attr   a red circle and a blue square        (different shapes, different colours)

`parse` turns a caption into a `Spec`; `caption_of` is its inverse, so `caption_of(parse(c)) == c`
for every normalised caption. Anything outside the grammar is a ValueError naming the part that
was not understood and showing a valid example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLORS = ("red", "green", "blue", "yellow")
NUMBERS = {"two": 2, "three": 3, "four": 4}
# relation name -> the words between the two objects
RELATIONS = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
CATEGORIES = ("single", "colors", "counting", "two_objects", "position", "color_attr")

EXAMPLES = {
    "single": "a circle",
    "colors": "a red square",
    "counting": "three triangles",
    "two_objects": "a circle and a square",
    "position": "a circle to the left of a square",
    "color_attr": "a red circle and a blue square",
}


@dataclass(frozen=True)
class ObjectSpec:
    shape: str                # one of SHAPES
    color: str | None = None  # one of COLORS; None = any colour
    count: int = 1            # exact count (counting); 1 elsewhere


@dataclass(frozen=True)
class Spec:
    category: str                     # one of CATEGORIES
    objects: tuple[ObjectSpec, ...]   # one object, or two for two_objects/position/color_attr
    relation: str | None = None       # position only: objects[0] is <relation> objects[1]


def caption_of(spec: Spec) -> str:
    """The caption of a spec (the inverse of `parse`)."""
    a = spec.objects[0]
    if spec.category == "counting":
        number = {v: k for k, v in NUMBERS.items()}[a.count]
        return f"{number} {a.shape}s"
    first = _noun(a)
    if spec.category in ("single", "colors"):
        return first
    second = _noun(spec.objects[1])
    if spec.category == "position":
        return f"{first} {RELATIONS[spec.relation]} {second}"
    return f"{first} and {second}"


def _noun(obj: ObjectSpec) -> str:
    return f"a {obj.color} {obj.shape}" if obj.color else f"a {obj.shape}"


def normalize(caption: str) -> str:
    """Lower case, single spaces, no trailing full stop: the only leniency the parser allows."""
    if not isinstance(caption, str):
        raise ValueError(f"a caption must be a string, got {type(caption).__name__}; e.g. {EXAMPLES['colors']!r}")
    return " ".join(caption.strip().rstrip(".").lower().split())


def _error(caption: str, problem: str) -> ValueError:
    examples = "; ".join(f"{name}: {text!r}" for name, text in EXAMPLES.items())
    return ValueError(f"cannot parse caption {caption!r}: {problem}. Valid captions look like {examples}")


def _parse_object(words: list[str], caption: str) -> ObjectSpec:
    """'a circle' or 'a red circle'."""
    if not words:
        raise _error(caption, "expected an object such as 'a circle' but found nothing")
    if words[0] != "a":
        raise _error(caption, f"did not understand {words[0]!r}: an object starts with 'a' (e.g. 'a red circle')")
    if len(words) == 2 and words[1] in SHAPES:
        return ObjectSpec(words[1])
    if len(words) == 3 and words[1] in COLORS and words[2] in SHAPES:
        return ObjectSpec(words[2], words[1])
    for word in words[1:]:
        if word not in SHAPES and word not in COLORS:
            raise _error(caption, f"did not understand {word!r}: shapes are {', '.join(SHAPES)}; colours are {', '.join(COLORS)}")
    raise _error(caption, f"did not understand {' '.join(words)!r}: an object is 'a [colour] shape', e.g. 'a blue triangle'")


def _split(words: list[str]) -> tuple[list[str], str | None, list[str]] | None:
    """Find the joining words ('and' or a relation) between two objects."""
    for i in range(len(words)):
        if words[i] == "and":
            return words[:i], "and", words[i + 1:]
        for name, phrase in RELATIONS.items():
            parts = phrase.split()
            if words[i:i + len(parts)] == parts:
                return words[:i], name, words[i + len(parts):]
    return None


def parse(caption: str) -> Spec:
    """The structured spec of a caption of the grammar; ValueError naming what was not understood."""
    text = normalize(caption)
    words = text.split()
    if not words:
        raise _error(caption, "it is empty")
    if words[0] in NUMBERS:
        if len(words) == 2 and words[1].endswith("s") and words[1][:-1] in SHAPES:
            return Spec("counting", (ObjectSpec(words[1][:-1], None, NUMBERS[words[0]]),))
        rest = " ".join(words[1:])
        raise _error(caption, f"did not understand {rest!r} after {words[0]!r}: counting captions are a number then a plural shape, e.g. 'three triangles'")
    if words[0] != "a":
        raise _error(caption, f"did not understand {words[0]!r}: a caption starts with 'a' or a number (two, three, four)")
    split = _split(words)
    if split is None:
        obj = _parse_object(words, caption)
        return Spec("colors" if obj.color else "single", (obj,))
    left, join, right = split
    first, second = _parse_object(left, caption), _parse_object(right, caption)
    if first.shape == second.shape:
        raise _error(caption, f"the two objects must be different shapes (for several {first.shape}s say e.g. 'two {first.shape}s')")
    if join == "and":
        if first.color is None and second.color is None:
            return Spec("two_objects", (first, second))
        if first.color is None or second.color is None:
            raise _error(caption, "give both objects a colour or neither (e.g. 'a red circle and a blue square')")
        if first.color == second.color:
            raise _error(caption, f"the two objects must have different colours (both are {first.color})")
        return Spec("color_attr", (first, second))
    if first.color or second.color:
        raise _error(caption, "position captions name shapes without colours (e.g. 'a circle above a square')")
    return Spec("position", (first, second), join)


def category_of(caption: str) -> str:
    return parse(caption).category


def random_spec(rng: np.random.Generator, category: str | None = None) -> Spec:
    """A uniformly random spec of the category (a uniformly random category if None)."""
    if category is None:
        category = CATEGORIES[rng.integers(len(CATEGORIES))]
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose one of: {', '.join(CATEGORIES)}")
    shapes = rng.permutation(len(SHAPES))
    colors = rng.permutation(len(COLORS))
    a, b = SHAPES[shapes[0]], SHAPES[shapes[1]]
    ca, cb = COLORS[colors[0]], COLORS[colors[1]]
    if category == "single":
        return Spec(category, (ObjectSpec(a),))
    if category == "colors":
        return Spec(category, (ObjectSpec(a, ca),))
    if category == "counting":
        return Spec(category, (ObjectSpec(a, None, int(rng.integers(2, 5))),))
    if category == "two_objects":
        return Spec(category, (ObjectSpec(a), ObjectSpec(b)))
    if category == "position":
        relation = tuple(RELATIONS)[rng.integers(len(RELATIONS))]
        return Spec(category, (ObjectSpec(a), ObjectSpec(b)), relation)
    return Spec(category, (ObjectSpec(a, ca), ObjectSpec(b, cb)))


def random_caption(rng: np.random.Generator, category: str | None = None) -> str:
    return caption_of(random_spec(rng, category))


# --- benchmark splits --------------------------------------------------------------------------------
# The hard split: the kinds of caption where the model alone is weak (issue 19), in equal shares, in
# this order: colour attribution, position, and counting of three or four.
HARD_KINDS = ("color_attr", "position", "counting_3_4")
SPLITS = ("hard", "easy")


def split_captions(split: str, count: int, seed: int = 0) -> list[dict]:
    """`count` distinct captions of a split as {"prompt", "category"} rows, drawn with `seed`.

    The kinds take turns (hard: HARD_KINDS; easy: the six CATEGORIES); a kind whose distinct captions
    are used up (counting of three or four has six) drops out and the others fill its turns, so a
    caption never repeats: a repeat with the same search seed would be the same search twice."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    kinds = HARD_KINDS if split == "hard" else CATEGORIES
    pools = {kind: _all_captions(kind) for kind in kinds}
    most = sum(len(p) for p in pools.values())
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
        raise ValueError(f"count (captions) of the {split} split must be a whole number from 1 to {most} "
                         f"(its distinct captions), got {count!r}")
    rng = np.random.default_rng(seed)
    order = {kind: [pool[i] for i in rng.permutation(len(pool))] for kind, pool in pools.items()}
    rows: list[dict] = []
    while len(rows) < count:
        for kind in kinds:
            if order[kind] and len(rows) < count:
                rows.append({"prompt": order[kind].pop(0), "category": kind})
    return rows


def _all_captions(kind: str) -> list[str]:
    """Every caption of a category or hard kind, in a fixed order."""
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    if kind == "counting_3_4":
        return [caption_of(Spec("counting", (ObjectSpec(s, None, n),))) for s in SHAPES for n in (3, 4)]
    if kind == "single":
        return [caption_of(Spec(kind, (ObjectSpec(s),))) for s in SHAPES]
    if kind == "colors":
        return [caption_of(Spec(kind, (ObjectSpec(s, c),))) for s in SHAPES for c in COLORS]
    if kind == "counting":
        return [caption_of(Spec(kind, (ObjectSpec(s, None, n),))) for s in SHAPES for n in NUMBERS.values()]
    if kind == "two_objects":
        return [caption_of(Spec(kind, (ObjectSpec(a), ObjectSpec(b)))) for a, b in pairs]
    if kind == "position":
        return [caption_of(Spec(kind, (ObjectSpec(a), ObjectSpec(b)), r)) for a, b in pairs for r in RELATIONS]
    if kind == "color_attr":
        return [caption_of(Spec(kind, (ObjectSpec(a, ca), ObjectSpec(b, cb))))
                for a, b in pairs for ca in COLORS for cb in COLORS if ca != cb]
    raise ValueError(f"unknown caption kind {kind!r}; choose one of: {', '.join((*CATEGORIES, *HARD_KINDS))}")

if __name__ == "__main__":
    generator = np.random.default_rng(0)
    for name in CATEGORIES:
        text = random_caption(generator, name)
        print(f"{name:12s} {text!r:45s} {parse(text)}")
