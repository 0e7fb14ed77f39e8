"""The task formats: create a task, then poll it (see ``docs/model-families.md``).

* unified: ``POST /v1/video/create`` → ``{"id": "<model>:task_…", "status": "pending"}``, polled
  with ``GET /v1/video/query?id=…`` (progress a 0–1 float under ``detail.pending_info``);
* its new-api dialect: ``POST /v1/video/generations`` → ``{"task_id": …}``, polled with
  ``GET /v1/video/generations/{task_id}`` — the documented flat body by default, new-api's
  ``{"code": "success", "data": <task>}`` envelope when ``relay.generations_shape`` is
  ``"envelope"``;
* OpenAI: ``POST /v1/videos`` (multipart or JSON) → a video object, ``GET /v1/videos/{id}``,
  ``GET /v1/videos/{id}/content`` and ``POST /v1/videos/{id}/remix``.

Any id this relay made can be polled on any of the poll routes; each answers in its own shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..families import Family, family_for, openai_size
from . import account
from .conn import Conn, invalid_url_body, json_bytes, not_found
from .forms import FormError, flag, number, read_fields
from .plans import PRIVATE, REMIX, Frame, TaskRef, decode
from .shapes import (
    ENVELOPE_WORDS,
    apply_raw,
    elapsed,
    link,
    render_generations,
    render_openai,
    render_unified,
)
from .steps import Drop, RecordedRequest, Reply, Script, Sleep, error_body

if TYPE_CHECKING:
    from .server import SimRelay

TASK_NOT_EXIST = {"code": "task_not_exist", "message": "task_not_exist", "data": None}


async def play_reply(relay: SimRelay, conn: Conn, script: Script) -> None:
    """Play a reply script: Sleeps, then a ``Reply`` (or a ``Drop``)."""
    for step in script:
        if isinstance(step, Sleep):
            if not await conn.sleep(step.seconds / relay.speed):
                return
        elif isinstance(step, Drop):
            conn.drop()
            return
        elif isinstance(step, Reply):
            await conn.respond(step.status, step.body, step.content_type, step.headers)
            return
    await conn.respond(500, error_body("simrelay: the reply script answered nothing"))


# -------------------------------------------------------------------------------------- creates


async def _begin_create(
    relay: SimRelay, conn: Conn, req: RecordedRequest, fmt: str, need_model: bool = True
) -> dict[str, Any] | None:
    """Record the create and answer everything that comes before a task exists; the request's
    fields when a task may be made."""
    relay.book.creates.append((fmt, req))
    if fmt not in relay.formats:
        await conn.respond(404, invalid_url_body(req))
        return None
    if relay.book.create_replies:
        await play_reply(relay, conn, relay.book.create_replies.popleft())
        return None
    try:
        fields = read_fields(req)
    except FormError as err:
        await conn.respond(400, error_body(str(err), "invalid_request_error"))
        return None
    model = str(fields.get("model") or "").strip()
    if need_model:
        problem = _model_problem(relay, fmt, model, req)
        if problem is not None:
            await conn.respond(*problem)
            return None
    if not str(fields.get("prompt") or "").strip():
        await conn.respond(400, error_body("prompt is required", "invalid_request_error"))
        return None
    fields["model"] = model
    return fields


def _model_problem(
    relay: SimRelay, fmt: str, model: str, req: RecordedRequest
) -> tuple[int, bytes] | None:
    if not model:
        return 400, error_body("model is required", "invalid_request_error")
    if model not in relay.models:
        message = f"当前分组 default 下对于模型 {model} 无可用渠道"
        return 503, error_body(message, "new_api_error", "model_not_found")
    return relay.refuse_format(fmt, model, req)


async def _paid(relay: SimRelay, conn: Conn) -> bool:
    unpaid = account.charge(relay)
    if unpaid is not None:
        await conn.respond(403, unpaid)
        return False
    return True


def _dimensions(orientation: Any, size: Any, family: Family) -> tuple[int, int]:
    default = family.sizes[0] if family.sizes else "small"
    orientation = str(orientation or "landscape").lower()
    text = openai_size(orientation, str(size or default)) or openai_size(orientation, "small")
    assert text is not None
    width, _, height = text.partition("x")
    return int(width), int(height)


def _ratio_orientation(ratio: Any) -> str | None:
    try:
        wide, high = (float(x) for x in str(ratio).split(":"))
    except ValueError:
        return None
    return "portrait" if high > wide else "square" if high == wide else "landscape"


async def unified_create(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    fields = await _begin_create(relay, conn, req, "unified")
    if fields is None or not await _paid(relay, conn):
        return
    family = family_for(fields["model"])
    width, height = _dimensions(fields.get("orientation"), fields.get("size"), family)
    seconds = number(fields.get("duration")) or family.default_duration or 10
    bits = PRIVATE if flag(fields.get("private")) else 0
    ref = relay.book.new(
        "unified", fields["model"], width, height, seconds, bits, prompt=fields["prompt"]
    )
    body = {"id": ref.id, "status": "pending", "status_update_time": int(ref.created * 1000)}
    await conn.respond_json(200, body)


async def generations_create(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    fields = await _begin_create(relay, conn, req, "unified")
    if fields is None or not await _paid(relay, conn):
        return
    meta = fields.get("metadata") if isinstance(fields.get("metadata"), dict) else {}
    ratio = meta.get("aspect_ratio") or meta.get("aspectRatio") or meta.get("ratio")
    orientation = _ratio_orientation(ratio or fields.get("aspect_ratio")) or fields.get(
        "orientation"
    )
    size = fields.get("size") or meta.get("resolution")
    family = family_for(fields["model"])
    seconds = (
        number(fields.get("duration"))
        or number(fields.get("seconds"))
        or number(meta.get("durationSeconds"))
        or family.default_duration
        or 5
    )
    width, height = _dimensions(orientation, size, family)
    ref = relay.book.new(
        "generations", fields["model"], width, height, seconds, prompt=fields["prompt"]
    )
    body = {
        "id": ref.id,
        "task_id": ref.id,
        "object": "video",
        "model": fields["model"],
        "status": "queued",
        "progress": 0,
        "created_at": int(ref.created),
    }
    await conn.respond_json(200, body)


async def openai_create(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    fields = await _begin_create(relay, conn, req, "openai")
    if fields is None or not await _paid(relay, conn):
        return
    family = family_for(fields["model"])
    default = "720x1280" if family.key.startswith("sora") else "1280x720"
    size = openai_size("landscape", str(fields.get("size") or default)) or default
    width, height = (int(x) for x in size.split("x"))
    seconds = number(fields.get("seconds")) or family.default_duration or 4
    bits = PRIVATE if flag(fields.get("private")) else 0
    image = "input_reference" in req.files or bool(fields.get("input_reference"))
    ref = relay.book.new(
        "openai",
        fields["model"],
        width,
        height,
        seconds,
        bits,
        prompt=fields["prompt"],
        image=image,
    )
    await conn.respond_json(200, render_openai(relay, ref, Frame(0, "queued", 0)))


async def openai_remix(relay: SimRelay, conn: Conn, req: RecordedRequest, video_id: str) -> None:
    fields = await _begin_create(relay, conn, req, "openai", need_model=False)
    if fields is None:
        return
    source = decode(video_id)
    if source is None:
        await conn.respond(404, error_body("Task not found", "invalid_request_error"))
        return
    model = relay.book.model(source)
    problem = _remix_problem(relay, source, model)
    if problem:
        await conn.respond(400, error_body(problem, "invalid_request_error"))
        return
    if not await _paid(relay, conn):
        return
    ref = relay.book.new(
        "openai",
        model,
        source.width,
        source.height,
        source.seconds,
        REMIX,
        prompt=fields["prompt"],
        remixed_from=video_id,
    )
    await conn.respond_json(200, render_openai(relay, ref, Frame(0, "queued", 0)))


def _remix_problem(relay: SimRelay, source: TaskRef, model: str) -> str | None:
    if not family_for(model).remix:
        return f"model {model} cannot remix a video"
    if source.private:
        return "a private video cannot be remixed"
    if relay.book.plan(source).state_at(elapsed(relay, source)).state != "done":
        return "the video to remix is not completed yet"
    return None


# ---------------------------------------------------------------------------------------- polls


async def _poll(relay: SimRelay, conn: Conn, req: RecordedRequest, task_id: str, render) -> bool:
    """Answer a poll of a known task; False when the id is not one of this relay's."""
    relay.book.polls.setdefault(task_id, []).append(req)
    if task_id in relay.tasks:  # a body a test set by hand
        await conn.respond_json(200, relay.tasks[task_id])
        return True
    ref = decode(task_id)
    if ref is None:
        return False
    frame = relay.book.plan(ref).frame_at(elapsed(relay, ref))
    if frame.reply is not None:
        await play_reply(relay, conn, frame.reply)
    else:
        await conn.respond_json(200, apply_raw(render(relay, ref, frame), frame.raw))
    return True


