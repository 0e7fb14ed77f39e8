"""Jobs belong to the app: write-ahead records, following, stopping, restarts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from suxi.client import RelayClient
from suxi.errors import InputError
from suxi.jobs import Jobs, validate
from suxi.simrelay import Content, Sleep
from suxi.store import Store

from .conftest import KEY

SAMPLE = Path(__file__).parent.parent / "assets" / "sample.mp4"


def start(jobs: Jobs, prompt: str = "a lighthouse in a storm", **kw):
    return jobs.start(owner="me", prompt=prompt, max_tokens=1000, stream=True, api_key=KEY, **kw)


async def until_finished(jobs: Jobs, job_id: str, limit: float = 10.0):
    deadline = time.monotonic() + limit
    while (record := jobs.get(job_id)).running:
        assert time.monotonic() < deadline, f"job still {record.state}"
        await jobs.wait_change(job_id, 0.2)
    return record


async def test_job_ends_done_with_the_served_video(jobs, relay):
    record = start(jobs)
    done = await until_finished(jobs, record.id)
    assert done.state == "done"
    assert Path(done.file).read_bytes() == SAMPLE.read_bytes()
    assert done.task_id and done.task_id.startswith("task_")
    assert done.understood["prompt"] == "a lighthouse in a storm"
    stored = jobs.store.get(record.id)
    assert stored.state == "done" and stored.file == done.file


async def test_record_is_written_before_the_relay_sees_the_request(jobs, relay, settings):
    seen: list[object] = []

    def script(request, base_url):
        db = sqlite3.connect(settings.data_dir / "jobs.sqlite3")
        seen.append(db.execute("SELECT state, prompt FROM jobs").fetchall())
        db.close()
        return [Content("[在线播放▶️](" + base_url + "/files/sample.mp4)\n\n")]

    relay.push(script)
    record = start(jobs)
    await until_finished(jobs, record.id)
    assert seen == [[("pending", "a lighthouse in a storm")]]


async def test_stop_closes_the_upstream_within_a_second(jobs, relay):
    relay.push([Content("> 排队中\n\n"), Sleep(60 * 200)])
    record = start(jobs)
    while not relay.posts():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    stopped_at = time.monotonic()
    assert jobs.cancel(record.id)
    final = await until_finished(jobs, record.id)
    assert final.state == "cancelled"
    for _ in range(100):
        if relay.disconnects:
            break
        await asyncio.sleep(0.01)
    (path, when), *_ = relay.disconnects
    assert path == "/v1/chat/completions"
    assert when - stopped_at < 1.0


async def test_restart_marks_running_jobs_interrupted(settings, relay):
    relay.push([Content("> ID: task_abcdefghij12\n\n>🏃 进度 36..\n\n"), Sleep(60 * 200)])
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    record = start(runner)
    while (runner.get(record.id).percent or 0) < 36:
        await runner.wait_change(record.id, 0.2)
    await runner.shutdown()  # the app stops mid-job
    await client.aclose()
    store.close()

    reopened = Store(settings.data_dir / "jobs.sqlite3")
    assert reopened.mark_interrupted() == 1
    again = reopened.get(record.id)
    assert again.state == "interrupted"
    assert again.task_id == "task_abcdefghij12"
    assert again.percent == 36
    reopened.close()


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "kind"),
    [
        ("", 1000, "empty_prompt"),
        ("   \n\t ", 1000, "empty_prompt"),
        ("x" * 5000, 1000, "prompt_too_long"),
        ("ok", 0, "bad_max_tokens"),
        ("ok", 10**9, "bad_max_tokens"),
        ("ok", "lots", "bad_max_tokens"),
        ("ok", 12.5, "bad_max_tokens"),
        ("ok", None, "bad_max_tokens"),
        ("ok", float("nan"), "bad_max_tokens"),
    ],
)
def test_bad_input_is_refused_with_its_kind(settings, prompt, max_tokens, kind):
    with pytest.raises(InputError) as info:
        validate(settings, prompt, max_tokens)
    assert info.value.kind == kind


async def test_bad_input_sends_nothing_and_records_nothing(jobs, relay):
    with pytest.raises(InputError):
        start(jobs, prompt="  ")
    await asyncio.sleep(0.05)
    assert relay.posts() == []
    assert jobs.store.list() == []


async def interrupted_job(settings, relay, task_id="task_recover00001"):
    """A job that was running when the app stopped, as the next start finds it."""
    relay.push([Content(f"> ID: `{task_id}`\n\n>🏃 进度 36..\n\n"), Sleep(60 * 200)])
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    record = start(runner)
    while runner.get(record.id).task_id is None:
        await runner.wait_change(record.id, 0.2)
    await runner.shutdown()
    await client.aclose()
    store.close()
    return record.id


async def test_check_again_completes_an_interrupted_job(settings, relay):
    job_id = await interrupted_job(settings, relay)
    video_url = relay.add_file("late.mp4", b"late video bytes")
    relay.tasks["task_recover00001"] = {"status": "completed", "video_url": video_url}
    store = Store(settings.data_dir / "jobs.sqlite3")
    store.mark_interrupted()
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    try:
        assert runner.get(job_id).state == "interrupted"
        assert await runner.check_again(job_id, KEY) == "recovered"
        record = runner.get(job_id)
        assert record.state == "done"
        assert Path(record.file).read_bytes() == b"late video bytes"
        assert store.get(job_id).state == "done"
    finally:
        await client.aclose()
        store.close()


async def test_check_again_reports_a_job_still_running(settings, relay):
    job_id = await interrupted_job(settings, relay)
    relay.tasks["task_recover00001"] = {"status": "processing", "detail": {"progress": 0.58}}
    store = Store(settings.data_dir / "jobs.sqlite3")
    store.mark_interrupted()
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    try:
        assert await runner.check_again(job_id, KEY) == "still_running"
        assert runner.get(job_id).percent == pytest.approx(58)
    finally:
        await client.aclose()
        store.close()


async def test_check_again_says_when_the_relay_cannot_recover(settings, relay):
    job_id = await interrupted_job(settings, relay)  # the relay knows no such task: 404s
    store = Store(settings.data_dir / "jobs.sqlite3")
    store.mark_interrupted()
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    try:
        assert await runner.check_again(job_id, KEY) == "no_recovery"
        assert runner.get(job_id).state == "interrupted"
    finally:
        await client.aclose()
        store.close()


async def test_delete_removes_record_and_file(jobs, relay):
    record = start(jobs)
    done = await until_finished(jobs, record.id)
    assert Path(done.file).exists()
    assert jobs.delete(record.id)
    assert not Path(done.file).exists()
    assert jobs.store.get(record.id) is None


async def test_check_again_follows_the_streams_status_link(settings, relay):
    job_id = await interrupted_job(settings, relay, task_id="task_statuslink001")
    video_url = relay.add_file("via-link.mp4", b"found through the status link")
    status_url = relay.add_file(
        "status.json",
        json.dumps({"status": "completed", "video_url": video_url}).encode(),
    )
    store = Store(settings.data_dir / "jobs.sqlite3")
    store.mark_interrupted()
    record = store.get(job_id)
    record.links = ["https://status.invalid/source/task_statuslink001", status_url]
    store.save(record)  # an unreachable link first: skipped, not fatal
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    try:
        assert await runner.check_again(job_id, KEY) == "recovered"
        assert Path(runner.get(job_id).file).read_bytes() == b"found through the status link"
        status_fetch = [r for r in relay.requests if r.path.endswith("/status.json")]
        assert status_fetch and "authorization" not in status_fetch[0].headers
    finally:
        await client.aclose()
        store.close()
