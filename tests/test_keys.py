"""Whose key a request spends, per-visitor limits, and input that must never be sent."""

from __future__ import annotations

import asyncio

import pytest

from suxi.client import RelayClient
from suxi.errors import InputError
from suxi.jobs import Jobs
from suxi.runtime import DEMO_KEY, Runtime
from suxi.simrelay import Content, Sleep
from suxi.store import Store

from .test_jobs import until_finished


def start(jobs, key="sk-visitor-one", owner="v1", **kw):
    return jobs.start(
        owner=owner, prompt="a fox in snow", max_tokens=1000, stream=True, api_key=key, **kw
    )


async def test_each_key_reaches_the_relay_only_on_its_own_requests(jobs, relay):
    first = start(jobs, "sk-visitor-one", "v1")
    second = start(jobs, "sk-visitor-two", "v2")
    await until_finished(jobs, first.id)
    await until_finished(jobs, second.id)
    by_prompt = sorted(p.headers["authorization"] for p in relay.posts())
    assert by_prompt == ["Bearer sk-visitor-one", "Bearer sk-visitor-two"]


@pytest.mark.parametrize("key", ["sk-with space", "sk-newline\n", "\tsk-tab", "", "sk-\x00nul"])
async def test_a_malformed_key_is_refused_before_anything_is_sent(jobs, relay, key):
    with pytest.raises(InputError) as info:
        start(jobs, key)
    assert info.value.kind == "bad_key"
    await asyncio.sleep(0.05)
    assert relay.posts() == [] and jobs.store.list() == []


@pytest.mark.parametrize("base", ["ftp://relay.example", "not a url", "http://"])
async def test_a_malformed_base_url_is_refused_before_anything_is_sent(settings, relay, base):
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings.with_(base_url=base))
    runner = Jobs(settings, store, client)
    try:
        with pytest.raises(InputError) as info:
            start(runner)
        assert info.value.kind == "bad_base_url"
        assert relay.posts() == [] and store.list() == []
    finally:
        await client.aclose()
        store.close()


async def test_concurrent_limit_per_visitor(settings, relay):
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings)
    runner = Jobs(settings.with_(visitor_max_running=2), store, client)
    relay.set_default([Content("> 排队中\n\n"), Sleep(30 * 200)])
    try:
        start(runner, owner="v1", limited=True, address="a1")
        start(runner, owner="v1", limited=True, address="a1")
        with pytest.raises(InputError) as info:
            start(runner, owner="v1", limited=True, address="a1")
        assert info.value.kind == "visitor_running" and info.value.values == {"limit": 2}
        # A fresh visitor token from the same address is the same visitor.
        with pytest.raises(InputError):
            start(runner, owner="v1-new-token", limited=True, address="a1")
        # Someone else is not affected, and neither is a visitor's own key (limited=False).
        start(runner, owner="v2", limited=True, address="a2")
        start(runner, owner="v1", limited=False, address="a1")
    finally:
        await runner.shutdown()
        await client.aclose()
        store.close()


async def test_hourly_limit_per_visitor(settings, relay):
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings)
    runner = Jobs(settings.with_(visitor_max_per_hour=3, visitor_max_running=10), store, client)
    try:
        for _ in range(3):
            record = start(runner, owner="v1", limited=True, address="a1")
            await until_finished(runner, record.id)
        posts = len(relay.posts())
        with pytest.raises(InputError) as info:
            start(runner, owner="v1", limited=True, address="a1")
        assert info.value.kind == "visitor_hourly"
        assert len(relay.posts()) == posts
    finally:
        await runner.shutdown()
        await client.aclose()
        store.close()


def test_runtime_picks_the_visitor_key_and_limits_only_the_operator_key(tmp_path):
    from suxi.settings import Settings

    operator = Runtime(
        Settings(api_key="sk-operator", shared=True, data_dir=tmp_path, visitor_keys=True)
    )
    assert operator.key_for("sk-mine")[0] == "sk-mine"
    assert operator.key_for("sk-mine")[2] is False
    assert operator.key_for("")[0] == "sk-operator"
    assert operator.key_for("")[2] is True
    with pytest.raises(InputError):
        operator.key_for("sk mine")
    closed = Runtime(Settings(api_key="sk-operator", data_dir=tmp_path, visitor_keys=False))
    assert closed.key_for("sk-mine")[0] == "sk-operator"  # visitor keys not allowed here
    demo = Runtime(Settings(api_key="", data_dir=tmp_path))
    assert demo.key_for("")[0] == DEMO_KEY
