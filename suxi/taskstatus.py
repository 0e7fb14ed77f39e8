"""Task-status replies → one small value. Pure.

Relays that run the chat endpoint usually also answer the task-style APIs for the same task id
(relay-protocol.md, "Other relay endpoints"): ``GET /v1/video/query?id=…`` (status ``pending`` …
``completed``, ``video_url``, progress as a 0–1 float under ``detail``) and the OpenAI-style
``GET /v1/videos/{id}`` (status ``queued | in_progress | completed | failed``, ``progress``
0–100, content at ``/v1/videos/{id}/content``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parse import BARE_URL

DONE_WORDS = {"completed", "complete", "succeeded", "success", "done", "finished"}
FAILED_WORDS = {"failed", "failure", "error", "cancelled", "canceled", "expired"}


@dataclass(frozen=True)
class TaskStatus:
    state: str  # "done" | "running" | "failed" | "unknown"
    percent: float | None = None
    video_url: str | None = None
    message: str = ""
    content_path: str | None = None  # a relay path that serves the video (OpenAI style)


def _find(data: Any, *keys: str) -> Any:
    """The first of ``keys`` in ``data`` or in its ``data`` / ``detail`` sub-objects."""
    for scope in (data, data.get("data"), data.get("detail")):
        if isinstance(scope, dict):
            for key in keys:
                if scope.get(key) not in (None, ""):
                    return scope[key]
    return None


def interpret(data: Any, task_id: str, openai_style: bool) -> TaskStatus:
    if not isinstance(data, dict):
        return TaskStatus("unknown")
    status = str(_find(data, "status", "state") or "").lower()
    url = _find(data, "video_url", "url", "output_url", "result_url")
    url = url if isinstance(url, str) and BARE_URL.fullmatch(url) else None
    progress = _find(data, "progress", "percent")
    percent: float | None = None
    if isinstance(progress, (int, float)):
        percent = float(progress) * (100 if 0 <= progress <= 1 and not openai_style else 1)
    error = _find(data, "error", "fail_reason", "message")
    message = error.get("message", "") if isinstance(error, dict) else str(error or "")
    if status in DONE_WORDS:
        if url:
            return TaskStatus("done", 100.0, url)
        if openai_style:
            return TaskStatus("done", 100.0, content_path=f"/v1/videos/{task_id}/content")
        return TaskStatus("unknown", percent, message=message)
    if status in FAILED_WORDS:
        return TaskStatus("failed", percent, message=message)
    if status:
        return TaskStatus("running", percent)
    return TaskStatus("unknown", percent, message=message)
