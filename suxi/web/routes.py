"""The page's own routes, beside Gradio's: following jobs, card actions, the library, files.

Why not Gradio events for these: a tab follows its jobs over one long response that speaks only
when a card changed (the clock ticks in the browser), and videos are served from the app's own
folder with ranges and readable names — neither holds a slot in Gradio's queue or copies a file
into its cache (docs/architecture.md, "The page").

Every route reads a small JSON body (capped), knows the visitor by the token the page keeps in
its local storage, and on a shared deployment shows each visitor only their own jobs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..cards import card, typical_seconds
from ..errors import SuxiError
from ..job import Job
from ..kinds import State
from ..runtime import data_path
from ..studio import Studio, Who
from ..texts import explain, lang_of
from .address import client_address
from .library import library_page, zip_response
from .share import share_routes

MAX_BODY = 64 * 1024
MAX_IDS = 64
KEEPALIVE = 15.0  # seconds of silence before a comment line keeps proxies from closing
MAX_STREAMS_PER_ADDRESS = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
FILE_NAME = re.compile(r"[^/\\]{1,200}")


class Streams:
    """Open follow streams per address (one tab needs one; a flood gets a 429)."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()


async def read_body(request: Request) -> dict[str, Any]:
    # JSON only: another site's page can send a "simple" cross-origin POST (form or text/plain)
    # without asking first, but not an application/json one (docs/hostile-input.md).
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send JSON")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise HTTPException(413, "request too large")
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def ids_of(body: dict[str, Any], limit: int) -> list[str]:
    """The job ids a body names: a list of strings, else none."""
    ids = body.get("ids")
    return [i for i in ids if isinstance(i, str)][:limit] if isinstance(ids, list) else []


def who_of(studio: Studio, request: Request, body: dict[str, Any]) -> Who:
    token = body.get("visitor")
    owner = token if isinstance(token, str) and TOKEN.fullmatch(token) else ""
    peer = request.client.host if request.client else ""
    address = client_address(peer, request.headers, studio.settings.trusted_proxies)
    key = body.get("api_key")
    return Who(
        owner=owner or f"anonymous-{address}",
        address=address,
        api_key=key.strip() if isinstance(key, str) else "",
        lang=lang_of(body.get("lang") if isinstance(body.get("lang"), str) else None),
    )


