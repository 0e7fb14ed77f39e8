"""How each task format renders a task's current frame (shapes in ``docs/model-families.md``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..families import family_for
from .plans import RELAY_FILE, REMOVE, Frame, TaskRef

if TYPE_CHECKING:
    from .server import SimRelay

_UNIFIED_WORDS = {"queued": "pending", "running": "processing", "done": "completed"}
_FLAT_WORDS = {"queued": "queued", "running": "processing", "done": "succeeded"}
ENVELOPE_WORDS = {"queued": "QUEUED", "running": "IN_PROGRESS", "done": "SUCCESS"}
_OPENAI_WORDS = {"queued": "queued", "running": "in_progress", "done": "completed"}


def elapsed(relay: SimRelay, ref: TaskRef) -> float:
    """Seconds (at speed 1) since the task was created."""
    return (time.time() - ref.created) * relay.speed


def _at(relay: SimRelay, ref: TaskRef, frame: Frame) -> float:
    return ref.created + frame.after / relay.speed


def link(relay: SimRelay, value: Any, name: str) -> str | None:
    if value is RELAY_FILE:
        return f"{relay.base_url}/files/{name}"
    if isinstance(value, str) and value.startswith("/"):
        return relay.base_url + value
    return value


def _percent(frame: Frame) -> float:
    if frame.progress is not None:
        return frame.progress
    return 100.0 if frame.state == "done" else 0.0


def _word(frame: Frame, words: dict[str, str]) -> str:
    return frame.status or words.get(frame.state, "failed")


def apply_raw(body: dict[str, Any], raw: Any) -> dict[str, Any]:
    """Override fields of ``body``; dotted keys reach into objects, ``REMOVE`` deletes."""
    for key, value in dict(raw).items():
        *parents, last = key.split(".")
        node = body
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if value is REMOVE:
            node.pop(last, None)
        else:
            node[last] = value
    return body


def render_unified(relay: SimRelay, ref: TaskRef, frame: Frame) -> dict[str, Any]:
    done = frame.state == "done"
    thumb = link(relay, frame.thumbnail_url, "thumb.webp") if done else None
    queued = frame.state == "queued"
    pending = {
        "progress_pct": round(_percent(frame) / 100, 4),
        "queue_status_message": f"Queued, position {frame.position}" if frame.position else None,
        "progress_pos_in_queue": frame.position if queued else None,
        "failure_reason": frame.reason,
    }
    detail: dict[str, Any] = {"pending_info": pending}
    if done:
        detail["gif_url"] = thumb
    if frame.state == "failed":
        detail["failure_reason"] = frame.reason
    return {
        "id": ref.id,
        "status": _word(frame, _UNIFIED_WORDS),
        "video_url": link(relay, frame.video_url, "sample.mp4") if done else None,
        "thumbnail_url": thumb,
        "enhanced_prompt": relay.book.extra(ref, "prompt"),
        "status_update_time": int(_at(relay, ref, frame) * 1000),
        "width": ref.width,
        "height": ref.height,
        "seconds": ref.seconds,
        "detail": detail,
    }


def render_generations(relay: SimRelay, ref: TaskRef, frame: Frame) -> dict[str, Any]:
    done, failed = frame.state == "done", frame.state == "failed"
    url = (link(relay, frame.video_url, "sample.mp4") if done else None) or ""
    progress = f"{int(_percent(frame))}%"
    if relay.generations_shape != "envelope":
        metadata = {"duration": ref.seconds, "fps": 24, "width": ref.width, "height": ref.height}
        return {
            "task_id": ref.id,
            "status": _word(frame, _FLAT_WORDS),
            "url": url,
            "format": "mp4",
            "metadata": {**metadata, "seed": int(ref.created) % 100000} if done else None,
            "error": {"code": 1, "message": frame.reason or "task failed"} if failed else None,
            "progress": progress,
        }
    at = int(_at(relay, ref, frame))
    task = {
        "id": int(ref.created * 1000) % 1000000,
        "created_at": int(ref.created),
        "updated_at": at,
        "task_id": ref.id,
        "platform": family_for(relay.book.model(ref)).key,
        "user_id": 1,
        "group": "default",
        "channel_id": 1,
        "quota": int(relay.price_per_video * 500000),
        "action": "generate",
        "status": _word(frame, ENVELOPE_WORDS),
        "fail_reason": (frame.reason or "task failed") if failed else "",
        "result_url": url,
        "submit_time": int(ref.created),
        "start_time": int(ref.created) if frame.state != "queued" else 0,
        "finish_time": at if done or failed else 0,
        "progress": progress,
        "properties": {"input": "", "origin_model_name": relay.book.model(ref)},
        "data": {},
    }
    return {"code": "success", "message": "", "data": task}


def render_openai(relay: SimRelay, ref: TaskRef, frame: Frame) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ref.id,
        "object": "video",
        "model": relay.book.model(ref),
        "status": _word(frame, _OPENAI_WORDS),
        "progress": int(_percent(frame)),
        "created_at": int(ref.created),
        "seconds": str(ref.seconds),
        "size": f"{ref.width}x{ref.height}",
    }
    if frame.state == "done":
        body["completed_at"] = int(_at(relay, ref, frame))
        body["expires_at"] = body["completed_at"] + 24 * 3600
    if frame.state == "failed":
        message = frame.reason or "Video generation failed"
        body["error"] = {"message": message, "code": "video_generation_failed"}
    remixed_from = relay.book.extra(ref, "remixed_from")
    if remixed_from:
        body["remixed_from_video_id"] = remixed_from
    return body
