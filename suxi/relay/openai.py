"""The OpenAI video format: ``POST /v1/videos`` (multipart), ``GET /v1/videos/{id}``,
``GET /v1/videos/{id}/content`` and ``POST /v1/videos/{id}/remix``
(docs/relay-protocol.md, "OpenAI task format").

The content endpoint wants the key, so its VideoReady says ``needs_key`` (the key still goes
only to the relay's own origin, also if the endpoint redirects to a CDN or answers JSON naming
one: see :mod:`suxi.relay.fetch`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..events import VideoReady
from ..families import openai_size
from ..generation import GenerationRequest
from .tasks import TaskBackend
from .taskstatus import TaskStatus


class OpenAIBackend(TaskBackend):
    def form(self, request: GenerationRequest) -> list[tuple[str, Any]]:
        """The multipart parts (``(None, value)`` for plain fields, as httpx sends them)."""
        o = request.options
        parts: list[tuple[str, Any]] = [
            ("model", (None, o.model)),
            ("prompt", (None, request.prompt)),
        ]
        if o.duration:
            parts.append(("seconds", (None, str(o.duration))))
        orientation = o.orientation if o.orientation in ("landscape", "portrait") else None
        size = openai_size(orientation, o.size)
        if size:
            parts.append(("size", (None, size)))
        if not o.watermark:
            parts.append(("watermark", (None, "false")))
        if o.private:
            parts.append(("private", (None, "true")))
        if request.image is not None and request.image.data_url:
            parts.append(("input_reference", request.image.file_part()))
        return parts

    async def create(self, request: GenerationRequest, key: str) -> Any:
        if request.remix_of:
            path = f"/v1/videos/{quote(request.remix_of, safe='')}/remix"
            return await self.http.call_json("POST", path, key=key, json={"prompt": request.prompt})
        return await self.http.call_json("POST", "/v1/videos", key=key, files=self.form(request))

    def status_path(self, task_id: str) -> str:
        return f"/v1/videos/{quote(task_id, safe='')}"

    def video_of(self, task_id: str, status: TaskStatus) -> VideoReady | None:
        if status.video_url:
            return VideoReady(status.video_url, status.thumbnail_url)
        content = f"{self.http.base_url}/v1/videos/{quote(task_id, safe='')}/content"
        thumbnail = status.thumbnail_url or f"{content}?variant=thumbnail"
        return VideoReady(content, thumbnail, needs_key=True)
