"""``POST /v1/chat/completions``: scripted video generations, and prompt help for text models.

A video model (or a request without a model) plays the next pushed script, else the relay's
default script. A text model (``gpt-4o-mini``, …) answers an ordinary assistant message: the
user's last message rewritten with camera, light, motion and sound detail, in Chinese when the
message holds CJK characters — the "improve my prompt" button of the app.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..families import is_video_model
from . import account
from .conn import STREAM_HEAD, Conn, json_bytes
from .steps import (
    Content,
    Data,
    Done,
    Drop,
    Finish,
    RecordedRequest,
    Reply,
    Script,
    Send,
    Sleep,
    Stamp,
    Step,
    completion_chunk,
    error_body,
    request_model,
    user_prompt,
)

if TYPE_CHECKING:
    from .server import SimRelay

log = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat/completions"


@dataclass
class _Ctx:
    chunk_id: str
    created: int
    model: str

    def kw(self) -> dict[str, Any]:
        return {"model": self.model, "chunk_id": self.chunk_id, "created": self.created}


async def handle(relay: SimRelay, conn: Conn, req: RecordedRequest) -> None:
    try:
        payload = req.json()
    except ValueError:
        payload = None
    streaming = not (isinstance(payload, dict) and payload.get("stream") is False)
    model = request_model(req, default="")
    ctx = _Ctx(f"chatcmpl-{secrets.token_hex(12)}", int(time.time()), model or "sora-2")
    if model and not is_video_model(model):
        script = prompt_help_script(user_prompt(req))
        await (
            _stream(relay, conn, script, ctx) if streaming else _collect(relay, conn, script, ctx)
        )
        return
    relay.book.creates.append(("chat", req))
    refusal = relay.refuse_format("chat", ctx.model, req)
    if refusal is not None:
        await conn.respond(*refusal)
        return
    try:
        script = relay.next_script(req)
    except Exception as err:
        log.exception("simrelay: script factory failed")
        await conn.respond(500, error_body(f"simrelay script error: {err}", "server_error"))
        return
    first = next((s for s in script if not isinstance(s, Sleep)), None)
    if not (isinstance(first, Reply) and first.status >= 400):
        unpaid = account.charge(relay)
        if unpaid is not None:
            await conn.respond(403, unpaid)
            return
    if script and isinstance(script[0], Reply):
        await _reply(conn, script[0])
    elif streaming:
        await _stream(relay, conn, script, ctx)
    else:
        await _collect(relay, conn, script, ctx)


async def _reply(conn: Conn, reply: Reply) -> None:
    await conn.respond(reply.status, reply.body, reply.content_type, reply.headers)


def _encode(step: Step, ctx: _Ctx) -> bytes:
    if isinstance(step, Send):
        return step.data
    if isinstance(step, Data):
        payload = step.payload
    elif isinstance(step, Done):
        payload = "[DONE]"
    elif isinstance(step, Finish):
        payload = completion_chunk({}, step.reason, **ctx.kw())
    elif isinstance(step, Stamp):
        text = step.template.format(now=time.time())
        payload = completion_chunk({step.field: text}, **ctx.kw())
    elif isinstance(step, Content):
        payload = completion_chunk({step.field: step.text}, **ctx.kw())
    else:
        raise TypeError(f"not a byte step: {step!r}")
    return b"data: " + payload.encode() + b"\n\n"


async def _stream(relay: SimRelay, conn: Conn, script: Script, ctx: _Ctx) -> None:
    started = False
    for step in script:
        if conn.gone:
            return
        if isinstance(step, Sleep):
            if not await conn.sleep(step.seconds / relay.speed):
                return
            continue
        if isinstance(step, Drop):
            conn.drop()
            return
        if isinstance(step, Reply):  # validate() guarantees nothing was sent yet
            await _reply(conn, step)
            return
        if not started:
            started = True
            if not await conn.write(STREAM_HEAD):
                return
        data = _encode(step, ctx)
        if data and not await conn.write(b"%x\r\n%b\r\n" % (len(data), data)):
            return
    if conn.gone:
        return
    conn.finish()
    await conn.write((b"" if started else STREAM_HEAD) + b"0\r\n\r\n")


async def _collect(relay: SimRelay, conn: Conn, script: Script, ctx: _Ctx) -> None:
    texts: list[str] = []
    finish = "stop"
    for step in script:
        if conn.gone:
            return
        if isinstance(step, Sleep):
            if not await conn.sleep(step.seconds / relay.speed):
                return
        elif isinstance(step, Drop):
            conn.drop()
            return
        elif isinstance(step, Reply):
            await _reply(conn, step)
            return
        elif isinstance(step, Content) and step.field == "content":
            texts.append(step.text)
        elif isinstance(step, Stamp) and step.field == "content":
            texts.append(step.template.format(now=time.time()))
        elif isinstance(step, Finish):
            finish = step.reason
    content = "".join(texts)
    body = {
        "id": ctx.chunk_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": 14,
            "completion_tokens": len(content),
            "total_tokens": 14 + len(content),
        },
    }
    await conn.respond(200, json_bytes(body))


# ----------------------------------------------------------------------------------- prompt help

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_DETAIL_EN = (
    "Slow dolly-in at eye level on a 35 mm lens, shallow depth of field; "
    "warm golden-hour light with soft shadows and a gentle rim light; "
    "natural, unhurried motion — hair and fabric stir in a light breeze; "
    "sound: soft ambient wind, distant birdsong and footsteps close to the camera."
)
_DETAIL_ZH = (
    "镜头：平视角度，35毫米镜头缓慢推近，浅景深；"
    "光线：温暖的黄昏光，柔和阴影，淡淡的轮廓光；"
    "动作：自然舒缓，发丝和衣角随微风轻轻摆动；"
    "声音：轻柔的风声、远处的鸟鸣和靠近镜头的脚步声。"
)


def improve_prompt(prompt: str) -> str:
    """The prompt with camera, light, motion and sound detail, in the prompt's language."""
    text = prompt.strip()
    if _CJK.search(text):
        return f"{text.rstrip('。.')}。{_DETAIL_ZH}" if text else _DETAIL_ZH
    return f"{text.rstrip('.')}. {_DETAIL_EN}" if text else _DETAIL_EN


def prompt_help_script(prompt: str) -> Script:
    """The improved prompt streamed in small pieces over about a second (at speed 1)."""
    text = improve_prompt(prompt)
    steps: Script = []
    pieces = [text[i : i + 6] for i in range(0, len(text), 6)]
    for piece in pieces:
        steps += [Sleep(1.0 / len(pieces)), Content(piece)]
    return [*steps, Finish("stop"), Done()]
