"""Task plans: how a created task behaves over time, and task ids that carry their own state.

A task's state is a pure function of its id and the clock: the id encodes the model, the
creation time (ms), the picture size, the length and a random seed, and the task follows a
:class:`TaskPlan` (a list of :class:`Frame`) — the relay's default timeline unless a test pushed
another plan for it. So a relay restarted on the same port keeps answering polls for tasks an
earlier process created; only pushed plans and small extras (the prompt, the video a remix came
from) live in memory.

Frame times are seconds at speed 1; the relay divides them by its speed.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .steps import Drop, RecordedRequest, Reply, Script, Sleep, validate

STATES = ("queued", "running", "done", "failed")
CONTENT_MODES = ("bytes", "redirect", "json")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


RELAY_FILE = _Marker("RELAY_FILE")  # the relay's own /files/sample.mp4 (or thumb.webp)
REMOVE = _Marker("REMOVE")  # in Frame.raw: drop this field from the rendered body


@dataclass(frozen=True)
class Frame:
    """What polls see from ``after`` seconds (at speed 1) after the create until the next frame.

    ``state`` is the meaning (queued | running | done | failed); each format renders its own
    status word, unless ``status`` gives the word to send. ``progress`` is a percentage (0–100);
    each format scales it its own way. ``video_url``/``thumbnail_url`` of a done frame default to
    the relay's own files; ``None`` sends a done task without a link; a path starting with ``/``
    is made absolute on the relay. ``raw`` overrides fields of the rendered body last (dotted
    keys reach into objects, :data:`REMOVE` deletes). ``reply`` answers the poll with a whole
    response instead (``error_reply(500)``, a 429 with ``Retry-After``, …).
    """

    after: float
    state: str = "queued"
    progress: float | None = None
    position: int | None = None
    video_url: str | _Marker | None = RELAY_FILE
    thumbnail_url: str | _Marker | None = RELAY_FILE
    reason: str | None = None
    status: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    reply: Script | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {self.state!r}")
        if self.after < 0:
            raise ValueError("after must not be negative")
        if self.reply is not None:
            check_reply(self.reply)


@dataclass(frozen=True)
class TaskPlan:
    """The frames one task goes through, and how ``GET /v1/videos/{id}/content`` answers.

    ``content``: ``"bytes"`` (the video itself), ``"redirect"`` (302 to the video URL, like a
    CDN), ``"json"`` (``{"video_url": …}``), a reply script (an error status), or ``None`` for the
    relay's ``content_mode``. A plan whose last frame is not done or failed never finishes.
    """

    frames: Sequence[Frame]
    content: str | Script | None = None

    def __post_init__(self) -> None:
        frames = tuple(sorted(self.frames, key=lambda f: f.after))
        if not frames:
            raise ValueError("a plan needs at least one frame")
        object.__setattr__(self, "frames", frames)
        if isinstance(self.content, list):
            check_reply(self.content)
        elif self.content is not None and self.content not in CONTENT_MODES:
            raise ValueError(f"content must be one of {CONTENT_MODES}, a reply or None")

    def frame_at(self, elapsed: float) -> Frame:
        """The frame a poll sees ``elapsed`` seconds (at speed 1) after the create."""
        current = self.frames[0]
        for frame in self.frames:
            if frame.after > elapsed:
                break
            current = frame
        return current

    def state_at(self, elapsed: float) -> Frame:
        """Like :meth:`frame_at`, skipping frames that only answer a reply."""
        current = next((f for f in self.frames if f.reply is None), self.frames[0])
        for frame in self.frames:
            if frame.after > elapsed:
                break
            if frame.reply is None:
                current = frame
        return current


def check_reply(script: Script) -> Script:
    """Raise ValueError unless ``script`` is Sleeps then a ``Reply`` or a ``Drop``."""
    script = validate(list(script))
    if not all(isinstance(step, (Sleep, Reply, Drop)) for step in script):
        raise ValueError("a task reply holds only Sleep, Reply and Drop steps")
    if not any(isinstance(step, (Reply, Drop)) for step in script):
        raise ValueError("a task reply must end in a Reply or a Drop")
    return script


# ------------------------------------------------------------------------------------ task ids

_B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, as in ULIDs
_B32_SET = frozenset(_B32)
_HEX_SET = frozenset("0123456789abcdef")
PRIVATE, REMIX = 1, 2


@dataclass(frozen=True)
class TaskRef:
    """Everything a task id says about its task."""

    id: str
    kind: str  # "unified" | "generations" | "openai": the id's shape
    model: str
    created: float  # unix time, ms precision
    width: int
    height: int
    seconds: int
    bits: int  # PRIVATE | REMIX

    @property
    def private(self) -> bool:
        return bool(self.bits & PRIVATE)

    @property
    def remix(self) -> bool:
        return bool(self.bits & REMIX)


def _b32(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        out.append(_B32[digit])
    if value:
        raise ValueError("value does not fit")
    return "".join(reversed(out))


def _unb32(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + _B32.index(char)
    return value


def _flags(width: int, height: int, seconds: int, bits: int) -> str:
    return _b32(width, 3) + _b32(height, 3) + _b32(seconds, 2) + _b32(bits, 1)


def encode(
    kind: str, model: str, created_ms: int, width: int, height: int, seconds: int, bits: int = 0
) -> str:
    """A new task id of ``kind``'s shape that :func:`decode` turns back into a :class:`TaskRef`."""
    width, height, seconds = min(width, 32767), min(height, 32767), min(seconds, 255)
    if kind == "unified":  # "<model>:task_" + a ULID-like 26 characters
        code = _b32(created_ms, 10) + _flags(width, height, seconds, bits)
        return f"{model}:task_{code}{_random_b32(7)}"
    if kind == "generations":  # new-api's "task_" + 32 characters
        code = _b32(created_ms, 10) + _flags(width, height, seconds, bits)
        return f"task_{code}{_random_b32(13)}"
    if kind == "openai":  # "video_" + hex
        head = f"{created_ms:012x}{width:04x}{height:04x}{seconds:02x}{bits:x}"
        return f"video_{head}{secrets.token_hex(6)}{model.encode().hex()}"
    raise ValueError(f"unknown id kind {kind!r}")


