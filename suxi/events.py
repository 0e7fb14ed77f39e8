"""The small vocabulary of things a relay can tell us about a generation.

The parser turns relay bytes into these values; the job runner and the page only ever see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Queued:
    """The relay accepted the job and it waits in the upstream queue."""

    text: str = ""


@dataclass(frozen=True)
class Generating:
    """The upstream started rendering."""

    text: str = ""


@dataclass(frozen=True)
class Progress:
    """A percentage (0–100) read out of the relay's free text."""

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
    """The fenced JSON block in which the relay echoes what it inferred from the prompt."""

    prompt: str | None = None
    orientation: str | None = None
    duration: int | None = None
    raw: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Line:
    """One human-readable line the relay wrote (Markdown quote marks and dots removed)."""

    text: str


@dataclass(frozen=True)
class VideoReady:
    url: str
    thumbnail: str | None = None


@dataclass(frozen=True)
class Failed:
    """The generation ended without a video. ``kind`` names the reason for the UI."""

    message: str
    kind: str = "relay"


Event = Queued | Generating | Progress | TaskInfo | Understood | Line | VideoReady | Failed

# Failure kinds the parser produces; the transport adds its own (see suxi.errors).
FAIL_RELAY = "relay"  # a ❌ / 错误 line or an in-stream error chunk
FAIL_POLICY = "content_policy"
FAIL_OVERLOADED = "overloaded"  # refused before billing ("under heavy load")
FAIL_NO_VIDEO = "no_video"  # the stream ended and no video URL was ever sent
