"""Following a task: poll its status until it ends, turning replies into events.

A poll costs nothing, so a failed poll (network, 5xx, a proxy's 524, a 429) is simply asked
again later — unlike the create call, which is never re-sent. The rhythm (docs/relay-protocol.md,
"Polling"): every ``poll_interval`` seconds, backing off towards ``poll_max_interval`` while the
task is queued or polls fail; a 429's ``Retry-After`` is honoured (bounded); each poll is bounded
by the read timeout and the job by its total deadline (wall-clock, so it holds across restarts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from ..errors import (
    BadReplyError,
    BadRequestError,
    DeadlineError,
    NotFoundError,
    ProxyTimeoutError,
    RateLimitError,
    RelayServerError,
    TaskUnknownError,
    TransportError,
    UnavailableError,
)
from ..events import Event, Failed, Generating, Progress, Queued, Understood, VideoReady
from ..kinds import Kind
from ..settings import Settings
from .taskstatus import TaskStatus

RETRYABLE = (TransportError, RelayServerError, ProxyTimeoutError, UnavailableError, BadReplyError)
UNKNOWN_AFTER = 3  # consecutive 404s before the task counts as unknown (a new id may lag)
UNKNOWN_TASK = "task_not_exist"
MAX_RETRY_AFTER = 120.0
POLICY_WORDS = ("policy", "moderation", "sentinel", "违规", "审核", "safety")


class StatusEvents:
    """Turns successive statuses into events, each change once."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.percent: float | None = None
        self.position: int | None = None
        self.applied: tuple | None = None

    def read(self, status: TaskStatus) -> list[Event]:
        events: list[Event] = []
        applied = (status.prompt, status.width, status.height, status.seconds)
        if any(v is not None for v in applied) and applied != self.applied:
            self.applied = applied
            events.append(
                Understood(
                    prompt=status.prompt,
                    duration=status.seconds,
                    width=status.width,
                    height=status.height,
                )
            )
        if status.state == "queued":
            if self.state != "queued" or status.position != self.position:
                events.append(Queued(status.message or status.word, status.position))
            self.position = status.position
        elif status.state == "running" and self.state != "running":
            events.append(Generating(status.word))
        # Only a running task's progress is news: a queued one reports 0 (unified, OpenAI), and
        # a Progress event would show it as generating and lose its place in the queue.
        if (
            status.state == "running"
            and status.percent is not None
            and status.percent != self.percent
        ):
            self.percent = status.percent
            events.append(Progress(status.percent, status.word))
        self.state = status.state
        return events


def failure_of(status: TaskStatus) -> Failed:
    text = status.message.lower()
    kind = Kind.CONTENT_POLICY if any(w in text for w in POLICY_WORDS) else Kind.RELAY
    return Failed(status.message, kind)


async def follow_task(
    poll: Callable[[], Awaitable[TaskStatus]],
    settings: Settings,
    *,
    deadline: float,
    first_delay: float,
    done: Callable[[TaskStatus], VideoReady | None],
) -> AsyncIterator[Event]:
    """Poll until the task ends; the last event is VideoReady or Failed.

    ``deadline`` is wall-clock (``time.time()``); ``done`` turns a finished status into the
    video's location (None: finished without a link, which is a failure)."""
    interval = settings.poll_interval
    reader = StatusEvents()
    unknown = 0
    delay = first_delay
    while True:
        await asyncio.sleep(max(0.0, min(delay, deadline - time.time())))
        if time.time() >= deadline:
            raise DeadlineError("deadline")
        try:
            status = await poll()
        except RateLimitError as err:
            delay = _retry_after(err.retry_after, interval, settings)
            continue
        except (NotFoundError, BadRequestError) as err:
            # new-api's dialect answers an unknown id with 400 "task_not_exist"
            # (docs/model-families.md, "What new-api answers"): the same as a 404 here.
            if isinstance(err, BadRequestError) and UNKNOWN_TASK not in err.relay_text:
                raise
            unknown += 1
            if unknown >= UNKNOWN_AFTER:
                raise TaskUnknownError(
                    "unknown", relay_text=err.relay_text, status=err.status
                ) from err
            delay = interval
            continue
        except RETRYABLE:
            delay = interval = min(interval * 1.5, settings.poll_max_interval)
            continue
        unknown = 0
        for event in reader.read(status):
            yield event
        if status.state == "done":
            video = done(status)
            yield video if video is not None else Failed("", Kind.NO_VIDEO)
            return
        if status.state == "failed":
            yield failure_of(status)
            return
        if status.state == "queued":
            interval = min(interval * 1.3, settings.poll_max_interval)
        else:
            interval = settings.poll_interval
        delay = interval


def _retry_after(value: str | None, interval: float, settings: Settings) -> float:
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        seconds = 0.0
    if seconds != seconds or seconds <= 0:
        seconds = max(interval, settings.poll_max_interval)
    return min(seconds, MAX_RETRY_AFTER)
