"""Followers of job snapshots: nothing missed between the read and the wait, newest kept."""

from __future__ import annotations

import asyncio

from suxi.generation import GenerationOptions
from suxi.hub import Hub
from suxi.job import Job
from suxi.kinds import State


def job(job_id: str, percent: float | None = None, state: State = State.GENERATING) -> Job:
    return Job(job_id, "o", 0.0, "p", GenerationOptions("sora-2"), percent=percent, state=state)


async def test_a_change_published_before_the_wait_is_not_missed():
    hub = Hub()
    with hub.subscribe(["a"]) as sub:
        hub.publish(job("a", 10))  # lands between "read the state" and "wait"
        changed = await sub.changes(timeout=0.01)
    assert [j.percent for j in changed] == [10]


async def test_a_slow_follower_gets_the_newest_snapshot_of_each_job_once():
    hub = Hub()
    with hub.subscribe(["a", "b"]) as sub:
        for pct in (1, 2, 3):
            hub.publish(job("a", pct))
        hub.publish(job("b", 50))
        hub.publish(job("c", 99))  # not followed
        changed = await sub.changes(timeout=0.01)
        assert sorted((j.id, j.percent) for j in changed) == [("a", 3), ("b", 50)]
        assert await sub.changes(timeout=0.01) == []


async def test_closing_a_subscription_leaves_nothing_behind():
    hub = Hub()
    subs = [hub.subscribe(["a", "b"]) for _ in range(100)]
    assert hub.followers == 200
    for sub in subs:
        sub.close()
    assert hub.followers == 0 and not hub._subs


async def test_publish_wakes_a_waiting_follower_at_once():
    hub = Hub()
    with hub.subscribe(["a"]) as sub:
        waiter = asyncio.create_task(sub.changes(timeout=5))
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        hub.publish(job("a", 7, State.DONE))
        got = await waiter
        assert loop.time() - sent < 0.05 and got[0].state == State.DONE


async def test_a_subscription_can_grow():
    hub = Hub()
    with hub.subscribe([]) as sub:
        sub.add("z")
        hub.publish(job("z", 1))
        assert [j.id for j in await sub.changes(0.01)] == ["z"]
    assert not hub._subs
