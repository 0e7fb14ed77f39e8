"""Storyboards: several shots, each a length and a scene, in the layout the relay reads.

The relay documents a storyboard as one prompt of numbered shots:

    Shot 1:
    duration: 5sec
    Scene: a red kite rises over a green hill

    Shot 2:
    duration: 5sec
    Scene: the kite string snaps …

:func:`compose` writes that layout, :func:`parse` reads it back after the person edited it
(headers in either language, any case, ``5s`` / ``5 sec`` / ``5秒``, a scene without its label),
and :func:`check` says, in sentences, what a storyboard lacks before it is sent: a scene, a
sensible length, fewer shots, or a total the model can make (its longest duration,
``suxi/families.py``; no limit for a model the table does not know).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .families import GENERIC, family_for
from .texts import tr
from .textsafe import clean_text

MAX_SHOTS = 10
MAX_SHOT_SECONDS = 60.0  # no video model makes a longer single shot
MAX_SCENE_CHARS = 1000

_HEADER = re.compile(
    r"^[ \t>*#_]*(?:shot|scene|镜头|分镜)[ \t]*#?[ \t]*(\d{1,3})[ \t]*[:：.)\-]?[ \t*_]*",
    re.IGNORECASE | re.MULTILINE,
)
_DURATION = re.compile(
    r"(?:duration|length|时长|长度)[ \t*_]*[:：=][ \t*_]*(-?\d+(?:\.\d+)?)[ \t]*"
    r"(?:(?:sec(?:ond)?s?|s)\b|秒钟?)?",
    re.IGNORECASE,
)
_SCENE = re.compile(r"(?:scene|场景|画面)[ \t*_]*[:：][ \t*_]*", re.IGNORECASE)
_SECONDS = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:sec(?:ond)?s?|s|秒(?:钟)?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Shot:
    seconds: float
    scene: str


@dataclass(frozen=True)
class Issue:
    """One thing to fix, as a key of ``suxi/texts/studio.py`` and its values."""

    key: str
    values: dict[str, object] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return tr(self.key, lang, **self.values)


def seconds_text(seconds: float) -> str:
    """``5`` for whole seconds, ``2.5`` otherwise."""
    if not math.isfinite(seconds):
        return "0"
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.1f}".rstrip("0")


def _one_line(scene: str) -> str:
    return " ".join(clean_text(scene).split())


def compose(shots: Sequence[Shot]) -> str:
    """The relay's storyboard prompt for ``shots`` (each scene on one line)."""
    blocks = [
        f"Shot {index}:\nduration: {seconds_text(shot.seconds)}sec\nScene: {_one_line(shot.scene)}"
        for index, shot in enumerate(shots, 1)
    ]
    return "\n\n".join(blocks)


def looks_like_storyboard(text: str) -> bool:
    """True when ``text`` holds a numbered shot with a duration (the relay's layout)."""
    return bool(_HEADER.search(text or "")) and bool(_DURATION.search(text or ""))


def parse(text: str) -> list[Shot]:
    """The shots of a storyboard prompt, in the order written; ``[]`` when ``text`` has no
    shot header. A shot without a readable duration gets 0 seconds (``check`` says so)."""
    text = clean_text(text or "")
    headers = list(_HEADER.finditer(text))
    shots = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        shots.append(_shot(text[header.end() : end]))
    return shots


def _shot(block: str) -> Shot:
    duration = _DURATION.search(block)
    seconds = float(duration.group(1)) if duration else 0.0
    if duration:
        block = block[: duration.start()] + "\n" + block[duration.end() :]
    label = _SCENE.search(block)
    scene = block[label.end() :] if label else block
    return Shot(seconds, _one_line(scene)[:MAX_SCENE_CHARS])


def shot_from(seconds: object, scene: object) -> Shot:
    """A shot from a form's raw values ("5", "5s", 5.0, "" …); an unreadable length is 0."""
    if isinstance(seconds, bool):
        value = 0.0
    elif isinstance(seconds, int | float):
        value = float(seconds)
    else:
        match = _SECONDS.match(str(seconds or ""))
        value = float(match.group(1)) if match else 0.0
    if not math.isfinite(value):
        value = 0.0
    text = _one_line(scene)[:MAX_SCENE_CHARS] if isinstance(scene, str) else ""
    return Shot(value, text)


def shots_from_rows(rows: Iterable[Sequence[object]] | None) -> list[Shot]:
    """Shots from table rows ``[seconds, scene]`` (a Gradio Dataframe's value); rows with
    neither a length nor a scene are left out."""
    shots = []
    for row in rows or []:
        cells = [*list(row)[:2], None, None]
        if all(c in (None, "") or (isinstance(c, str) and not c.strip()) for c in cells[:2]):
            continue
        shots.append(shot_from(cells[0], cells[1]))
    return shots


def longest(model: str) -> int | None:
    """The longest video ``model`` makes, in seconds; None when the family is unknown."""
    family = family_for(model)
    if family is GENERIC or not family.durations:
        return None
    return max(family.durations)


def total(shots: Sequence[Shot]) -> float:
    return sum(s.seconds for s in shots if math.isfinite(s.seconds) and s.seconds > 0)


def duration_for(shots: Sequence[Shot], model: str) -> int | None:
    """The model's shortest duration that holds every shot; None when none does or the
    family is unknown (then the relay decides)."""
    family = family_for(model)
    need = total(shots)
    fitting = [d for d in sorted(family.durations) if d >= need]
    return fitting[0] if fitting else None


def check(shots: Sequence[Shot], model: str) -> list[Issue]:
    """What to fix before sending, in order; ``[]`` when the storyboard can go."""
    if not shots:
        return [Issue("sb_empty")]
    issues: list[Issue] = []
    if len(shots) > MAX_SHOTS:
        issues.append(Issue("sb_too_many", {"n": len(shots), "max": MAX_SHOTS}))
    limit = longest(model)
    shot_limit = min(MAX_SHOT_SECONDS, limit) if limit else MAX_SHOT_SECONDS
    for index, shot in enumerate(shots, 1):
        if not shot.scene.strip():
            issues.append(Issue("sb_no_scene", {"n": index}))
        if not math.isfinite(shot.seconds) or shot.seconds <= 0:
            issues.append(Issue("sb_no_length", {"n": index}))
        elif shot.seconds > shot_limit:
            issues.append(
                Issue(
                    "sb_shot_too_long",
                    {
                        "n": index,
                        "seconds": seconds_text(shot.seconds),
                        "max": seconds_text(shot_limit),
                    },
                )
            )
    whole = total(shots)
    if limit and whole > limit:
        issues.append(
            Issue(
                "sb_total_too_long",
                {"total": seconds_text(whole), "max": limit, "model": model},
            )
        )
    return issues
