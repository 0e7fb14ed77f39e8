"""The small vocabulary of things a relay can tell us about a generation.

Every backend (chat stream, unified task, OpenAI task) turns its wire format into these values;
the pipeline, the job runner, the page and the command line only ever see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kinds import Kind


@dataclass(frozen=True)
class Queued:
    """The relay accepted the job and it waits in the upstream queue (``position`` when the
    relay says where)."""

    text: str = ""
    position: int | None = None


@dataclass(frozen=True)
class Generating:
    """The upstream started rendering."""

    text: str = ""


@dataclass(frozen=True)
class Progress:
    """A percentage (0–100), read from the relay's free text or a status field."""

    percent: float
    text: str = ""


@dataclass(frozen=True)
class TaskInfo:
    """Identifiers the relay gave out: the task id, the sid needed to modify the video later,
    and status pages (never videos)."""

    task_id: str | None = None
    sid: str | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Understood:
    """What the relay says it made of the request: the chat formats' fenced JSON echo, or a task
    status reply's applied fields (enhanced prompt, width × height, seconds)."""

    prompt: str | None = None
    orientation: str | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    raw: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Line:
    """One human-readable line the relay wrote (Markdown quote marks and dots removed)."""

    text: str


@dataclass(frozen=True)
class VideoReady:
    """The video exists at ``url``. ``needs_key``: the URL is the relay's own content endpoint,
    which wants the key (it is sent only to the relay's own origin)."""

    url: str
    thumbnail: str | None = None
    needs_key: bool = False


@dataclass(frozen=True)
class Answer:
    """The relay's whole text reply (chat format), kept verbatim: changing the video later
    resends it (it carries ``sid: s_…``)."""

    text: str


@dataclass(frozen=True)
class Failed:
    """The generation ended without a video. ``kind`` names the reason for the UI; ``message``
    is the relay's own words, if any."""

    message: str
    kind: Kind = Kind.RELAY


Event = Queued | Generating | Progress | TaskInfo | Understood | Line | VideoReady | Answer | Failed
