"""How a job takes in what the relay says: each event makes a new snapshot of the job.

:class:`JobSink` is the job runner's side of :class:`suxi.pipeline.Sink`. It is pure apart from
``commit`` (store, then publish), which the runner gives it.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from .events import (
    Answer,
    Event,
    Failed,
    Generating,
    Line,
    Progress,
    Queued,
    TaskInfo,
    Understood,
    VideoReady,
)
from .job import Applied, Job
from .kinds import State
from .relay import TASK_ROUTES
from .relay.fetch import Download
from .textsafe import hide_keys

NAME_CHARS = 40


def readable_name(prompt: str, created: float) -> str:
    """``2026-11-30-a-red-kite-over-a-green-hill``: a date and the prompt's first words,
    letters and digits of any script (the random folder above it keeps it unguessable)."""
    text = unicodedata.normalize("NFKC", prompt).lower()
    words = re.sub(r"[\W_]+", "-", text).strip("-")[:NAME_CHARS].rstrip("-") or "video"
    day = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")
    return f"{day}-{words}"


def apply(job: Job, event: Event) -> Job:
    """The job after ``event`` (the same object when nothing changed)."""
    match event:
        case Queued(text=_, position=position):
            if job.state == State.QUEUED and job.position == position:
                return job
            return job.with_(state=State.QUEUED, position=position)
        case Generating():
            return job if job.state == State.GENERATING else job.with_(state=State.GENERATING)
        case Progress(percent=percent):
            if job.percent == percent and job.state == State.GENERATING:
                return job
            return job.with_(state=State.GENERATING, percent=percent, position=None)
        case TaskInfo(task_id=task_id, sid=sid, links=links):
            accepted = job.state == State.PENDING and job.route in TASK_ROUTES and task_id
            return job.with_(
                state=State.QUEUED if accepted else job.state,  # the relay took it
                task_id=task_id or job.task_id,
                sid=sid or job.sid,
                links=tuple(links) or job.links,
            )
        case Understood():
            applied = Applied(
                prompt=event.prompt,
                orientation=event.orientation,
                duration=event.duration,
                width=event.width,
                height=event.height,
            )
            return job if applied == job.applied else job.with_(applied=applied)
        case Line(text=text):
            return job if job.lines[-1:] == (text,) else job.with_line(text)
        case VideoReady(url=url, thumbnail=thumbnail, needs_key=needs_key):
            return job.with_(
                state=State.DOWNLOADING,
                video_url=url,
                thumbnail_url=thumbnail,
                needs_key=needs_key,
            )
        case Answer(text=text):
            return job if text == job.answer else job.with_(answer=text)
        case Failed(message=message, kind=kind):
            return job.failed(kind, message, at=time.time(), charged=True)
    return job


def without_keys(event: Event, key: str) -> Event:
    """The event with the key (and anything shaped like one) hidden in its words: whatever the
    relay wrote is stored and shown, and a relay may quote the key it was given."""
    match event:
        case Line(text=text) | Queued(text=text) | Generating(text=text) | Progress(text=text):
            return replace(event, text=hide_keys(text, key)) if text else event
        case Answer(text=text):
            return replace(event, text=hide_keys(text, key))
        case Failed(message=message):
            return replace(event, message=hide_keys(message, key))
    return event


class JobSink:
    def __init__(
        self,
        job: Job,
        data_dir: Path,
        commit: Callable[[Job], Job],
        remember_route: Callable[[Job, str], None],
        key: str = "",
    ) -> None:
        self.job = job
        self.data_dir = data_dir
        self._commit = commit
        self._remember = remember_route
        self._key = key

    async def on_event(self, event: Event, route: str) -> None:
        event = without_keys(event, self._key)
        job = self.job
        if job.route != route:
            job = job.with_(route=route)
        new = apply(job, event)
        if isinstance(event, TaskInfo) and route in TASK_ROUTES and event.task_id:
            self._remember(new, route)
        if new is not self.job:
            self.job = self._commit(new)

    def folder(self) -> Path:
        return self.data_dir / "videos" / self.job.media_token

    def video_path(self) -> Path:
        return self.folder() / f"{readable_name(self.job.prompt, self.job.created)}.mp4"

    def thumbnail_path(self) -> Path:
        return self.folder() / "thumbnail"

    async def on_video(self, video: Download, thumbnail: Path | None) -> None:
        self.job = self._commit(
            self.job.with_(
                state=State.DONE,
                file=str(video.path.relative_to(self.data_dir)),
                thumbnail=str(thumbnail.relative_to(self.data_dir)) if thumbnail else None,
                size_bytes=video.size,
                percent=100.0,
                position=None,
                finished=time.time(),
                error_kind=None,
                relay_text="",
            )
        )
