"""Task-status replies → one small value. Pure.

Field names vary between relays (docs/relay-protocol.md, "Unified task format" and "OpenAI
task format"), so every reader here accepts what is shown there and tolerates the rest:

- the unified format (``/v1/video/query``): ``status``, ``video_url``, ``thumbnail_url``,
  ``enhanced_prompt``, ``width``/``height``, progress as a 0–1 float under
  ``detail.pending_info.progress_pct``, queue position, ``failure_reason``;
- new-api's dialect (``/v1/video/generations/{id}``): ``status`` in capitals, ``url``,
  ``progress`` as ``"50%"``, ``error``/``fail_reason``;
- the OpenAI format (``/v1/videos/{id}``): ``status`` queued | in_progress | completed | failed,
  ``progress`` 0–100, ``error.message``.

An unknown status word means "still running", never "failed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ..textsafe import clean_text

DONE_WORDS = frozenset({"completed", "complete", "succeeded", "success", "done", "finished"})
FAILED_WORDS = frozenset(
    {
        "failed",
        "failure",
        "error",
        "fail",
        "video_generation_failed",
        "video_upsampling_failed",
        "cancelled",
        "canceled",
        "expired",
        "rejected",
    }
)
QUEUED_WORDS = frozenset(
    {"pending", "queued", "queueing", "submitted", "not_start", "waiting", "in_queue", "created"}
)
PERCENT_TEXT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$")
URL = re.compile(r"https?://\S+")
State = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class TaskStatus:
    state: State
    word: str = ""  # the relay's own status word (lower case), for Details
    percent: float | None = None
    position: int | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    message: str = ""  # a failure reason, or the queue message
    prompt: str | None = None  # the enhanced prompt the relay applied
    width: int | None = None
    height: int | None = None
    seconds: int | None = None


def _scopes(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Where a field may sit: the top level, ``data``, ``detail`` and ``pending_info``."""
    found = [data]
    for name in ("data", "detail", "metadata", "output"):
        inner = data.get(name)
        if isinstance(inner, dict):
            found.append(inner)
            pending = inner.get("pending_info")
            if isinstance(pending, dict):
                found.append(pending)
    return found


def _first(scopes: list[dict[str, Any]], *names: str) -> Any:
    for scope in scopes:
        for name in names:
            value = scope.get(name)
            if value not in (None, "", [], {}):
                return value
    return None


def _percent(value: Any, fraction_field: bool) -> float | None:
    """0–1 fractions (``progress_pct``, or any float below 1) and 0–100 numbers or ``"50%"``
    strings all become 0–100."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = PERCENT_TEXT.match(value)
        if not match:
            return None
        value = float(match.group(1))
    if not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    try:
        number = float(value)
    except OverflowError:  # JSON allows integers of thousands of digits
        return None
    if (fraction_field and number <= 1.0) or (isinstance(value, float) and 0 < number < 1):
        number *= 100
    return min(number, 100.0)


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        value = int(value)
    return value if isinstance(value, int) and low <= value <= high else None


def _url(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) and URL.fullmatch(value.strip()) else None


def _reason(scopes: list[dict[str, Any]]) -> str:
    value = _first(scopes, "failure_reason", "fail_reason", "error", "reason", "message")
    if isinstance(value, dict):
        value = value.get("message") or value.get("msg") or value.get("code") or ""
    return clean_text(str(value), 500) if value else ""


def read_status(data: Any) -> TaskStatus:
    """Any task-status reply → :class:`TaskStatus` (a reply that is not an object counts as
    "running": it will be asked again)."""
    if not isinstance(data, dict):
        return TaskStatus("running")
    scopes = _scopes(data)
    raw_word = _first(scopes, "status", "state", "task_status")
    word = raw_word.strip().lower() if isinstance(raw_word, str) else ""
    fraction = _first(scopes, "progress_pct")
    percent = (
        _percent(fraction, True)
        if fraction is not None
        else _percent(_first(scopes, "progress"), False)
    )
    size = _first(scopes, "size", "resolution")
    width, height = (
        _int(_first(scopes, "width"), 1, 10000),
        _int(_first(scopes, "height"), 1, 10000),
    )
    if (width is None or height is None) and isinstance(size, str) and "x" in size.lower():
        w, _, h = size.lower().partition("x")
        width, height = _int(w, 1, 10000), _int(h, 1, 10000)
    prompt = _first(scopes, "enhanced_prompt", "revised_prompt")
    common = {
        "word": clean_text(word, 60),
        "percent": percent,
        "position": _int(
            _first(scopes, "progress_pos_in_queue", "queue_position", "position"), 0, 100000
        ),
        "prompt": clean_text(prompt, 4000) if isinstance(prompt, str) else None,
        "width": width,
        "height": height,
        "seconds": _int(_first(scopes, "seconds", "duration"), 1, 600),
    }
    if word in DONE_WORDS:
        video = _url(_first(scopes, "video_url", "url", "output_url", "result_url", "download_url"))
        thumb = _url(_first(scopes, "thumbnail_url", "cover_url", "thumbnail", "gif_url"))
        return TaskStatus("done", video_url=video, thumbnail_url=thumb, **common)
    if word in FAILED_WORDS:
        return TaskStatus("failed", message=_reason(scopes), **common)
    queue_text = _first(scopes, "queue_status_message")
    message = clean_text(queue_text, 300) if isinstance(queue_text, str) else ""
    if word in QUEUED_WORDS or ((common["position"] or 0) > 0 and not percent):
        return TaskStatus("queued", message=message, **common)
    return TaskStatus("running", message=message, **common)


def task_id_in(data: Any) -> str | None:
    """The task id in a create answer (``id``, ``task_id``, or inside ``data``)."""
    if not isinstance(data, dict):
        return None
    for scope in (data, data.get("data")):
        if isinstance(scope, dict):
            # new-api's task record has both: "id" is its row number, "task_id" the public id
            for name in ("task_id", "taskId", "id"):
                value = scope.get(name)
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                    return str(value)
    return None
