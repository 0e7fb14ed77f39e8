"""Light visitors: many in one asyncio loop, over httpx, speaking the app's wire protocols.

* :func:`queue_call` — any Gradio event as a browser or gradio_client sends it (read from the
  installed ``gradio/routes.py`` and ``gradio_client/client.py``): ``POST
  /gradio_api/queue/join`` with ``{data, fn_index, session_hash}``, then ``GET
  /gradio_api/queue/data?session_hash=…``, a Server-Sent Events stream of JSON messages
  (``estimation``, ``process_starts``, ``process_generating`` — whose outputs after the first
  are diffs, applied here with gradio_client's own ``apply_diff`` — ``heartbeat``,
  ``process_completed``, ``close_stream``). Like both clients it also holds ``GET
  /gradio_api/heartbeat/<session>`` open while the call runs.
* :func:`page_start` and :func:`follow_page` — the page's own path: Generate as the page's
  (private) Gradio event, then ``POST /suxi/follow`` for the cards.

Each message is stamped with ``time.time()`` the moment its bytes were read: the wire time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from gradio_client.utils import apply_diff

PREFIX = "gradio_api/"


def new_http(timeout: float = 60.0, local_address: str | None = None) -> httpx.AsyncClient:
    """A client for many visitors: its pool opens a connection per open stream.
    ``local_address``: connect from this loopback address (127.x.y.z all reach the app)."""
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(
            local_address=local_address,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        ),
        timeout=httpx.Timeout(None, connect=timeout, pool=None),
        trust_env=False,
    )


class Addresses:
    """A client per group of visitors, each group from its own loopback address, so that the
    app's per-address limits (32 follow streams, suxi/web/routes.py) see many visitors as the
    many addresses they would come from, not one."""

    def __init__(self, per_address: int = 8, timeout: float = 120.0) -> None:
        self.per_address = per_address
        self.timeout = timeout
        self.clients: dict[str, httpx.AsyncClient] = {}

    def for_visitor(self, index: int) -> httpx.AsyncClient:
        group = index // self.per_address
        address = f"127.0.{1 + group // 250}.{1 + group % 250}"
        if address not in self.clients:
            self.clients[address] = new_http(self.timeout, address)
        return self.clients[address]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


class GradioApp:
    """What a client learns from the app before calling it: ``/config`` and ``/info``."""

    def __init__(self, url: str) -> None:
        self.url = url if url.endswith("/") else url + "/"
        with httpx.Client(timeout=60, trust_env=False) as http:
            self.config = http.get(self.url + "config").raise_for_status().json()
            self.info = http.get(self.url + PREFIX + "info").raise_for_status().json()
        self.components = {c["id"]: c for c in self.config["components"]}

    def fn_index(self, api_name: str) -> int:
        for dep in self.config["dependencies"]:
            if dep.get("api_name") == api_name.lstrip("/"):
                return int(dep["id"])
        raise KeyError(f"the app has no event {api_name}")

    def has(self, api_name: str) -> bool:
        return any(d.get("api_name") == api_name.lstrip("/") for d in self.config["dependencies"])

    def api_data(self, api_name: str, **values: Any) -> list[Any]:
        """The positional data of a documented endpoint, defaults filled in from ``/info``."""
        params = self.info["named_endpoints"]["/" + api_name.lstrip("/")]["parameters"]
        names = [p["parameter_name"] for p in params]
        unknown = set(values) - set(names)
        if unknown:
            raise KeyError(f"/{api_name} takes no {sorted(unknown)}")
        return [values.get(p["parameter_name"], p.get("parameter_default")) for p in params]

    def page_start(self, prompt: str, visitor: str) -> tuple[int, list[Any]]:
        """The page's Generate event and its inputs as the page's script fills them."""
        fn = self.fn_index("start")
        dep = next(d for d in self.config["dependencies"] if d["id"] == fn)
        facts = json.dumps({"visitor": visitor, "lang": "en", "confirmed": True})
        data = []
        for cid in dep["inputs"]:
            props = self.components[cid].get("props", {})
            value = props.get("value")
            if props.get("elem_id") == "prompt":
                value = prompt
            elif value == "__page__":
                value = facts
            data.append(value)
        return fn, data


@dataclass
class Call:
    """One Gradio event as a visitor saw it."""

    name: str
    session: str
    joined: float = 0.0  # the join POST was sent
    event_id: str | None = None
    kinds: list[tuple[float, str]] = field(default_factory=list)  # every message: (wire, msg)
    outputs: list[tuple[float, list[Any]]] = field(default_factory=list)  # process_generating
    result: list[Any] | None = None
    completed: float | None = None
    success: bool = False
    error: str | None = None
    bytes: int = 0

    @property
    def latency(self) -> float | None:
        return None if self.completed is None else self.completed - self.joined

    def count(self, kind: str, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for t, k in self.kinds if k == kind and since <= t < until)


async def queue_call(
    http: httpx.AsyncClient,
    app: GradioApp,
    fn_index: int,
    data: list[Any],
    *,
    name: str = "",
    keep_outputs: bool = True,
    heartbeat: bool = True,
    call: Call | None = None,
) -> Call:
    """Run one event through Gradio's queue to its end; errors are recorded, not raised.
    ``call``: a record to fill (a caller can read it while the event runs)."""
    call = call or Call(name or str(fn_index), uuid.uuid4().hex[:11])
    beat = asyncio.create_task(_heartbeat(http, app, call.session)) if heartbeat else None
    try:
        call.joined = time.time()
        body = {"data": data, "fn_index": fn_index, "session_hash": call.session}
        body |= {"event_data": None, "trigger_id": None}
        reply = await http.post(app.url + PREFIX + "queue/join", json=body)
        if reply.status_code != 200:
            call.error = f"join HTTP {reply.status_code}: {reply.text[:200]}"
            return call
        call.event_id = reply.json().get("event_id")
        await _read_queue(http, app, call, keep_outputs)
    except (httpx.HTTPError, OSError, ValueError) as err:
        call.error = f"{type(err).__name__}: {err}"[:300]
    finally:
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await beat
    return call


async def sse_frames(response: httpx.Response, record: Any) -> AsyncIterator[tuple[float, bytes]]:
    """Each Server-Sent Events frame with the time its last bytes were read; counts the bytes
    into ``record.bytes``."""
    buffer = b""
    async for chunk in response.aiter_raw():
        now = time.time()
        record.bytes += len(chunk)
        buffer += chunk
        while (cut := buffer.find(b"\n\n")) >= 0:
            frame, buffer = buffer[:cut], buffer[cut + 2 :]
            yield now, frame


async def _read_queue(http: httpx.AsyncClient, app: GradioApp, call: Call, keep: bool) -> None:
    params = {"session_hash": call.session}
    current: list[Any] | None = None
    async with http.stream("GET", app.url + PREFIX + "queue/data", params=params) as response:
        if response.status_code != 200:
            call.error = f"data HTTP {response.status_code}"
            return
        async for now, frame in sse_frames(response, call):
            if not frame.startswith(b"data:"):
                continue
            message = json.loads(frame[5:])
            kind = str(message.get("msg"))
            call.kinds.append((now, kind))
            if kind == "process_generating" and keep:
                data = message.get("output", {}).get("data", [])
                if current is None:
                    current = list(data)
                else:
                    current = [
                        apply_diff(old, diff) for old, diff in zip(current, data, strict=False)
                    ]
                call.outputs.append((now, current))
            elif kind == "process_completed":
                call.completed = now
                call.success = bool(message.get("success"))
                output = message.get("output") or {}
                call.result = output.get("data")
                if not call.success:
                    call.error = str(output.get("error") or output)[:300]
            elif kind in ("close_stream", "unexpected_error"):
                if kind == "unexpected_error":
                    call.error = str(message.get("message"))[:300]
                return
    if call.completed is None and call.error is None:
        call.error = "stream ended early"


async def _heartbeat(http: httpx.AsyncClient, app: GradioApp, session: str) -> None:
    with contextlib.suppress(httpx.HTTPError, OSError):
        async with http.stream("GET", f"{app.url}{PREFIX}heartbeat/{session}") as response:
            async for _ in response.aiter_raw():
                pass


# ── the documented API ────────────────────────────────────────────────────────────────────────


async def generate(
    http: httpx.AsyncClient,
    app: GradioApp,
    prompt: str,
    *,
    call: Call | None = None,
    keep_outputs: bool = True,
    **options: Any,
) -> Call:
    """``/generate``, followed to the end (the app streams the job's changes)."""
    data = app.api_data("generate", prompt=prompt, **options)
    fn = app.fn_index("generate")
    return await queue_call(
        http, app, fn, data, name="generate", call=call, keep_outputs=keep_outputs
    )


async def my_videos(http: httpx.AsyncClient, app: GradioApp, heartbeat: bool = False) -> Call:
    data = app.api_data("my_videos")
    return await queue_call(
        http, app, app.fn_index("my_videos"), data, name="my_videos", heartbeat=heartbeat
    )


# ── the page ──────────────────────────────────────────────────────────────────────────────────


async def page_start(
    http: httpx.AsyncClient, app: GradioApp, prompt: str, visitor: str
) -> tuple[Call, list[str]]:
    """Generate as the page presses it; the ids of the jobs it started."""
    fn, data = app.page_start(prompt, visitor)
    call = await queue_call(http, app, fn, data, name="start", keep_outputs=False)
    ids: list[str] = []
    if call.success and call.result:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            ids = [c["id"] for c in json.loads(call.result[0]).get("started", [])]
    if not ids and call.error is None:
        call.error = f"nothing started: {str(call.result)[:200]}"
    return call, ids


@dataclass
class Follow:
    """One ``POST /suxi/follow`` stream: every frame with its wire time."""

    visitor: str
    ids: list[str]
    opened: float = 0.0
    frames: list[tuple[float, dict[str, Any] | None]] = field(default_factory=list)  # None: ping
    closed: float | None = None
    error: str | None = None
    bytes: int = 0

    def cards(self) -> list[tuple[float, dict[str, Any]]]:
        return [(t, card) for t, card in self.frames if card is not None]

    def count(self, since: float = 0.0, until: float = float("inf")) -> tuple[int, int]:
        """(card updates, keep-alives) received in [since, until)."""
        inside = [c for t, c in self.frames if since <= t < until]
        return sum(c is not None for c in inside), sum(c is None for c in inside)

    def last(self) -> dict[str, dict[str, Any]]:
        return {card["id"]: card for _, card in self.cards() if "id" in card}


async def follow_page(
    http: httpx.AsyncClient,
    url: str,
    visitor: str,
    ids: list[str],
    *,
    keep: bool = True,
    follow: Follow | None = None,
) -> Follow:
    """Follow ``ids`` as the page's script does, until the app ends the stream. ``follow``: a
    record to fill (a caller can read it while the stream is open)."""
    follow = follow or Follow(visitor, ids)
    follow.ids, follow.opened = ids, time.time()
    body = {"visitor": visitor, "lang": "en", "ids": ids}
    try:
        async with http.stream("POST", f"{url}suxi/follow", json=body) as response:
            if response.status_code != 200:
                follow.error = f"HTTP {response.status_code}"
                return follow
            async for now, frame in sse_frames(response, follow):
                if frame.startswith(b"data: "):
                    card = json.loads(frame[6:]) if keep else {}
                    follow.frames.append((now, card))
                elif frame.startswith(b":"):
                    follow.frames.append((now, None))
    except (httpx.HTTPError, OSError, ValueError) as err:
        follow.error = f"{type(err).__name__}: {err}"[:300]
    follow.closed = time.time()
    return follow


def new_call(name: str) -> Call:
    return Call(name, uuid.uuid4().hex[:11])


def new_visitor() -> str:
    """A visitor token as the page makes one (suxi.web.routes.TOKEN)."""
    return uuid.uuid4().hex