def _random_b32(n: int) -> str:
    return "".join(secrets.choice(_B32) for _ in range(n))


def decode(task_id: str) -> TaskRef | None:
    """The :class:`TaskRef` an id of this relay encodes; ``None`` for anything else."""
    try:
        if task_id.startswith("video_"):
            return _decode_openai(task_id)
        if ":task_" in task_id:
            model, _, code = task_id.rpartition(":task_")
            if model and len(code) == 26 and set(code) <= _B32_SET:
                return _decode_b32("unified", task_id, model, code)
        elif task_id.startswith("task_"):
            code = task_id[len("task_") :]
            if len(code) == 32 and set(code) <= _B32_SET:
                return _decode_b32("generations", task_id, "", code)
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def _decode_b32(kind: str, task_id: str, model: str, code: str) -> TaskRef:
    return TaskRef(
        id=task_id,
        kind=kind,
        model=model,
        created=_unb32(code[:10]) / 1000,
        width=_unb32(code[10:13]),
        height=_unb32(code[13:16]),
        seconds=_unb32(code[16:18]),
        bits=_unb32(code[18:19]),
    )


def _decode_openai(task_id: str) -> TaskRef | None:
    code = task_id[len("video_") :]
    fixed = 12 + 4 + 4 + 2 + 1 + 12
    if len(code) <= fixed or len(code) % 2 == 0 or not set(code) <= _HEX_SET:
        return None  # the model's hex has an even length; the fixed part is odd
    return TaskRef(
        id=task_id,
        kind="openai",
        model=bytes.fromhex(code[fixed:]).decode(),
        created=int(code[:12], 16) / 1000,
        width=int(code[12:16], 16),
        height=int(code[16:20], 16),
        seconds=int(code[20:22], 16),
        bits=int(code[22:23], 16),
    )


# ----------------------------------------------------------------------------------- the book


class TaskBook:
    """What the relay remembers about tasks: scripted answers waiting for the next create,
    plans of tasks created under them, and what clients sent."""

    def __init__(self, default: TaskPlan) -> None:
        self.default = default
        self.create_replies: deque[Script] = deque()
        self.next_plans: deque[TaskPlan] = deque()
        self.plans: dict[str, TaskPlan] = {}
        self.extras: dict[str, dict[str, Any]] = {}
        self.creates: list[tuple[str, RecordedRequest]] = []
        self.polls: dict[str, list[RecordedRequest]] = {}

    def new(
        self,
        kind: str,
        model: str,
        width: int,
        height: int,
        seconds: int,
        bits: int = 0,
        **extras: Any,
    ) -> TaskRef:
        created_ms = int(time.time() * 1000)
        ref = decode(encode(kind, model, created_ms, width, height, seconds, bits))
        assert ref is not None
        if self.next_plans:
            self.plans[ref.id] = self.next_plans.popleft()
        self.extras[ref.id] = {"model": model, **extras}
        return ref

    def plan(self, ref: TaskRef) -> TaskPlan:
        return self.plans.get(ref.id, self.default)

    def extra(self, ref: TaskRef, name: str, default: Any = None) -> Any:
        return self.extras.get(ref.id, {}).get(name, default)

    def model(self, ref: TaskRef) -> str:
        return ref.model or self.extra(ref, "model", "")
