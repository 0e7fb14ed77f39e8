"""Jobs the app owns, in every format, against the simulated relay on loopback: write-ahead
records, snapshots in order, one accepted create, resuming after a restart, stopping, and a
store that refuses a write."""

from __future__ import annotations

import asyncio
import time

import pytest

from suxi import conversation
from suxi.admission import Visitor
from suxi.errors import InputError
from suxi.generation import GenerationOptions
from suxi.jobs import StartRequest
from suxi.kinds import Kind, State
from suxi.runtime import Runtime
from suxi.simrelay import REMOVE, Frame, TaskPlan, error_reply
from suxi.store import StoreError

from .conftest import KEY

VISITOR = Visitor("visitor-token-0000000001", "addr-hash")


def request(prompt: str, model: str = "sora-2", **kw) -> StartRequest:
    options = GenerationOptions(model=model, **kw)
    return StartRequest(
        VISITOR, prompt, options, messages=conversation.first_messages(prompt, options)
    )


async def finish(runtime: Runtime, job_id: str, timeout: float = 20) -> list:
    snapshots = []

    async def run():
        async for job in runtime.jobs.follow(job_id):
            snapshots.append(job)

    await asyncio.wait_for(run(), timeout)
    return snapshots


async def test_a_chat_job_is_recorded_before_sending_and_ends_with_a_playable_file(runtime, relay):
    job = runtime.jobs.start(request("a chat video"), runtime.key_for(None))
    stored = runtime.store.get(job.id)
    assert stored is not None and stored.state == State.PENDING and not relay.posts()
    snaps = await finish(runtime, job.id)
    last = snaps[-1]
    assert last.state == State.DONE and last.route == "chat" and last.percent == 100
    assert last.file.startswith(f"videos/{last.media_token}/") and last.file.endswith(
        "-a-chat-video.mp4"
    )
    assert (runtime.configured.data_dir / last.file).stat().st_size > 1000
    assert last.thumbnail and last.task_id and last.sid and last.answer
    states = [s.state for s in snaps]
    assert states.index(State.QUEUED) < states.index(State.GENERATING) < states.index(State.DONE)
    percents = [s.percent for s in snaps if s.percent is not None]
    assert percents == sorted(percents), "progress went backwards"
    assert len(relay.posts()) == 1
    assert runtime.store.get(job.id) == last  # stored before it was told


@pytest.mark.parametrize(
    ("model", "fmt", "create_path"),
    [
        ("veo3.1-fast", "unified", "/v1/video/create"),
        ("veo3.1-fast", "openai", "/v1/videos"),
        ("grok-video-3", "auto", "/v1/video/create"),
    ],
)
async def test_a_task_job_stores_its_task_id_before_the_first_poll(
    runtime, relay, model, fmt, create_path
):
    job = runtime.jobs.start(request("a task video", model, format=fmt), runtime.key_for(None))
    seen: dict[str, float] = {}

    async def watch():
        async for snap in runtime.jobs.follow(job.id):
            if snap.task_id and snap.task_id not in seen:
                seen[snap.task_id] = time.monotonic()
            if not snap.running:
                return snap

    last = await asyncio.wait_for(watch(), 20)
    assert last.state == State.DONE, (last.error_kind, last.relay_text)
    creates = relay.creates()
    assert len(creates) == 1 and creates[0].path == create_path and len(relay.made()) == 1
    polls = relay.polls(last.task_id)
    assert polls and seen[last.task_id] <= polls[0].time
    assert (runtime.configured.data_dir / last.file).is_file()
    assert last.applied is not None and last.applied.width and last.applied.height


