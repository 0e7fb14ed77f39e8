"""Jobs belong to the app, not to the browser tab.

Each generation runs in an asyncio task this module owns; pages and API calls only *follow* it
(:meth:`Jobs.follow`, an async iterator of immutable snapshots). Closing or reloading a page
therefore loses nothing. Write-ahead: the job is stored before the request is sent, and every
change is stored before anyone is told about it. Task-format jobs know their task id from the
first second, so after a restart they resume polling by themselves (:meth:`Jobs.resume_all`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .admission import Admission, KeyChoice, StreamSlots, Visitor
from .batches import Batches
from .errors import InputError, SuxiError
from .generation import GenerationOptions, GenerationRequest, StartImage
from .hub import Hub, Subscription
from .job import Job
from .kinds import Kind, State
from .pipeline import make_video
from .relay import TASK_ROUTES, routes_for
from .settings import Settings
from .sink import JobSink
from .store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartRequest:
    """One job to start, as the page or the API asked for it (checked already)."""

    visitor: Visitor
    prompt: str  # as the visitor wrote it
    options: GenerationOptions
    image: StartImage | None = None
    image_ref: str = ""  # the kept picture (relative path) or the link, for "Again"
    messages: tuple[dict, ...] = ()  # chat format: the conversation to send
    parent_id: str | None = None
    remix_of: str | None = None
    group: tuple[str, str, int] | None = None  # (group id, "variations" | "batch", index)
    waiting: bool = False  # recorded now, started later by the batch runner

    def generation(self) -> GenerationRequest:
        return GenerationRequest(
            prompt=self.prompt,
            options=self.options,
            image=self.image,
            messages=self.messages,
            remix_of=self.remix_of,
        )


class Jobs:
    def __init__(self, settings: Settings, store: Store, hub: Hub | None = None) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub or Hub()
        self.data_dir = settings.data_dir
        self.slots = StreamSlots(settings)
        self._live: dict[str, Job] = {}
        self._unsaved: dict[str, Job] = {}  # final states the store refused to keep
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._requests: dict[str, tuple[GenerationRequest, KeyChoice]] = {}
        self._stopping = False
        self.admission = Admission(settings, store, self._running_now)
        self.batches = Batches(self)

    def _running_now(self) -> list[Job]:
        return [j for j in self._live.values() if j.running]

    def _chats_in_flight(self) -> dict[bool, int]:
        """Chat jobs streaming or waiting for a stream, by "spends the operator's key"."""
        counts = {True: 0, False: 0}
        for job in self._live.values():
            if job.running and (job.route or routes_for(job.options)[0]) == "chat":
                counts[not job.own_key] += 1
        return counts

    # — starting —

    def start(self, request: StartRequest, choice: KeyChoice) -> Job:
        """Admit, record, then start one job. Raises InputError before anything is sent."""
        jobs, refusal = self.start_many([request], choice)
        if refusal is not None:
            raise refusal
        return jobs[0]

    def start_many(
        self, requests: list[StartRequest], choice: KeyChoice
    ) -> tuple[list[Job], InputError | None]:
        """Start as many of ``requests`` as the limits allow, in order; the refusal that stopped
        the rest (if any) is returned with them."""
        if not requests:
            return [], None
        visitor = requests[0].visitor
        now_requests = [r for r in requests if not r.waiting]
        refusal: InputError | None = None
        allowed = len(now_requests)
        try:
            if now_requests:
                allowed = self.admission.allowance(visitor, choice, len(now_requests))
                chats = sum(1 for r in now_requests if routes_for(r.options)[0] == "chat")
                if chats:
                    self.slots.check(choice.operator, self._chats_in_flight(), chats)
        except InputError as err:
            return [], err
        started: list[Job] = []
        for request in requests:
            if not request.waiting and allowed <= 0:
                refusal = InputError(Kind.BUSY)
                try:
                    self.admission.allowance(visitor, choice, 1)
                except InputError as err:
                    refusal = err
                break
            started.append(self._record(request, choice))
            if not request.waiting:
                allowed -= 1
        return started, refusal

    def _record(self, request: StartRequest, choice: KeyChoice) -> Job:
        now = time.time()
        group_id, group_kind, index = request.group or (None, "", 0)
        job = Job(
            id=uuid.uuid4().hex,
            owner=request.visitor.owner,
            created=now,
            prompt=request.prompt,
            options=request.options,
            address_hash=request.visitor.address,
            own_key=not choice.operator,
            relay_origin=choice.relay.origin,
            media_token=secrets.token_urlsafe(16),
            state=State.WAITING if request.waiting else State.PENDING,
            updated=now,
            messages=request.messages,
            image="" if request.image is None else ("link" if request.image.link else "file"),
            image_ref=request.image_ref,
            parent_id=request.parent_id,
            group_id=group_id,
            group_kind=group_kind,
            group_index=index,
        )
        self.store.create(job)  # write-ahead: the job exists before anything is sent
        self._live[job.id] = job
        self._requests[job.id] = (request.generation(), choice)
        if not request.waiting:
            self.admission.record(request.visitor, choice, job.id)
            self._launch(job)
        return job

    def launch_waiting(self, job_id: str) -> Job | None:
        """Start a batch's waiting job (its turn came; the batch runner checked the limits)."""
        job = self._live.get(job_id)
        if job is None or job.state != State.WAITING or job_id not in self._requests:
            return None
        _request, choice = self._requests[job_id]
        self.admission.record(Visitor(job.owner, job.address_hash), choice, job.id)
        job = self.commit(job.with_(state=State.PENDING))
        self._launch(job)
        return job

    def _launch(self, job: Job, *, resume: str | None = None, first_delay: float = 0.0) -> None:
        self._tasks[job.id] = asyncio.create_task(
            self._run(job, resume=resume, first_delay=first_delay), name=f"job-{job.id}"
        )

    # — reading and following —

    def get(self, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        return self._live.get(job_id) or self._unsaved.get(job_id) or self.store.get(job_id)

    def live(self, job_id: str) -> Job | None:
        """A job that is running or waiting, without reading the store."""
        return self._live.get(job_id)

    def running(self) -> list[Job]:
        return list(self._live.values())

    def waiting_for(self, owner: str) -> int:
        """Batch prompts of this owner still waiting for their turn."""
        return sum(1 for j in self._live.values() if j.owner == owner and j.state == State.WAITING)

    def subscribe(self, ids: list[str]) -> Subscription:
        return self.hub.subscribe(ids)

    async def follow(self, job_id: str, *, idle: float | None = None) -> AsyncIterator[Job]:
        """The job now, then every change until it ends. ``idle``: also yield the unchanged job
        after that many quiet seconds (a keep-alive for the follower's connection)."""
        with self.hub.subscribe([job_id]) as sub:
            job = self.get(job_id)
            if job is None:
                return
            yield job
            while job.running or job.state == State.WAITING:
                changed = await sub.changes(idle)
                if changed:
                    job = changed[-1]
                elif job.id not in self._live:
                    job = self.get(job_id) or job  # ended while we looked away
                yield job

    # — stopping, deleting —

    def stop(self, job_id: str) -> Job | None:
        """Stop following a job (the relay may still finish it). None if nothing runs."""
        job = self._live.get(job_id)
        if job is None:
            return None
        if job.state == State.WAITING:
            self._requests.pop(job_id, None)
            self._live.pop(job_id, None)
            return self.commit(job.failed(Kind.CANCELLED, at=time.time(), state=State.CANCELLED))
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            task.cancel()
        return job

    async def settled(self, job_id: str, timeout: float = 5.0) -> Job | None:
        """The job once its runner has ended — a stop is recorded a moment after the runner is
        cancelled — or as it stands after ``timeout`` seconds."""
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=timeout)
        return self.get(job_id)

    def delete(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            return False
        self.stop(job_id)
        self._live.pop(job_id, None)
        self._requests.pop(job_id, None)
        self._unsaved.pop(job_id, None)
        folder = self.data_dir / "videos" / job.media_token
        for path in (job.file, job.thumbnail):
            if path:
                (self.data_dir / path).unlink(missing_ok=True)
        if folder.is_dir():
            for leftover in folder.iterdir():
                leftover.unlink(missing_ok=True)
            folder.rmdir()
        self.store.delete(job_id)
        if job.image == "file" and job.image_ref and not self.store.uses_picture(job.image_ref):
            # Pictures are kept once by content: only the last job using one takes it along.
            (self.data_dir / job.image_ref).unlink(missing_ok=True)
        return True

    async def shutdown(self) -> None:
        """Stop following the relay; running jobs stay recorded as running, so the next start
        resumes task-format jobs and marks chat streams interrupted."""
        self._stopping = True
        await self.batches.shutdown()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # — the job task —

    async def _run(self, job: Job, *, resume: str | None, first_delay: float) -> None:
        request, choice = self._requests[job.id]
        sink = JobSink(job, self.data_dir, self.commit, self.remember_route, choice.key)
        operator = choice.operator
        try:
            remembered = self.store.remembered_route(choice.relay.origin, job.options.family.key)
            routes = [resume] if resume else routes_for(job.options, remembered)
            if routes[0] != "chat" and not sink.job.started:
                sink.job = self.commit(sink.job.with_(started=time.time()))

            @contextlib.asynccontextmanager
            async def stream_slot():
                async with self.slots.hold(operator):
                    if not sink.job.started:  # sent only now: the wait was for a free stream
                        sink.job = self.commit(sink.job.with_(started=time.time()))
                    yield

            await make_video(
                choice.relay.backends,
                request,
                choice.key,
                sink,
                routes=routes,
                deadline=job.created + self.settings.total_timeout,
                task_id=job.task_id if resume else None,
                first_delay=first_delay,
                stream_slot=stream_slot,
            )
            if sink.job.running:  # the stream ended with neither a video nor a failure
                sink.job = self.commit(sink.job.failed(Kind.NO_VIDEO, at=time.time()))
        except _StoreFailed:
            pass
        except SuxiError as err:
            self._fail(sink, err)
        except asyncio.CancelledError:
            if not self._stopping:
                self._cancelled(sink)
            raise
        except Exception:
            log.exception("job %s failed unexpectedly", job.id)
            self._finish(sink, sink.job.failed(Kind.UNKNOWN, at=time.time(), charged=True))
        finally:
            self._live.pop(job.id, None)
            self._tasks.pop(job.id, None)
            if not self._stopping:
                self._requests.pop(job.id, None)

    def _fail(self, sink: JobSink, err: SuxiError) -> None:
        job = sink.job
        self._finish(
            sink,
            job.failed(
                err.kind,
                err.relay_text,
                at=time.time(),
                status=err.status,
                retry_after=err.retry_after,
                charged=err.may_have_charged or bool(job.task_id),
                values=dict(err.values),
            ),
        )

    def _cancelled(self, sink: JobSink) -> None:
        job = sink.job
        kind = Kind.STOPPED_TASK if job.task_id and job.route in TASK_ROUTES else Kind.CANCELLED
        self._finish(sink, job.failed(kind, at=time.time(), state=State.CANCELLED, charged=True))

    def _finish(self, sink: JobSink, job: Job) -> None:
        with contextlib.suppress(_StoreFailed):  # already ended in memory: see commit()
            sink.job = self.commit(job)

    def commit(self, job: Job) -> Job:
        """Store first, then tell the followers. A store that refuses the write ends the job
        (failed, "store_failed") in memory, so it never stays "running" and frees its slot."""
        job = job.with_(updated=time.time())
        try:
            self.store.save(job)
        except StoreError as err:
            log.error("job %s: the store refused a write: %s", job.id, err)
            final = job.failed(Kind.STORE_FAILED, at=time.time(), charged=True)
            self._unsaved[job.id] = final
            self._live.pop(job.id, None)
            self.hub.publish(final)
            raise _StoreFailed from err
        if job.running or job.state == State.WAITING:
            self._live[job.id] = job
        else:
            self._live.pop(job.id, None)
        self.hub.publish(job)
        return job

    def remember_route(self, job: Job, route: str) -> None:
        try:
            self.store.remember_route(job.relay_origin, job.options.family.key, route)
        except StoreError:
            log.warning("could not remember the route of %s", job.relay_origin)

    # — after a restart —

    def resume_all(self, choice_for: Callable[[Job], KeyChoice | None]) -> tuple[int, int]:
        """Jobs that were running when the app stopped: task-format jobs with a task id resume
        polling (their first polls spread over one interval, so a restart causes no poll storm);
        waiting batch jobs wait again; the rest are marked interrupted. ``choice_for`` gives the
        key to use (None when it was a visitor's own key, which is never kept).
        Returns (resumed, interrupted)."""
        resumed = interrupted = 0
        for job in self.store.running():
            choice = choice_for(job)
            if choice is not None and job.state == State.WAITING:
                self._live[job.id] = job
                self._requests[job.id] = (self._request_of(job), choice)
                self.batches.add(job.group_id or "", choice)
                continue
            if choice is not None and job.route in TASK_ROUTES and job.task_id:
                self._live[job.id] = job
                self._requests[job.id] = (self._request_of(job), choice)
                delay = random.uniform(0, self.settings.poll_interval)
                self._launch(job, resume=job.route, first_delay=delay)
                resumed += 1
                continue
            sent = job.started is not None or bool(job.task_id)  # the relay may have it
            self.commit(
                job.failed(Kind.INTERRUPTED, at=time.time(), state=State.INTERRUPTED, charged=sent)
            )
            interrupted += 1
        return resumed, interrupted

    def follow_again(self, job: Job, choice: KeyChoice, route: str) -> Job:
        """Start following an ended task-format job again (the relay still works on it)."""
        job = job.with_(
            state=State.GENERATING, route=route, error_kind=None, relay_text="", finished=None
        )
        self._requests[job.id] = (self._request_of(job), choice)
        job = self.commit(job)
        self._launch(job, resume=route, first_delay=self.settings.poll_interval)
        return job

    def _request_of(self, job: Job) -> GenerationRequest:
        return GenerationRequest(
            prompt=job.prompt,
            options=job.options,
            image=self.picture_of(job),
            messages=job.messages,
        )

    def picture_of(self, job: Job) -> StartImage | None:
        """The job's starting picture again: its link, or the kept file as a data URL."""
        if job.image == "link" and job.image_ref:
            return StartImage(link=job.image_ref)
        if job.image == "file" and job.image_ref:
            path = self.data_dir / job.image_ref
            if path.is_file():
                encoded = base64.b64encode(path.read_bytes()).decode("ascii")
                return StartImage(data_url=f"data:image/jpeg;base64,{encoded}")
        return None


class _StoreFailed(Exception):
    """Raised out of a commit the store refused: ends the job's task."""
