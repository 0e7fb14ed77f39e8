"""The vocabulary of chat-completion scripts, and the request the relay recorded.

A *script* is a list of steps, run in order for one ``POST /v1/chat/completions``:

* streaming (the default): the ``200 text/event-stream`` head is written lazily, just before the
  first step that produces bytes, so ``[Sleep(9), Drop()]`` is a connection that dies before any
  response and ``[Sleep(120), Reply(524, …)]`` is a proxy giving up. Each byte-producing step is
  one HTTP chunk; the terminating zero chunk follows the last step unless a ``Drop`` came first.
  An empty ``Send(b"")`` writes nothing (a zero-length chunk would end the body).
* ``"stream": false`` in the request body: Sleeps run, ``Content``/``Stamp`` texts of field
  ``content`` are joined into one ``chat.completion``; ``Drop`` and ``Reply`` are honoured.
* ``Reply`` must come before any byte-producing step (only Sleeps may precede it); steps after it
  are ignored.
* ``Stamp(template)`` is a ``Content`` whose text is ``template.format(now=time.time())``,
  evaluated when the chunk is sent (literal braces in the template must be doubled).

The task formats reuse ``Reply``/``Sleep``/``Drop`` for scripted create answers and poll faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Send:
    """Raw bytes, written as they are as one HTTP chunk (split UTF-8, odd framing, comments)."""

    data: bytes


@dataclass(frozen=True)
class Data:
    """One SSE frame: ``data: <payload>\\n\\n``."""

    payload: str


@dataclass(frozen=True)
class Content:
    """A ``chat.completion.chunk`` with ``choices[0].delta[field] = text``."""

    text: str
    field: str = "content"


@dataclass(frozen=True)
class Stamp:
    """A ``Content`` whose text is ``template.format(now=time.time())`` at send time."""

    template: str
    field: str = "content"


@dataclass(frozen=True)
class Finish:
    """A chunk with an empty delta and this ``finish_reason``."""

    reason: str = "stop"


@dataclass(frozen=True)
class Done:
    """``data: [DONE]``."""


@dataclass(frozen=True)
class Sleep:
    """Wait, divided by the relay's speed; ends early when the client goes away."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Close the connection now, without the terminating chunk (or without any response)."""


@dataclass(frozen=True)
class Reply:
    """A whole non-streaming response. ``headers`` override the defaults of the same name."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    time: float  # time.monotonic() once the whole request was read
    form: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: dict[str, tuple[str, str, bytes]] = field(
        default_factory=dict
    )  # name: (file, type, data)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query, keep_blank_values=True).items()}


Step = Send | Data | Content | Stamp | Finish | Done | Sleep | Drop | Reply
Script = list[Step]
ScriptFactory = Callable[[RecordedRequest, str], Script]
BYTE_STEPS = (Send, Data, Content, Stamp, Finish, Done)


def validate(script: Script) -> Script:
    """Raise ValueError for a script the relay cannot play; return it unchanged."""
    if not isinstance(script, list):
        raise ValueError(f"a script is a list of steps, got {type(script).__name__}")
    for i, step in enumerate(script):
        if not isinstance(step, (*BYTE_STEPS, Sleep, Drop, Reply)):
            raise ValueError(f"step {i} is not a step: {step!r}")
        if isinstance(step, Reply) and any(isinstance(s, BYTE_STEPS) for s in script[:i]):
            raise ValueError(f"step {i}: Reply after bytes were sent")
    return script


def completion_chunk(
    delta: dict[str, Any],
    finish_reason: str | None = None,
    *,
    model: str = "sora-2",
    chunk_id: str = "",
    created: int = 0,
    go_escape: bool = False,
    extra: dict[str, Any] | None = None,
) -> str:
    """The JSON of one ``chat.completion.chunk`` (``go_escape``: ``<>&`` as Go writes them)."""
    obj: dict[str, Any] = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if extra:
        obj.update(extra)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if go_escape:
        # These characters only occur inside JSON strings, so a blind replace is exact.
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def error_body(message: str, type: str = "new_api_error", code: str = "") -> bytes:
    """A new-api style error object."""
    err = {"error": {"message": message, "type": type, "code": code}}
    return json.dumps(err, ensure_ascii=False).encode()


def error_reply(
    status: int,
    body: bytes | str | dict[str, Any] = b"",
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> Script:
    """A script that answers one whole error (or any) response."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode()
    return [Reply(status, body, content_type, tuple(headers))]


def user_prompt(request: RecordedRequest) -> str:
    """The text of the last user message (joined ``text`` parts when content is a list)."""
    try:
        payload = request.json()
    except ValueError:
        return ""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return ""


def request_model(request: RecordedRequest, default: str = "sora-2") -> str:
    """The ``model`` of a JSON request body, or ``default``."""
    try:
        model = request.json().get("model")
    except (ValueError, AttributeError):
        return default
    return model if isinstance(model, str) and model else default
