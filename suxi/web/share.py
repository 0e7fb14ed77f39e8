"""Share links: a random, unguessable URL that plays one finished video, until its owner
revokes it (a revoked or deleted video answers 404)."""

from __future__ import annotations

import re
from html import escape

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..kinds import State
from ..runtime import data_path
from ..studio import Studio

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{margin:0;background:#111;color:#eee;font:16px system-ui,sans-serif;display:flex;
flex-direction:column;align-items:center;justify-content:center;min-height:100vh}}
video{{max-width:100vw;max-height:80vh}}p{{max-width:60ch;padding:0 16px;text-align:center}}</style>
</head><body><video src="{video}" controls autoplay muted loop playsinline></video>
<p>{title}</p></body></html>"""


def share_routes(router: APIRouter, studio: Studio) -> None:
    def shared(token: str):
        job = studio.jobs.store.by_share(token) if TOKEN.fullmatch(token) else None
        if job is None or job.state != State.DONE:
            return None, None
        return job, data_path(studio.settings, job.file)

    @router.get("/s/{token}")
    async def page(token: str) -> Response:
        job, path = shared(token)
        if job is None or path is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        html = PAGE.format(title=escape(job.prompt[:200]), video=f"/s/{token}/video.mp4")
        return HTMLResponse(html, headers={"Referrer-Policy": "no-referrer"})

    @router.get("/s/{token}/video.mp4")
    async def video(token: str) -> Response:
        job, path = shared(token)
        if job is None or path is None:
            return Response(status_code=404)
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private"})
