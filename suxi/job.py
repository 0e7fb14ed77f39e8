"""A job as one immutable value: the record the store keeps and the snapshot the page follows.

The runner never changes a :class:`Job` in place: each event makes a new one
(:func:`dataclasses.replace`), which is stored first and then published, so whoever holds a
snapshot holds a consistent picture of one moment (docs/architecture.md, "Jobs").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .generation import GenerationOptions
from .kinds import Kind, State

KEPT_LINES = 40


@dataclass(frozen=True)
class Applied:
    """What the relay says it applied (its echo of the request, or a task's status fields)."""

    prompt: str | None = None
    orientation: str | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: Any) -> Applied | None:
        if not isinstance(data, dict):
            return None
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Job:
    id: str
    owner: str  # the visitor token (or an API session) the job belongs to
    created: float
    prompt: str  # as the visitor wrote it (the app's hints are not part of it)
    options: GenerationOptions
    address_hash: str = ""  # salted hash of the visitor's address, for per-visitor limits
    own_key: bool = False  # made with the visitor's own key, not the operator's
    relay_origin: str = ""
    media_token: str = ""  # the random folder the video is served from
    route: str | None = None  # chat | unified | generations | openai, once the relay took it
    state: State = State.PENDING
    updated: float = 0.0
    started: float | None = None  # when the request was sent (after any wait for a slot)
    finished: float | None = None
    task_id: str | None = None
    sid: str | None = None
    links: tuple[str, ...] = ()  # the relay's status pages (never videos)
    percent: float | None = None
    position: int | None = None  # place in the relay's queue, when it says
    lines: tuple[str, ...] = ()  # the relay's own lines, latest last (shown under Details)
    applied: Applied | None = None
    video_url: str | None = None
    needs_key: bool = False  # the video URL is the relay's content endpoint
    thumbnail_url: str | None = None
    file: str | None = None  # relative to the data folder
    thumbnail: str | None = None  # relative to the data folder
    size_bytes: int | None = None
    error_kind: Kind | None = None
    error_values: tuple[tuple[str, Any], ...] = ()
    relay_text: str = ""  # the relay's own words about a failure
    http_status: int | None = None
    retry_after: str | None = None
    may_have_charged: bool = False
    answer: str = ""  # chat format: the relay's whole reply (resent to change the video)
    messages: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # chat: what was sent
    image: str = ""  # "" | "file" | "link": the starting picture
    image_ref: str = ""  # the link, or the kept picture's path relative to the data folder
    parent_id: str | None = None  # the job this one changes
    group_id: str | None = None  # variations or a batch
    group_kind: str = ""  # "" | "variations" | "batch"
    group_index: int = 0
    share_token: str | None = None
    pruned: bool = False  # the video file was removed by the retention setting
    partial: bool = field(default=False, compare=False)  # loaded without the big columns

    @property
    def running(self) -> bool:
        return self.state.running

    @property
    def model(self) -> str:
        return self.options.model

    def with_(self, **changes: Any) -> Job:
        return replace(self, **changes)

    def with_line(self, text: str) -> Job:
        return replace(self, lines=(*self.lines[-(KEPT_LINES - 1) :], text))

    def failed(
        self,
        kind: Kind,
        relay_text: str = "",
        *,
        at: float,
        state: State = State.FAILED,
        status: int | None = None,
        retry_after: str | None = None,
        charged: bool = False,
        values: dict[str, Any] | None = None,
    ) -> Job:
        return replace(
            self,
            state=state,
            error_kind=kind,
            relay_text=relay_text or "",
            http_status=status,
            retry_after=retry_after,
            may_have_charged=charged,
            error_values=tuple(sorted((values or {}).items())),
            finished=at,
        )

    def public(self) -> dict[str, Any]:
        """What a job looks like through the API (no owner, no address)."""
        return {
            "id": self.id,
            "state": str(self.state),
            "prompt": self.prompt,
            "model": self.model,
            "format": self.route or self.options.format,
            "created": self.created,
            "finished": self.finished,
            "task_id": self.task_id,
            "percent": self.percent,
            "video_url": self.video_url,
            "error_kind": str(self.error_kind) if self.error_kind else None,
            "parent_id": self.parent_id,
            "group_id": self.group_id,
        }
