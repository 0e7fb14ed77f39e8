"""One generation, written once: make → follow → fetch, for every backend.

The job runner and the command line both call :func:`make_video` with a *sink* of their own
(the job store and the page; the terminal). The pipeline:

1. tries the job's routes in order (:func:`suxi.relay.routes_for`); a create refused as an
   unknown route (404/405: nothing was created) moves on to the next route, anything else ends
   the attempt — so at most one create is ever accepted, and no failure is re-sent;
2. hands every event to the sink *before* going on (a task id is stored before the first poll);
3. starts keeping a copy of the video the moment its link arrives; after that, whatever breaks
   in the stream no longer matters — the download decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import DownloadError, FormatRefusedError, NotFoundError, SuxiError
from .events import Event, VideoReady
from .generation import GenerationRequest, StartImage
from .relay import Backends
from .relay.fetch import Download, fetch_file


class Sink(Protocol):
    async def on_event(self, event: Event, route: str) -> None: ...

    def video_path(self) -> Path: ...

    def thumbnail_path(self) -> Path: ...

    async def on_video(self, video: Download, thumbnail: Path | None) -> None: ...


@dataclass
class Attempt:
    route: str | None = None  # the route whose create was accepted (or that was resumed)
    video: VideoReady | None = None


async def make_video(
    backends: Backends,
    request: GenerationRequest,
    key: str,
    sink: Sink,
    *,
    routes: list[str],
    deadline: float,
    task_id: str | None = None,
    first_delay: float = 0.0,
    stream_slot: Callable[[], AbstractAsyncContextManager] | None = None,
) -> Attempt:
    """Make one video; returns when it is kept or the attempt failed (a Failed event, or a
    SuxiError raised). ``task_id``: resume following that task (``routes[0]`` is its route)."""
    attempt = Attempt()
    download: asyncio.Task[None] | None = None
    refused: list[str] = []
    last_refusal: NotFoundError | None = None
    try:
        for route in routes:
            backend = backends.get(route)
            if route == "openai" and request.image and not request.image.data_url:
                request = await _with_picture(backends, request)
            slot = stream_slot() if stream_slot and route == "chat" else contextlib.nullcontext()
            started = False
            try:
                async with slot:
                    async for event in backend.run(
                        request, key, task_id=task_id, deadline=deadline, first_delay=first_delay
                    ):
                        started = True
                        attempt.route = route
                        await sink.on_event(event, route)
                        # One network read can hold thousands of events, each one stored:
                        # let the rest of the app run between them.
                        await asyncio.sleep(0)
                        if isinstance(event, VideoReady) and download is None:
                            attempt.video = event
                            download = asyncio.create_task(keep_video(backends, event, key, sink))
            except NotFoundError as err:
                if started or task_id is not None or err.status not in (404, 405):
                    raise
                refused.append(route)
                last_refusal = err
                continue  # the route is unknown here: nothing was created
            except SuxiError:
                if download is None:
                    raise
                # The video link had arrived: the stream's end no longer matters.
            break
        else:
            if len(refused) > 1:
                relay_text = last_refusal.relay_text if last_refusal else ""
                raise FormatRefusedError(request.options.model, refused, relay_text)
            if last_refusal is not None:
                raise last_refusal
        if download is not None:
            await download
        return attempt
    finally:
        if download is not None and not download.done():
            download.cancel()
            with contextlib.suppress(BaseException):
                await download


async def keep_video(backends: Backends, video: VideoReady, key: str, sink: Sink) -> None:
    """Fetch the video, then (best effort) its thumbnail; tell the sink once both are here."""
    http = backends.http
    kept = await fetch_file(
        http, video.url, sink.video_path(), key=key if video.needs_key else None
    )
    thumbnail: Path | None = None
    if video.thumbnail:
        try:
            thumbnail = (
                await fetch_file(
                    http, video.thumbnail, sink.thumbnail_path(), key=key, picture=True
                )
            ).path
        except DownloadError:
            thumbnail = None  # a missing picture never costs the video
    await sink.on_video(kept, thumbnail)


async def _with_picture(backends: Backends, request: GenerationRequest) -> GenerationRequest:
    """The OpenAI format takes the starting picture as a file: fetch a linked one (through the
    URL gate, like every fetch) and prepare it like an upload."""
    from dataclasses import replace
    from tempfile import TemporaryDirectory

    from .images import prepare_image

    assert request.image is not None and request.image.link
    with TemporaryDirectory() as folder:
        got = await fetch_file(
            backends.http, request.image.link, Path(folder) / "start", picture=True
        )
        data_url = await asyncio.to_thread(prepare_image, got.path)
    return replace(request, image=StartImage(link=request.image.link, data_url=data_url))