async def test_auto_tries_the_next_task_route_only_when_the_route_is_unknown(runtime, relay):
    relay.formats = {"openai"}
    job = runtime.jobs.start(request("fallback", "veo3.1-fast"), runtime.key_for(None))
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.DONE and last.route == "openai"
    assert [r.path for r in relay.requests if r.method == "POST"] == [
        "/v1/video/create",
        "/v1/video/generations",
        "/v1/videos",
    ]
    assert len(relay.made()) == 1  # only one create was ever accepted
    # The relay's answer is remembered: the next job asks in that format first.
    job = runtime.jobs.start(request("second", "veo3.1-fast"), runtime.key_for(None))
    await finish(runtime, job.id)
    posts = [r.path for r in relay.requests if r.method == "POST"]
    assert posts[3:] == ["/v1/videos"]


async def test_every_route_refused_is_one_clear_failure(runtime, relay):
    relay.formats = {"chat"}
    job = runtime.jobs.start(request("nowhere", "kling-v2-1"), runtime.key_for(None))
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.error_kind == Kind.FORMAT_REFUSED
    assert dict(last.error_values)["model"] == "kling-v2-1"
    assert not relay.made() and len(relay.creates()) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, Kind.BAD_REQUEST), (401, Kind.AUTH), (403, Kind.QUOTA), (429, Kind.RATE_LIMIT),
     (503, Kind.UNAVAILABLE), (500, Kind.SERVER)],
)  # fmt: skip
async def test_a_refused_create_is_never_sent_again(runtime, relay, status, kind):
    relay.push_create(
        error_reply(
            status, {"error": {"message": f"relay says {status}"}}, headers=(("Retry-After", "9"),)
        )
    )
    job = runtime.jobs.start(
        request("refused", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.error_kind == kind
    assert last.relay_text == f"relay says {status}" and last.http_status == status
    assert len([r for r in relay.requests if r.method == "POST"]) == 1
    if status == 429:
        assert last.retry_after == "9"


async def test_a_create_without_a_task_id_fails_and_is_not_resent(runtime, relay):
    relay.push_create(error_reply(200, {"status": "pending"}))
    job = runtime.jobs.start(
        request("no id", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.error_kind == Kind.NO_TASK_ID and last.may_have_charged
    assert len([r for r in relay.requests if r.method == "POST"]) == 1


async def test_failed_polls_are_asked_again_and_the_job_still_finishes(runtime, relay):
    relay.push_task(
        TaskPlan(
            (
                Frame(0, "queued", reply=error_reply(500, "upstream hiccup")),
                Frame(
                    40,
                    "running",
                    50,
                    reply=error_reply(429, "slow", headers=(("Retry-After", "0.1"),)),
                ),
                Frame(80, "running", 70),
                Frame(120, "done", 100),
            )
        )
    )
    job = runtime.jobs.start(
        request("flaky polls", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.DONE
    assert len(relay.polls(last.task_id)) >= 3 and len(relay.creates()) == 1


async def test_progress_as_a_fraction_or_a_percentage_reads_the_same(runtime, relay):
    relay.push_task(
        TaskPlan(
            (
                Frame(0, "running", raw={"detail.pending_info.progress_pct": 0.42}),
                Frame(40, "running", raw={"progress": 61, "detail": REMOVE}),
                Frame(80, "done", 100),
            )
        )
    )
    job = runtime.jobs.start(
        request("percent", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    percents = [s.percent for s in await finish(runtime, job.id) if s.percent is not None]
    assert 42 in percents and 61 in percents and percents[-1] == 100


async def test_an_unknown_status_word_means_still_running(runtime, relay):
    relay.push_task(
        TaskPlan((Frame(0, "running", status="video_upsampling_flux"), Frame(40, "done", 100)))
    )
    job = runtime.jobs.start(
        request("odd word", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    snaps = await finish(runtime, job.id)
    assert snaps[-1].state == State.DONE
    assert State.FAILED not in [s.state for s in snaps]


async def test_the_relays_failure_reason_is_kept_in_its_words(runtime, relay):
    relay.push_task(TaskPlan((Frame(0, "queued"), Frame(40, "failed", reason="画面包含违规内容"))))
    job = runtime.jobs.start(
        request("refused later", "veo3.1-fast", format="openai"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.relay_text == "画面包含违规内容"
    assert last.error_kind == Kind.CONTENT_POLICY


async def test_completed_without_a_link_is_no_video(runtime, relay):
    relay.push_task(TaskPlan((Frame(0, "done", 100, video_url=None),)))
    job = runtime.jobs.start(
        request("no link", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.error_kind == Kind.NO_VIDEO and last.task_id


@pytest.mark.parametrize("content", ["redirect", "json", "bytes"])
async def test_openai_content_in_every_shape_gives_the_video(runtime, relay, content):
    relay.push_task(TaskPlan((Frame(0, "running", 10), Frame(40, "done", 100)), content=content))
    job = runtime.jobs.start(
        request("content", "veo3.1-fast", format="openai"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.DONE, (last.error_kind, last.relay_text)
    gets = [r for r in relay.requests if r.path.endswith("/content")]
    assert gets and all(r.headers.get("authorization") == f"Bearer {KEY}" for r in gets)
    # (That the key never goes to another origin is tested in test_relay_http.py: the "CDN"
    # the content endpoint points at here is the relay itself.)


async def test_an_expired_link_is_said_plainly_and_keeps_the_task(runtime, relay):
    relay.push_task(
        TaskPlan((Frame(0, "done", 100, video_url=None),), content=error_reply(403, "expired"))
    )
    job = runtime.jobs.start(
        request("expired", "veo3.1-fast", format="openai"), runtime.key_for(None)
    )
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.error_kind == Kind.LINK_EXPIRED
    assert last.task_id and last.video_url.endswith("/content") and not last.file


async def test_stopping_a_task_job_keeps_its_id_and_check_again_collects_it(runtime, relay):
    from suxi.recovery import check_again

    relay.push_task(
        TaskPlan(
            (Frame(0, "queued", position=2), Frame(60, "running", 50), Frame(120, "done", 100))
        )
    )
    job = runtime.jobs.start(
        request("stop me", "veo3.1-fast", format="unified"), runtime.key_for(None)
    )
    async for snap in runtime.jobs.follow(job.id):
        if snap.task_id:
            break
    runtime.jobs.stop(job.id)
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.CANCELLED and last.error_kind == Kind.STOPPED_TASK and last.task_id
    await asyncio.sleep(120 / relay.speed + 0.1)  # the relay finishes it anyway
    outcome = await check_again(runtime.jobs, runtime.jobs.get(job.id), runtime.key_for(None))
    assert outcome.kind == Kind.RECOVERED
    done = runtime.jobs.get(job.id)
    assert done.state == State.DONE and (runtime.configured.data_dir / done.file).is_file()
    assert len(relay.creates()) == 1


async def test_a_restart_resumes_a_task_job_without_a_second_create(settings, relay):
    relay.push_task(
        TaskPlan((Frame(0, "queued"), Frame(100, "running", 40), Frame(200, "done", 100)))
    )
    first = await Runtime(settings).start()
    job = first.jobs.start(request("survive", "veo3.1-fast", format="unified"), first.key_for(None))
    async for snap in first.jobs.follow(job.id):
        if snap.task_id:
            break
    await first.close()  # the app stops mid-job
    assert first.store is not None
    second = await Runtime(settings).start()
    try:
        last = (await finish(second, job.id))[-1]
        assert last.state == State.DONE and len(relay.creates()) == 1
    finally:
        await second.close()


async def test_a_restart_marks_a_chat_stream_interrupted(settings, relay):
    first = await Runtime(settings).start()
    job = first.jobs.start(request("chat cut"), first.key_for(None))
    async for snap in first.jobs.follow(job.id):
        if snap.state == State.QUEUED:
            break
    await first.close()
    second = await Runtime(settings).start()
    try:
        last = second.jobs.get(job.id)
        assert last.state == State.INTERRUPTED and last.error_kind == Kind.INTERRUPTED
        assert len(relay.posts()) == 1
    finally:
        await second.close()


async def test_a_store_that_refuses_a_write_ends_the_job_and_frees_it(runtime, relay, monkeypatch):
    real = runtime.store.save
    calls = {"n": 0}

    def flaky(job):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise StoreError("disk I/O error")
        real(job)

    monkeypatch.setattr(runtime.store, "save", flaky)
    job = runtime.jobs.start(request("store breaks"), runtime.key_for(None))
    last = (await finish(runtime, job.id))[-1]
    assert last.state == State.FAILED and last.error_kind == Kind.STORE_FAILED
    assert not runtime.jobs.running() and runtime.jobs.get(job.id).error_kind == Kind.STORE_FAILED


async def test_chat_streams_wait_for_a_free_slot_but_task_jobs_do_not(settings, relay):
    rt = await Runtime(settings.with_(max_jobs=1, own_key_reserved=0, max_queue=1)).start()
    try:
        first = rt.jobs.start(request("first"), rt.key_for(None))
        second = rt.jobs.start(request("second"), rt.key_for(None))
        with pytest.raises(InputError) as err:
            rt.jobs.start(request("third"), rt.key_for(None))
        assert err.value.kind == Kind.BUSY
        task = rt.jobs.start(request("task", "veo3.1-fast", format="unified"), rt.key_for(None))
        await asyncio.sleep(0.3)
        waiting = rt.jobs.get(second.id)
        assert waiting.state == State.PENDING and waiting.started is None  # "waiting for a slot"
        assert rt.jobs.get(task.id).task_id  # polled although both streams are taken
        for j in (first, second, task):
            assert (await finish(rt, j.id, 30))[-1].state == State.DONE
    finally:
        await rt.close()


async def test_a_full_disk_fails_the_job_keeps_the_link_and_check_again_collects_it(
    settings, relay
):
    from suxi.recovery import check_again

    full = await Runtime(settings.with_(min_free_bytes=10**18)).start()  # no disk is that free
    try:
        job = full.jobs.start(request("no room"), full.key_for(None))
        last = (await finish(full, job.id))[-1]
        assert last.state == State.FAILED and last.error_kind == Kind.DISK_FULL
        assert last.video_url and last.task_id and not last.file
        assert not list((settings.data_dir / "videos").rglob("*.part"))  # nothing half-written
    finally:
        await full.close()
    room = await Runtime(settings).start()  # space was freed
    try:
        found = await check_again(room.jobs, room.jobs.get(job.id), room.key_for(None))
        assert found.kind == Kind.RECOVERED and room.jobs.get(job.id).state == State.DONE
        assert len(relay.posts()) == 1
    finally:
        await room.close()


async def test_old_video_files_are_removed_but_their_records_stay(settings, relay):
    import sqlite3

    from suxi.cards import card

    rt = await Runtime(settings.with_(keep_days=2)).start()
    try:
        old = (await finish(rt, rt.jobs.start(request("old"), rt.key_for(None)).id))[-1]
        new = (await finish(rt, rt.jobs.start(request("new"), rt.key_for(None)).id))[-1]
        db = sqlite3.connect(settings.data_dir / "jobs.sqlite3")
        db.execute("UPDATE jobs SET finished = finished - 3 * 86400 WHERE id = ?", (old.id,))
        db.commit()
        db.close()
        assert rt.prune_old_files() == 1
        kept_old, kept_new = rt.store.get(old.id), rt.store.get(new.id)
        assert kept_old.state == State.DONE and kept_old.pruned and kept_old.file is None
        assert not (settings.data_dir / old.file).exists()
        assert (settings.data_dir / kept_new.file).is_file() and not kept_new.pruned
        shown = card(kept_old, "en")
        assert shown["video"] is None and shown["pruned"] is True
    finally:
        await rt.close()