class CardMaker:
    """Cards in a visitor's language, with the typical duration per model (cached a minute)."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self._typical: dict[str, tuple[float, float | None]] = {}

    def typical(self, model: str) -> float | None:
        now = time.monotonic()
        cached = self._typical.get(model)
        if cached is None or now - cached[0] > 60:
            durations = self.studio.jobs.store.recent_durations(model)
            cached = (now, typical_seconds(durations))
            self._typical[model] = cached
        return cached[1]

    def __call__(self, job: Job, who: Who) -> dict[str, Any]:
        parent = self.studio.parent_of(job, who)
        data = card(
            job,
            who.lang,
            typical=self.typical(job.model) if job.running else None,
            parent=parent,
            shared=self.studio.settings.shared,
        )
        if job.share_token:
            data["share_url"] = f"/s/{job.share_token}"
        return data


def build_router(studio: Studio) -> APIRouter:
    router = APIRouter()
    make_card = CardMaker(studio)
    streams = Streams()

    @router.post("/suxi/follow")
    async def follow(request: Request) -> Response:
        body = await read_body(request)
        who = who_of(studio, request, body)
        ids = ids_of(body, MAX_IDS)
        jobs = [j for j in (studio.visible(i, who) for i in ids) if j is not None]
        if streams.open[who.address] >= MAX_STREAMS_PER_ADDRESS:
            return JSONResponse({"error": "too many streams"}, status_code=429)
        return StreamingResponse(
            _follow(
                studio,
                streams,
                make_card,
                who,
                jobs,
                [i for i in ids if i not in {j.id for j in jobs}],
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post("/suxi/act")
    async def act(request: Request) -> JSONResponse:
        body = await read_body(request)
        who = who_of(studio, request, body)
        try:
            result = await _act(studio, make_card, who, body)
        except SuxiError as err:  # InputError included
            result = {
                "ok": False,
                "message": explain(err.kind, who.lang, err.relay_text, **err.values),
            }
        return JSONResponse(result)

    @router.post("/suxi/library")
    async def library(request: Request) -> JSONResponse:
        body = await read_body(request)
        who = who_of(studio, request, body)
        return JSONResponse(library_page(studio, make_card, who, body))

    @router.post("/suxi/zip")
    async def zipped(request: Request) -> Response:
        body = await read_body(request)
        who = who_of(studio, request, body)
        return await zip_response(studio, who, body)

    @router.get("/media/{token}/{name}")
    async def media(token: str, name: str, download: int = 0) -> Response:
        job = studio.jobs.store.by_media(token) if TOKEN.fullmatch(token) else None
        if job is None or not FILE_NAME.fullmatch(name):
            return Response(status_code=404)
        wanted = f"videos/{token}/{name}"
        if wanted not in (job.file, job.thumbnail):
            return Response(status_code=404)
        path = data_path(studio.settings, wanted)
        if path is None:
            return Response(status_code=404)
        is_video = wanted == job.file
        return FileResponse(
            path,
            media_type="video/mp4" if is_video else "image/webp",
            filename=name if is_video else None,
            content_disposition_type="attachment" if download else "inline",
            headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    share_routes(router, studio)
    return router


async def _follow(studio, streams, make_card, who: Who, jobs: list[Job], missing: list[str]):
    """Server-sent events: every card now, then each change; a comment every 15 s of silence;
    the stream ends once every followed job has ended."""
    streams.open[who.address] += 1
    try:
        with studio.jobs.subscribe([j.id for j in jobs]) as sub:
            for job_id in missing:
                yield _frame({"id": job_id, "gone": True})
            current = {j.id: studio.jobs.get(j.id) or j for j in jobs}
            for job in current.values():
                yield _frame(make_card(job, who))
            while any(j.running or j.state == State.WAITING for j in current.values()):
                changed = await sub.changes(KEEPALIVE)
                if not changed:
                    yield b": keep-alive\n\n"
                    continue
                for job in changed:
                    current[job.id] = job
                    yield _frame(make_card(job, who))
    except asyncio.CancelledError:
        raise
    finally:
        streams.open[who.address] -= 1
        if streams.open[who.address] <= 0:
            del streams.open[who.address]


def _frame(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def _act(studio: Studio, make_card, who: Who, body: dict[str, Any]) -> dict[str, Any]:
    action = body.get("action")
    job_id = body.get("id")
    lang = who.lang
    if not job_id:
        return {"ok": False, "message": explain("nothing_picked", lang)}
    if action == "stop":
        job = studio.stop(job_id, who)
        if job is not None:
            # The card sent back shows the stop itself, not the moment before it.
            job = await studio.jobs.settled(job.id) or job
        return {"ok": job is not None, "card": make_card(job, who) if job else None}
    if action == "delete":
        ok = studio.delete(job_id, who)
        return {"ok": ok, "message": explain("deleted" if ok else "not_found_job", lang)}
    if action == "check":
        outcome = await studio.check_again(job_id, who)
        job = studio.visible(job_id, who)
        return {
            "ok": True,
            "message": explain(outcome.kind, lang, outcome.relay_text, **outcome.values),
            "card": make_card(job, who) if job else None,
        }
    if action in ("modify", "again"):
        job = (
            await studio.modify(job_id, body.get("text"), who)
            if action == "modify"
            else await studio.again(job_id, who)
        )
        return {"ok": True, "started": [make_card(job, who)]}
    if action in ("share", "unshare"):
        job = studio.share(job_id, who, action == "share")
        return {"ok": job is not None, "card": make_card(job, who) if job else None}
    if action == "stop_batch":
        job = studio.visible(job_id, who)
        if job is None or not job.group_id:
            return {"ok": False, "message": explain("not_found_job", lang)}
        studio.jobs.batches.stop(job.group_id)
        return {"ok": True}
    return {"ok": False, "message": explain("unknown", lang)}