async def unified_query(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    if not await _poll(relay, conn, req, req.params.get("id", ""), render_unified):
        await conn.respond(404, not_found())


async def generations_fetch(
    relay: SimRelay, conn: Conn, req: RecordedRequest, task_id: str
) -> None:
    if not await _poll(relay, conn, req, task_id, render_generations):
        await conn.respond_json(400, TASK_NOT_EXIST)


async def openai_get(relay: SimRelay, conn: Conn, req: RecordedRequest, video_id: str) -> None:
    if not await _poll(relay, conn, req, video_id, render_openai):
        await conn.respond(404, error_body("Task not found", "invalid_request_error"))


async def openai_content(relay: SimRelay, conn: Conn, req: RecordedRequest, video_id: str) -> None:
    thumbnail = req.params.get("variant", "video") in ("thumbnail", "spritesheet")
    manual = relay.tasks.get(video_id)
    if manual is not None:  # a body a test set by hand: send its link on
        url = manual.get("video_url") or manual.get("url")
        if isinstance(url, str) and url:
            await conn.respond(302, b"", "", (("Location", url),))
        else:
            await conn.respond(404, not_found())
        return
    ref = decode(video_id)
    if ref is None:
        await conn.respond(404, error_body("Task not found", "invalid_request_error"))
        return
    plan = relay.book.plan(ref)
    frame = plan.state_at(elapsed(relay, ref))
    if frame.state != "done":
        word = ENVELOPE_WORDS.get(frame.state, "FAILURE")
        message = f"Task is not completed yet, current status: {word}"
        await conn.respond(400, error_body(message, "invalid_request_error"))
        return
    mode = plan.content if plan.content is not None else relay.content_mode
    if isinstance(mode, list):
        await play_reply(relay, conn, mode)
        return
    name = "thumb.webp" if thumbnail else "sample.mp4"
    target = link(relay, frame.thumbnail_url if thumbnail else frame.video_url, name)
    target = target or f"{relay.base_url}/files/{name}"
    if mode == "redirect":
        await conn.respond(302, b"", "", (("Location", target),))
    elif mode == "json":
        key = "thumbnail_url" if thumbnail else "video_url"
        await conn.respond(200, json_bytes({key: target}))
    else:
        await relay.send_file(conn, req, name)
