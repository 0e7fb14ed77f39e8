"""The job database: a real SQLite file, migrated in place from the first released schema,
pages of a large library, and the ledger of spends that deleting a job cannot reset."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from suxi.generation import GenerationOptions
from suxi.job import Applied, Job
from suxi.kinds import Kind, State
from suxi.store import Store, StoreError

FIXTURE = Path(__file__).parent / "fixtures" / "jobs_v0.sql"
A, B, C = "a" * 32, "b" * 32, "c" * 32


def make_job(i: int = 0, **kw) -> Job:
    return Job(
        id=kw.pop("id", f"{i:032x}"),
        owner=kw.pop("owner", "visitor-1"),
        created=kw.pop("created", 1_700_000_000.0 + i),
        prompt=kw.pop("prompt", f"prompt number {i}"),
        options=kw.pop("options", GenerationOptions(model="sora-2")),
        media_token=kw.pop("media_token", f"token{i:027d}"),
        **kw,
    )


@pytest.fixture
def old_database(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    (data / "videos" / f"{A}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 old video")
    db = sqlite3.connect(data / "jobs.sqlite3")
    db.executescript(FIXTURE.read_text(encoding="utf-8"))
    db.close()
    return data / "jobs.sqlite3"


def test_an_old_database_is_migrated_in_place(old_database: Path):
    store = Store(old_database)
    try:
        done, failed, running = store.get(A), store.get(B), store.get(C)
        assert done is not None and failed is not None and running is not None
        assert done.state == State.DONE and done.task_id == "task_01k7e5w9z5f2d91pekrqy59rwc"
        assert done.options.orientation == "portrait" and done.options.duration == 15
        assert done.options.format == "chat" and done.route == "chat"
        assert done.applied == Applied(prompt="A red kite", orientation="portrait", duration=15)
        assert done.answer.startswith("> ID: task_01k") and done.image == "file"
        assert done.messages[0]["content"].startswith("A red kite")
        assert done.relay_origin == "https://new.suxi.ai:443"
        assert done.address_hash == "abcd1234abcd1234"
        # The video moved into its own random folder under a readable name.
        assert done.file == f"videos/{done.media_token}/2025-11-24-a-red-kite.mp4"
        assert (old_database.parent / done.file).read_bytes().endswith(b"old video")
        assert not (old_database.parent / "videos" / f"{A}.mp4").exists()
        assert failed.error_kind == Kind.RATE_LIMIT and failed.http_status == 429
        assert failed.retry_after == "30" and failed.relay_text == "您已达到请求数限制"
        assert running.state == State.GENERATING and running.options.stream is False
        assert running.relay_origin == ""  # the demo relay on loopback: port unknown
        # Old jobs count in the ledger, so an upgrade never resets anyone's hourly limit.
        since = 1_763_999_999.0
        assert store.spends_since(since, what="video", owner="visitor-one") == 2
        assert store.spends_since(since, what="video", address="ffff0000ffff0000") == 1
        assert store.db_version() == 2
    finally:
        store.close()


def test_migrating_twice_changes_nothing(old_database: Path):
    Store(old_database).close()
    first = sqlite3.connect(old_database).execute("SELECT * FROM jobs ORDER BY id").fetchall()
    Store(old_database).close()
    second = sqlite3.connect(old_database).execute("SELECT * FROM jobs ORDER BY id").fetchall()
    assert first == second


def test_a_newer_database_is_refused_not_damaged(tmp_path: Path):
    path = tmp_path / "jobs.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(RuntimeError, match="newer version"):
        Store(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_save_round_trips_every_field(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    job = make_job(1, messages=({"role": "user", "content": "hi"},))
    store.create(job)
    changed = job.with_(
        state=State.FAILED,
        task_id="veo3:task_1",
        links=("https://asyncdata.net/web/task_1",),
        lines=("排队中", "进度 36%"),
        applied=Applied(width=1280, height=720),
        error_kind=Kind.CONTENT_POLICY,
        error_values=(("model", "veo3"),),
        relay_text="blocked",
        may_have_charged=True,
        answer="the answer",
    )
    store.save(changed)
    assert store.get(job.id) == changed
    store.close()


def test_save_refuses_a_partly_loaded_job(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    store.create(make_job(1, messages=({"role": "user", "content": "keep me"},)))
    [light], _ = store.page(None)
    assert light.partial and light.messages == ()
    with pytest.raises(ValueError):
        store.save(light)
    assert store.get(light.id).messages[0]["content"] == "keep me"
    store.close()


def test_a_refused_write_is_a_store_error(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    job = make_job(1)
    store.create(job)
    with pytest.raises(StoreError):
        store.create(job)  # the same id twice
    store.close()


def test_pages_filters_and_search(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    for i in range(30):
        state = State.DONE if i % 3 else State.FAILED
        owner = "visitor-1" if i < 25 else "visitor-2"
        store.create(
            make_job(i, state=state, owner=owner, prompt=f"cat {i}" if i % 2 else f"dog_{i}%")
        )
    jobs, total = store.page("visitor-1", limit=10)
    assert total == 25 and [j.created for j in jobs] == sorted(
        (j.created for j in jobs), reverse=True
    )
    later, _ = store.page("visitor-1", limit=10, offset=10)
    assert not {j.id for j in jobs} & {j.id for j in later}
    failed, n = store.page("visitor-1", states=("failed",))
    assert n == 9 and all(j.state == State.FAILED for j in failed)
    found, n = store.page(None, search="dog_1")  # "_" is a character, not a wildcard
    assert n == 5 and all(j.prompt.startswith("dog_1") for j in found)  # 10, 12 … 18
    assert store.page(None, search="%")[1] == 15  # only the prompts with a real "%"
    assert store.page("nobody")[1] == 0
    store.close()


def test_the_ledger_outlives_deleted_jobs(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    for i in range(3):
        job = make_job(i)
        store.create(job)
        store.spend(owner="v", address="addr", job_id=job.id, operator=True, what="video")
        store.delete(job.id)
    store.spend(owner="v", address="addr", job_id="x", operator=False, what="video")
    hour_ago = time.time() - 3600
    assert store.spends_since(hour_ago, what="video", owner="v") == 3  # own key not counted
    assert store.spends_since(hour_ago, what="video", address="addr") == 3
    assert store.spends_since(hour_ago, what="video", owner="fresh-token", address="addr") == 3
    assert store.spends_since(hour_ago, what="help", owner="v") == 0
    assert store.page(None)[1] == 0
    store.close()


def test_routes_and_meta_are_remembered(tmp_path: Path):
    path = tmp_path / "jobs.sqlite3"
    store = Store(path)
    store.remember_route("https://relay.example:443", "veo", "generations")
    store.remember_route("https://relay.example:443", "veo", "openai")
    store.set_meta("demo_port", "41234")
    store.close()
    store = Store(path)
    assert store.remembered_route("https://relay.example:443", "veo") == "openai"
    assert store.remembered_route("https://relay.example:443", "kling") is None
    assert store.meta("demo_port") == "41234"
    store.close()


def test_a_large_library_opens_its_first_page_fast(tmp_path: Path):
    store = Store(tmp_path / "jobs.sqlite3")
    rows = [make_job(i, owner=f"visitor-{i % 50}") for i in range(20_000)]
    with store._lock:
        store._db.execute("BEGIN")
        for job in rows:
            from suxi.store import to_row

            row = to_row(job)
            store._db.execute(
                f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                tuple(row.values()),
            )
        store._db.execute("COMMIT")
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE owner = ? ORDER BY created DESC LIMIT 24",
        ("visitor-3",),
    ).fetchall()
    assert any("jobs_owner_created" in str(tuple(r)) for r in plan), plan
    jobs, total = store.page("visitor-3", limit=24)
    assert total == 400 and len(jobs) == 24
    store.close()
