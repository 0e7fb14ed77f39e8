"""My videos: one page of the visitor's library, and the selected videos as one .zip."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import zipfile
from typing import Any

from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from ..kinds import State
from ..runtime import data_path
from ..studio import Studio, Who

PAGE = 24
MAX_ZIP = 100  # videos in one .zip
MAX_ZIP_BYTES = 2 * 1024**3  # …and bytes: each .zip is a temporary copy until it is sent
ZIPS_AT_ONCE = asyncio.Semaphore(2)
FILTERS = {
    "all": (),
    "done": (str(State.DONE),),
    "running": tuple(
        str(s)
        for s in (State.WAITING, State.PENDING, State.QUEUED, State.GENERATING, State.DOWNLOADING)
    ),
    "failed": tuple(str(s) for s in (State.FAILED, State.CANCELLED, State.INTERRUPTED)),
}


def library_page(studio: Studio, make_card, who: Who, body: dict[str, Any]) -> dict[str, Any]:
    wanted = body.get("filter")
    state = wanted if isinstance(wanted, str) and wanted in FILTERS else "all"
    search = body.get("search") if isinstance(body.get("search"), str) else ""
    try:
        offset = max(0, min(int(body.get("offset") or 0), 10_000_000))
    except (TypeError, ValueError, OverflowError):  # json.loads reads "Infinity" as a float
        offset = 0
    jobs, total = studio.library(
        who, limit=PAGE, offset=offset, states=FILTERS[state], search=search.strip()[:200]
    )
    return {"cards": [make_card(job, who) for job in jobs], "total": total, "offset": offset}


async def zip_response(studio: Studio, who: Who, body: dict[str, Any]) -> Response:
    """The chosen finished videos in one .zip (stored, not compressed: MP4 is compressed
    already), written to a temporary file off the event loop and removed once sent."""
    ids = body.get("ids") if isinstance(body.get("ids"), list) else []
    ids = [i for i in ids if isinstance(i, str)][:MAX_ZIP]
    files = []
    for job_id in ids:
        job = studio.visible(job_id, who)
        path = data_path(studio.settings, job.file) if job and job.state == State.DONE else None
        if path is not None:
            files.append(path)
    if not files:
        return JSONResponse({"error": "nothing to download"}, status_code=404)
    if sum(path.stat().st_size for path in files) > MAX_ZIP_BYTES:
        return JSONResponse({"error": "too much at once: pick fewer videos"}, status_code=413)
    if ZIPS_AT_ONCE.locked():
        return JSONResponse({"error": "busy: try again in a moment"}, status_code=429)
    async with ZIPS_AT_ONCE:
        return await _zipped(files)


async def _zipped(files: list) -> Response:
    with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as handle:
        pass  # only its name: the archive is written off the event loop below

    def write() -> None:
        used: set[str] = set()
        with zipfile.ZipFile(handle.name, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in files:
                name = path.name
                while name in used:
                    name = f"{path.stem}-{len(used)}{path.suffix}"
                used.add(name)
                archive.write(path, name)

    await asyncio.to_thread(write)
    return FileResponse(
        handle.name,
        media_type="application/zip",
        filename="videos.zip",
        background=BackgroundTask(_remove, handle.name),
    )


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
