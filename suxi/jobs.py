"""Jobs belong to the app, not to the browser tab.

Each generation runs in a task this module owns; the page only *follows* a job (``wait_change``).
Closing or reloading the page therefore loses nothing. Write-ahead: the record is stored before
the request is sent, and every event is stored before anyone is told about it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .client import Message, RelayClient, check_key, user_message
from .errors import (
    BadReplyError,
    BadRequestError,
    InputError,
    NotFoundError,
    RelayServerError,
    SuxiError,
)
from .events import (
    Event,
    Failed,
    Generating,
    Line,
    Progress,
    Queued,
    TaskInfo,
    Understood,
    VideoReady,
)
from .parse import RelayStreamParser
from .settings import Settings
from .store import JobRecord, Store
from .taskstatus import interpret

log = logging.getLogger(__name__)

MAX_TOKENS_RANGE = (1, 100_000)
KEPT_LINES = 40


def validate(settings: Settings, prompt: object, max_tokens: object) -> tuple[str, int]:
    """The prompt and max_tokens as the relay should get them, or an InputError."""
    text = prompt.strip() if isinstance(prompt, str) else ""
    if not text:
        raise InputError("empty_prompt")
    if len(text) > settings.max_prompt_chars:
        raise InputError("prompt_too_long", length=len(text), limit=settings.max_prompt_chars)
    low, high = MAX_TOKENS_RANGE
    try:
        number = float(max_tokens)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not number.is_integer() or not low <= number <= high:
        raise InputError("bad_max_tokens", low=low, high=high)
    return text, int(number)


class Jobs:
    def __init__(self, settings: Settings, store: Store, client: RelayClient) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.videos_dir = settings.data_dir / "videos"
        self._live: dict[str, JobRecord] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._stopping = False

    # — starting and following —

    def start(
        self,
        *,
        owner: str,
        prompt: str,
        max_tokens: object,
        stream: bool,
        api_key: str,
        model: str | None = None,
        messages: list[Message] | None = None,
        parent_id: str | None = None,
        params: dict[str, Any] | None = None,
        address: str = "",
        limited: bool = False,
        relay: RelayClient | None = None,
    ) -> JobRecord:
        """Record the job, then start its task. Raises InputError before anything is sent.

        ``limited``: the job spends the operator's key on a shared deployment, so the
        per-visitor limits apply (counted by visitor token and by ``address``). ``relay``: the
        relay client to use (default: the app's; a visitor's own key may go elsewhere).
        """
        relay = relay or self.client
        text, tokens = validate(self.settings, prompt, max_tokens)
        check_key(api_key)
        base = urlsplit(relay.settings.base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise InputError("bad_base_url")
        if limited:
            self._check_visitor_limits(owner, address)
        if self._waiting >= self.settings.max_queue:
            raise InputError("busy")
        conversation = messages or [user_message(text)]
        record = JobRecord(
            id=uuid.uuid4().hex,
            owner=owner,
            created=time.time(),
            model=model or self.settings.model,
            prompt=text,
            params={**(params or {}), "max_tokens": tokens, "stream": bool(stream)},
            relay_host=relay.settings.relay_host,
            parent_id=parent_id,
            messages=conversation,
            client=address,
        )
        self.store.create(record)  # write-ahead: the record exists before the request is sent
        self._live[record.id] = record
        self._changed[record.id] = asyncio.Event()
        self._tasks[record.id] = asyncio.create_task(
            self._run(record, conversation, api_key, relay), name=f"job-{record.id}"
        )
        return record

    def _check_visitor_limits(self, owner: str, address: str) -> None:
        s = self.settings
        running = [
            r for r in self._live.values() if r.owner == owner or (address and r.client == address)
        ]
        if len(running) >= s.visitor_max_running:
            raise InputError("visitor_running", limit=s.visitor_max_running)
        if self.store.count_since(time.time() - 3600, owner, address) >= s.visitor_max_per_hour:
            raise InputError("visitor_hourly", limit=s.visitor_max_per_hour)

    def get(self, job_id: str) -> JobRecord | None:
        return self._live.get(job_id) or self.store.get(job_id)

    def list(self, owner: str | None) -> list[JobRecord]:
        return [self._live.get(r.id, r) for r in self.store.list(owner)]

    def running_for(self, owner: str | None) -> list[JobRecord]:
        return [r for r in self._live.values() if owner is None or r.owner == owner]

    def change_signal(self, job_id: str) -> asyncio.Event | None:
        """The event the job's next change will set. Take it *before* reading the record, so a
        change that lands between the read and the wait is not missed."""
        return self._changed.get(job_id)

    @staticmethod
    async def wait_signal(signal: asyncio.Event | None, timeout: float) -> None:
        """Return when ``signal`` is set or after ``timeout`` seconds, whichever is first."""
        if signal is None:
            await asyncio.sleep(timeout)
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout)

    async def wait_change(self, job_id: str, timeout: float) -> None:
        await self.wait_signal(self.change_signal(job_id), timeout)

    def cancel(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def delete(self, job_id: str) -> bool:
        record = self.get(job_id)
        if record is None:
            return False
        self.cancel(job_id)
        if record.file:
            Path(record.file).unlink(missing_ok=True)
        self.store.delete(job_id)
        return True

    async def check_again(self, job_id: str, api_key: str, relay: RelayClient | None = None) -> str:
        """Ask the relay what became of an ended job; complete it if the video exists.

        Returns an outcome key for the page: "recovered", "still_running", "relay_failed",
        "no_recovery" or "not_applicable". Relay errors (bad key, …) are raised as SuxiError.
        """
        relay = relay or self.client
        record = self.get(job_id)
        if record is None or record.running or record.state == "done":
            return "not_applicable"
        if record.video_url:  # made, but the download failed: fetch it again
            return await self._recover(relay, record, record.video_url, None)
        if not record.task_id:
            return "no_recovery"
        task = quote(record.task_id, safe="")
        not_here = (NotFoundError, BadRequestError, BadReplyError, RelayServerError)
        sources = [
            (lambda p=path: relay.get_task(p, api_key), style, not_here)
            for path, style in ((f"/v1/video/query?id={task}", False), (f"/v1/videos/{task}", True))
        ] + [  # the stream's status links live on other hosts: any failure there is skipped
            (lambda u=link: relay.get_status_page(u), False, SuxiError) for link in record.links
        ]
        for fetch, openai_style, skipped in sources:
            try:
                data = await fetch()
            except skipped:
                continue  # this source does not know the task (or is not JSON, or not public)
            status = interpret(data, record.task_id, openai_style)
            if status.state == "done":
                if status.video_url:
                    return await self._recover(relay, record, status.video_url, None)
                if status.content_path:
                    url = f"{relay.settings.base_url}{status.content_path}"
                    return await self._recover(relay, record, url, api_key)
            if status.state == "running":
                record.percent = status.percent if status.percent is not None else record.percent
                self._commit(record)
                return "still_running"
            if status.state == "failed":
                record.relay_text = status.message or record.relay_text
                self._commit(record)
                return "relay_failed"
        return "no_recovery"

    async def _recover(
        self, relay: RelayClient, record: JobRecord, url: str, relay_key: str | None
    ) -> str:
        record.video_url = record.video_url or url
        result = await relay.download(url, self.videos_dir / f"{record.id}.mp4", relay_key)
        record.file = str(result.path)
        record.state = "done"
        record.error_kind = None
        record.relay_text = ""
        record.percent = 100.0
        record.finished = record.finished or time.time()
        self._commit(record)
        return "recovered"

    async def shutdown(self) -> None:
        """Stop following the relay; the records stay running so the next start marks them
        interrupted."""
        self._stopping = True
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    # — the job task —

    @asynccontextmanager
    async def _slot(self):
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.max_jobs)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    async def _run(
        self, record: JobRecord, messages: list[Message], api_key: str, relay: RelayClient
    ) -> None:
        parser = RelayStreamParser()
        download: asyncio.Task[None] | None = None
        try:
            async with self._slot():
                events = relay.generate(
                    messages,
                    api_key=api_key,
                    max_tokens=record.params["max_tokens"],
                    stream=record.params["stream"],
                    model=record.model,
                    parser=parser,
                )
                async for event in events:
                    self._apply(record, event)
                    if isinstance(event, VideoReady) and download is None:
                        download = asyncio.create_task(self._download(relay, record, event.url))
                    self._commit(record)
                if download is not None:
                    await download
        except SuxiError as err:
            if download is None:
                self._fail(record, err.kind, err.relay_text, err.status)
                if getattr(err, "retry_after", None):
                    record.params = {**record.params, "retry_after": err.retry_after}
            else:  # the video link had arrived: the stream's end no longer matters
                await self._settle_download(record, download)
        except asyncio.CancelledError:
            if download is not None:
                download.cancel()
            if not self._stopping:
                self._fail(record, "cancelled", "")
                record.state = "cancelled"
            raise
        except Exception:
            log.exception("job %s failed unexpectedly", record.id)
            self._fail(record, "unknown", "")
        finally:
            record.answer = parser.outcome.answer
            if not self._stopping:
                self._commit(record)
            self._live.pop(record.id, None)
            self._tasks.pop(record.id, None)
            self._changed.pop(record.id, None)

    async def _settle_download(self, record: JobRecord, download: asyncio.Task[None]) -> None:
        try:
            await download
        except SuxiError as err:
            self._fail(record, err.kind, err.relay_text, err.status)

    def _apply(self, record: JobRecord, event: Event) -> None:
        match event:
            case Queued():
                record.state = "queued"
            case Generating():
                record.state = "generating"
            case Progress(percent=percent):
                record.state = "generating"
                record.percent = percent
            case TaskInfo(task_id=task_id, sid=sid, links=links):
                record.task_id = task_id or record.task_id
                record.sid = sid or record.sid
                record.links = list(links) or record.links
            case Understood():
                record.understood = {
                    "prompt": event.prompt,
                    "orientation": event.orientation,
                    "duration": event.duration,
                }
            case Line(text=text):
                record.last_line = text
                record.lines = [*record.lines[-(KEPT_LINES - 1) :], text]
            case VideoReady(url=url):
                record.video_url = url
                record.state = "downloading"
            case Failed(message=message, kind=kind):
                self._fail(record, kind, message)

    async def _download(self, relay: RelayClient, record: JobRecord, url: str) -> None:
        dest = self.videos_dir / f"{record.id}.mp4"
        result = await relay.download(url, dest)
        record.file = str(result.path)
        record.state = "done"
        record.percent = 100.0
        record.finished = time.time()
        self._commit(record)

    def _fail(self, record: JobRecord, kind: str, relay_text: str, status: int | None = None):
        record.state = "failed"
        record.error_kind = kind
        record.relay_text = relay_text or ""
        record.finished = time.time()
        if status is not None:
            record.params = {**record.params, "status": status}

    def _commit(self, record: JobRecord) -> None:
        """Store first, then wake the followers."""
        self.store.save(record)
        event = self._changed.get(record.id)
        if event is not None:
            event.set()
            self._changed[record.id] = asyncio.Event()


def public_fields(record: JobRecord) -> dict[str, Any]:
    """What a job looks like through the API (no owner)."""
    return {
        "id": record.id,
        "state": record.state,
        "prompt": record.prompt,
        "created": record.created,
        "task_id": record.task_id,
        "percent": record.percent,
        "video_url": record.video_url,
        "error_kind": record.error_kind,
    }
