""" "Check again": ask the relay what became of a job that ended without a video.

In order: a video link that is already known is fetched again (a failed or expired download);
a task id is looked up on the job's own task route, or — for a chat job whose text named a task
id — on each task route the relay may answer; the stream's status pages are read last. A task
the relay still works on is followed again until it ends; a finished one is kept. When nothing
answers, the outcome says which routes were asked and what came back, so the page can explain
itself instead of a bare "cannot".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .admission import KeyChoice
from .errors import (
    BadReplyError,
    BadRequestError,
    DownloadError,
    LinkExpiredError,
    NotFoundError,
    RelayServerError,
    SuxiError,
)
from .events import VideoReady
from .generation import is_task_id
from .job import Job
from .jobs import Jobs
from .kinds import Kind, State
from .pipeline import keep_video
from .relay import TASK_ROUTES
from .relay.taskstatus import TaskStatus, read_status
from .sink import JobSink

NOT_HERE = (NotFoundError, BadRequestError, BadReplyError, RelayServerError)


@dataclass
class Outcome:
    kind: Kind
    values: dict[str, object] = field(default_factory=dict)
    relay_text: str = ""


async def check_again(jobs: Jobs, job: Job, choice: KeyChoice) -> Outcome:
    if job.running or job.state in (State.DONE, State.WAITING):
        return Outcome(Kind.NOT_APPLICABLE)
    backends = choice.relay.backends
    if job.video_url:
        try:
            await _keep(
                jobs, job, VideoReady(job.video_url, job.thumbnail_url, job.needs_key), choice
            )
            return Outcome(Kind.RECOVERED)
        except LinkExpiredError:
            pass  # ask the relay for a fresh link below
        except DownloadError as err:
            return Outcome(err.kind, relay_text=err.relay_text)
    asked: list[str] = []
    answers: list[str] = []
    if job.task_id and is_task_id(job.task_id):
        routes = [job.route] if job.route in TASK_ROUTES else list(TASK_ROUTES)
        for route in routes:
            backend = backends.get(route)
            path = backend.status_path(job.task_id)
            asked.append(path.split("?")[0])
            try:
                status = await backend.poll(job.task_id, choice.key)
            except NOT_HERE as err:
                answers.append(_answer(err))
                continue
            return await _settle(
                jobs, job, choice, status, route, backend.video_of(job.task_id, status)
            )
    for link in job.links:
        asked.append(link)
        try:
            data = await backends.http.call_json("GET", link, key=None)
        except SuxiError as err:  # status pages live on other hosts: any failure is skipped
            answers.append(_answer(err))
            continue
        status = read_status(data)
        if status.state == "done" and status.video_url:
            return await _settle(jobs, job, choice, status, None, VideoReady(status.video_url))
    return Outcome(
        Kind.NO_RECOVERY,
        {"asked": ", ".join(asked) or "—", "answer": "; ".join(answers) or "no task id"},
    )


async def _settle(
    jobs: Jobs,
    job: Job,
    choice: KeyChoice,
    status: TaskStatus,
    route: str | None,
    video: VideoReady | None,
) -> Outcome:
    if status.state == "done":
        if video is None:
            return Outcome(Kind.NO_VIDEO)
        await _keep(jobs, job, video, choice)
        return Outcome(Kind.RECOVERED)
    if status.state == "failed":
        jobs.commit(job.with_(relay_text=status.message or job.relay_text))
        return Outcome(Kind.RELAY_FAILED, relay_text=status.message)
    percent = f"{status.percent:.0f}%" if status.percent is not None else "…"
    if route is not None:
        jobs.follow_again(job, choice, route)
    return Outcome(Kind.STILL_RUNNING, {"percent": percent})


async def _keep(jobs: Jobs, job: Job, video: VideoReady, choice: KeyChoice) -> None:
    job = jobs.commit(
        job.with_(
            state=State.DOWNLOADING,
            video_url=video.url,
            thumbnail_url=video.thumbnail or job.thumbnail_url,
            needs_key=video.needs_key,
        )
    )
    sink = JobSink(job, jobs.data_dir, jobs.commit, jobs.remember_route, choice.key)
    try:
        await keep_video(choice.relay.backends, video, choice.key, sink)
    except SuxiError as err:
        jobs.commit(sink.job.failed(err.kind, err.relay_text, at=time.time(), charged=True))
        raise


def _answer(err: SuxiError) -> str:
    """What one place answered, short and readable: its status and, if any, its own words."""
    said = f" “{err.relay_text[:80]}”" if err.relay_text else ""
    return f"HTTP {err.status}{said}" if err.status else f"no usable answer{said}"
