"""Atoms of a prompt judged against detected objects, and one score from them (GenEval, TIFA/DSG-style).

GenEval (Ghosh et al. 2023) checks a generated image part by part: each named object is there,
counts are exact, colours match, the relation holds between box centres. Atom-level judges (TIFA,
DSG, GenEval 2's Soft-TIFA) drift less under search than holistic scores (issue 27). Here each
atom is judged pass / fail / undecidable with a confidence, from soft detections, so two images
that both pass still rank by how sure the detector is.

Two front ends share this module: `shapes-parts` (a segmenter trained on the shapes world) and
`geneval-owlv2` (a zero-shot detector for real models). Each turns its condition into an `Ask`
and its image into `Found` objects; `judge` gives the atoms and `combine` one score per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS_P, FAIL_P = 0.6, 0.4   # an atom holding with probability >= 0.6 passes, <= 0.4 fails, else undecidable
RELATION_MARGIN = 0.1       # GenEval's direction test is "> 0.5"; within 0.1 of it the relation is unsure
RELATIONS = {"left": "left of", "right": "right of", "above": "above", "below": "below"}
AXIS = {"left": (0, -1), "right": (0, 1), "above": (1, -1), "below": (1, 1)}   # rows grow downwards
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten"}
TIERS = {"pass": 2.0, "undecidable": 1.0, "fail": 0.0}


@dataclass(frozen=True)
class Found:
    """One detected object: how likely it is an object at all, what it is, its colour, its box."""
    presence: float                              # probability it is an object, in [0, 1]
    labels: dict[str, float]                     # probability of each class name it may be
    colors: dict[str, float] = field(default_factory=dict)   # probability of each colour name
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)   # x0, y0, x1, y1 in pixels

    def p(self, label: str, color: str | None = None) -> float:
        """Probability it is a `label` (of `color`, when named)."""
        out = self.presence * self.labels.get(label, 0.0)
        return out * self.colors.get(color, 0.0) if color is not None else out

    @property
    def label(self) -> str:
        return max(self.labels, key=self.labels.get) if self.labels else ""

    @property
    def color(self) -> str | None:
        return max(self.colors, key=self.colors.get) if self.colors else None

    def to_json(self) -> dict:
        return {"label": self.label, "color": self.color, "confidence": round(self.p(self.label), 4),
                "box": [round(float(v), 2) for v in self.box]}


@dataclass(frozen=True)
class Want:
    """One object a prompt asks for."""
    label: str
    count: int = 1
    color: str | None = None
    exact: bool = False     # the count is exact (GenEval's counting), not "at least"


@dataclass(frozen=True)
class Ask:
    """What a prompt asks for: its objects, and optionally objects[a] <relation> objects[b]."""
    objects: tuple[Want, ...]
    relation: tuple[int, str, int] | None = None


@dataclass(frozen=True)
class Atom:
    text: str          # e.g. "a red circle", "three triangles", "a circle above a square"
    kind: str          # object, count, color, relation (or a front end's own, e.g. scene)
    p: float           # probability the atom holds
    detail: str = ""   # what was found, e.g. "found 2"

    @property
    def verdict(self) -> str:
        return "pass" if self.p >= PASS_P else "fail" if self.p <= FAIL_P else "undecidable"

    @property
    def confidence(self) -> float:
        """How sure the verdict is, in [0, 1]: 1 for p of 0 or 1, 0 for a coin flip."""
        return abs(2.0 * self.p - 1.0)

    def to_json(self) -> dict:
        return {"text": self.text, "kind": self.kind, "verdict": self.verdict,
                "confidence": round(self.confidence, 4), "detail": self.detail}


def direction(box_a, box_b) -> tuple[float, float]:
    """GenEval's relative position of box A to box B: the centre offset, shrunk per axis by 0.1 of
    the two boxes' summed sides, over the offset's length; a relation holds beyond 0.5."""
    ox = (box_a[0] + box_a[2] - box_b[0] - box_b[2]) / 2
    oy = (box_a[1] + box_a[3] - box_b[1] - box_b[3]) / 2
    norm = (ox * ox + oy * oy) ** 0.5
    if norm < 1e-6:
        return 0.0, 0.0
    shrunk = [max(abs(o) - 0.1 * (a1 - a0 + b1 - b0), 0.0) * (1 if o > 0 else -1) / norm
              for o, a0, a1, b0, b1 in ((ox, box_a[0], box_a[2], box_b[0], box_b[2]),
                                        (oy, box_a[1], box_a[3], box_b[1], box_b[3]))]
    return shrunk[0], shrunk[1]


def _exactly(probabilities: list[float]) -> list[float]:
    """P(exactly k of independent events happen) for k = 0..n (the Poisson-binomial distribution)."""
    dist = [1.0]
    for p in probabilities:
        dist = [a * (1 - p) + b * p for a, b in zip(dist + [0.0], [0.0] + dist)]
    return dist


def _noun(want: Want) -> str:
    return f"a {want.color} {want.label}" if want.color else f"a {want.label}"


def judge(ask: Ask, found: list[Found], margin: float = RELATION_MARGIN) -> list[Atom]:
    """The prompt's atoms: each object there, its count, its colour, then the relation.

    A missing object fails its colour and its relation too (they need it); extra objects are
    allowed, as in GenEval. `margin` 0 makes the relation a hard "> 0.5" test."""
    atoms = []
    for want in ask.objects:
        chances = [f.p(want.label) for f in found]
        atoms.append(Atom(f"a {want.label}", "object", max(chances, default=0.0)))
        if want.exact or want.count > 1:
            dist = _exactly(chances)
            p = dist[want.count] if want.exact and want.count < len(dist) else sum(dist[want.count:])
            likely = sum(c >= 0.5 for c in chances)
            atoms.append(Atom(f"{NUMBER_WORDS.get(want.count, want.count)} {want.label}s", "count", p, f"found {likely}"))
        if want.color is not None:
            atoms.append(Atom(_noun(want), "color", max((f.p(want.label, want.color) for f in found), default=0.0)))
    if ask.relation is not None:
        a, name, b = ask.relation
        first, second = ask.objects[a], ask.objects[b]
        axis, sign = AXIS[name]
        best = 0.0
        for i, x in enumerate(found):
            for j, y in enumerate(found):
                if i != j:
                    d = sign * direction(x.box, y.box)[axis]
                    holds = float(d > 0.5) if margin <= 0 else min(max((d - 0.5) / (2 * margin) + 0.5, 0.0), 1.0)
                    best = max(best, x.p(first.label, first.color) * y.p(second.label, second.color) * holds)
        atoms.append(Atom(f"{_noun(first)} {RELATIONS[name]} {_noun(second)}", "relation", best))
    return atoms


def tier(atoms: list[Atom]) -> str:
    """pass when every atom passes, fail when one fails, else undecidable."""
    verdicts = {a.verdict for a in atoms}
    return "fail" if "fail" in verdicts else "undecidable" if "undecidable" in verdicts else "pass"


def combine(atoms: list[Atom]) -> float:
    """One score: the tier (pass 2 > undecidable 1 > fail 0), plus the atoms' mean probability in
    [0, 1], so every pass ranks above every unsure image, and within a tier the surer image wins."""
    if not atoms:
        return TIERS["pass"] + 1.0
    return TIERS[tier(atoms)] + sum(a.p for a in atoms) / len(atoms)


def passed(score: float | None) -> bool:
    """Whether a combined score is a pass (every atom passed)."""
    return score is not None and score >= TIERS["pass"]
