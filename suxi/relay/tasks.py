"""The task formats: create once, then poll (docs/relay-protocol.md, "Unified task format"
and "OpenAI task format").

:class:`TaskBackend` holds what they share — the create call that is never re-sent, the task id
checked before it goes into a URL path, the poll loop — and each format names its routes and
bodies: the unified format (``/v1/video/create`` + ``/v1/video/query``), new-api's dialect of it
(``/v1/video/generations``) and, in :mod:`suxi.relay.openai`, the OpenAI format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from ..errors import BadRequestError, InputError, NoTaskIdError
from ..events import Event, TaskInfo, VideoReady
from ..generation import GenerationRequest, is_task_id
from ..kinds import Kind
from .http import RelayHTTP
from .polling import follow_task
from .taskstatus import TaskStatus, read_status, task_id_in


class TaskBackend:
    def __init__(self, http: RelayHTTP) -> None:
        self.http = http

    # — what a format defines —

    async def create(self, request: GenerationRequest, key: str) -> Any:
        raise NotImplementedError

    def status_path(self, task_id: str) -> str:
        raise NotImplementedError

    def video_of(self, task_id: str, status: TaskStatus) -> VideoReady | None:
        if not status.video_url:
            return None
        return VideoReady(status.video_url, status.thumbnail_url)

    # — shared —

    async def poll(self, task_id: str, key: str) -> TaskStatus:
        return read_status(await self.http.call_json("GET", self.status_path(task_id), key=key))

    async def run(
        self,
        request: GenerationRequest,
        key: str,
        *,
        task_id: str | None = None,
        deadline: float,
        first_delay: float = 0.0,
    ) -> AsyncIterator[Event]:
        """Create the task (unless resuming ``task_id``), then follow it to the end."""
        if task_id is None:
            try:
                answer = await self.create(request, key)
            except BadRequestError as err:
                if request.image is not None and request.image.data_url and _about_image(err):
                    raise InputError(Kind.IMAGE_NEEDS_LINK, relay_text=err.relay_text) from err
                raise
            task_id = task_id_in(answer)
            if not task_id or not is_task_id(task_id):
                # Accepted, maybe charged, but nothing to follow: never sent again.
                shown = json.dumps(answer, ensure_ascii=False)[:200] if task_id else ""
                raise NoTaskIdError("no id", relay_text=shown)
            yield TaskInfo(task_id)
            first_delay = self.http.settings.poll_interval
        elif not is_task_id(task_id):
            raise NoTaskIdError("bad id")
        checked = task_id
        async for event in follow_task(
            lambda: self.poll(checked, key),
            self.http.settings,
            deadline=deadline,
            first_delay=first_delay,
            done=lambda status: self.video_of(checked, status),
        ):
            yield event


def _about_image(err: BadRequestError) -> bool:
    text = err.relay_text.lower()
    return any(w in text for w in ("image", "images", "picture", "图片", "base64", "data:"))


def asked_fields(request: GenerationRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options as the task formats name them: (length and size; orientation, watermark and
    privacy). The unified format takes both at the top level; new-api's dialect puts the second
    group under ``metadata``. Only what was asked is sent: the relay's defaults stand."""
    o = request.options
    main: dict[str, Any] = {}
    if o.duration:
        main["duration"] = o.duration
    if o.size:
        main["size"] = o.size
    extra: dict[str, Any] = {}
    if o.orientation in ("landscape", "portrait", "square"):
        extra["orientation"] = o.orientation
    if not o.watermark:
        extra["watermark"] = False
    if o.private:
        extra["private"] = True
    return main, extra


class UnifiedBackend(TaskBackend):
    """``POST /v1/video/create`` → ``{"id": "<model>:task_…"}``; ``GET /v1/video/query?id=``."""

    async def create(self, request: GenerationRequest, key: str) -> Any:
        main, extra = asked_fields(request)
        body: dict[str, Any] = {"model": request.options.model, "prompt": request.prompt}
        if request.image is not None:
            body["images"] = [request.image.url]
        body |= main | extra
        return await self.http.call_json("POST", "/v1/video/create", key=key, json=body)

    def status_path(self, task_id: str) -> str:
        return f"/v1/video/query?id={quote(task_id, safe='')}"


class GenerationsBackend(TaskBackend):
    """new-api's own name for the unified format: ``POST /v1/video/generations`` →
    ``{"task_id": …}``; ``GET /v1/video/generations/{task_id}``."""

    async def create(self, request: GenerationRequest, key: str) -> Any:
        main, extra = asked_fields(request)
        body: dict[str, Any] = {"model": request.options.model, "prompt": request.prompt}
        if request.image is not None:
            body["image"] = request.image.url
        body |= main
        if extra:
            body["metadata"] = extra
        return await self.http.call_json("POST", "/v1/video/generations", key=key, json=body)

    def status_path(self, task_id: str) -> str:
        return f"/v1/video/generations/{quote(task_id, safe='')}"
