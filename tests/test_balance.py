"""The key's balance: read from the simulated relay's billing routes (and from relays without
them, or with odd answers), shown in its unit, compared between readings, and hidden from
visitors when it is the operator's on a shared deployment."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from suxi.balance import (
    SUBSCRIPTION_PATH,
    Balance,
    BalanceWatch,
    Standing,
    format_amount,
    from_replies,
    read_balance,
)
from suxi.kinds import Kind, State
from suxi.relay.http import RelayHTTP
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.simrelay import UNLIMITED_BALANCE
from suxi.studio import Form, Studio, Who

from .conftest import KEY

WHO = Who("visitor-token-0000000001", "203.0.113.7")


async def started(settings: Settings):
    runtime = Runtime(settings)
    await runtime.start()
    return runtime


async def make_one_video(studio: Studio, who: Who = WHO) -> None:
    started_jobs = await studio.start(Form(prompt="a red kite"), who)
    job = started_jobs.jobs[0]

    async def run():
        async for snap in studio.jobs.follow(job.id):
            last = snap
        return last

    last = await asyncio.wait_for(run(), 20)
    assert last.state == State.DONE


def billing_requests(relay) -> list:
    return [r for r in relay.requests if r.path.startswith("/v1/dashboard/billing/")]


# — reading the two replies —


def test_balance_is_the_limit_minus_the_usage_in_hundredths():
    b = from_replies({"hard_limit_usd": 12.5}, {"total_usage": 250})
    assert b == Balance(Standing.KNOWN, amount=10.0, used=2.5)


def test_a_limit_of_a_hundred_million_or_more_is_unlimited_and_keeps_the_usage():
    assert from_replies({"hard_limit_usd": 100000000}, {"total_usage": 300}) == Balance(
        Standing.UNLIMITED, used=3.0
    )
    assert from_replies({"hard_limit_usd": 1e300}, {}).standing == Standing.UNLIMITED


@pytest.mark.parametrize(
    ("subscription", "usage", "expected"),
    [
        ({"hard_limit_usd": "12.5"}, {"total_usage": "250"}, Standing.KNOWN),  # numbers as text
        ({"hard_limit_usd": "lots"}, {"total_usage": 0}, Standing.UNREADABLE),
        ({"hard_limit_usd": -3}, {"total_usage": 0}, Standing.UNREADABLE),
        ({"hard_limit_usd": 10}, {"total_usage": -5}, Standing.UNREADABLE),
        ({"hard_limit_usd": 10}, {"total_usage": 1e30}, Standing.UNREADABLE),
        ({"hard_limit_usd": True}, {"total_usage": 0}, Standing.UNREADABLE),
        ({}, {"total_usage": 0}, Standing.UNREADABLE),
        ({"hard_limit_usd": 10}, {}, Standing.UNREADABLE),
        ("a string", ["a list"], Standing.UNREADABLE),
        ({"system_hard_limit_usd": 10}, {"total_usage": 100}, Standing.KNOWN),
    ],
)
def test_odd_replies_are_read_or_called_unreadable_never_raised(subscription, usage, expected):
    assert from_replies(subscription, usage).standing == expected


def test_amounts_say_their_unit_and_never_invent_a_dollar_sign():
    assert format_amount(12.5, "quota") == "12.5 quota"
    assert format_amount(12.5, "$") == "$12.5"
    assert format_amount(-0.25, "$") == "-$0.25"
    assert format_amount(1234567.891, "USD") == "1,234,567.89 USD"
    assert format_amount(0.123456, "额度") == "0.1235 额度"
    assert format_amount(-0.00001, "quota") == "0 quota"
    assert format_amount(3, "") == "3"


# — against the simulated relay —


async def test_the_balance_and_what_a_finished_job_cost(settings, relay):
    relay.balance = 10.0
    runtime = await started(settings)
    try:
        studio = Studio(runtime)
        first = await studio.assist.balance(WHO)
        assert first.balance == Balance(Standing.KNOWN, amount=10.0, used=0.0)
        assert first.text("en") == "Balance: 10 quota."
        assert first.text("zh") == "余额：10 额度。"
        await make_one_video(studio)
        second = await studio.assist.balance(WHO)
        assert second.balance.amount == 9.5 and second.cost == 0.5 and second.ended == 1
        assert second.text("en") == (
            "Balance: 9.5 quota. The job that ended since the last reading cost 0.5 quota."
        )
    finally:
        await runtime.close()


async def test_several_jobs_are_reported_together(settings, relay):
    relay.balance = 10.0
    runtime = await started(settings.with_(balance_unit="USD"))
    try:
        studio = Studio(runtime)
        await studio.assist.balance(WHO)
        await asyncio.gather(make_one_video(studio), make_one_video(studio))
        report = await studio.assist.balance(WHO)
        assert report.ended == 2 and report.cost == 1.0
        assert "The 2 jobs that ended since the last reading cost 1 USD together." in report.text(
            "en"
        )
        assert "共花费 1 USD" in report.text("zh")
    finally:
        await runtime.close()


async def test_spending_elsewhere_is_told_apart_from_these_jobs(settings, relay):
    relay.balance = 10.0
    runtime = await started(settings)
    try:
        studio = Studio(runtime)
        await studio.assist.balance(WHO)
        relay.spent += 2.0  # another program used the same key
        relay.balance -= 2.0
        report = await studio.assist.balance(WHO)
        assert report.ended == 0 and report.cost == 2.0
        assert report.lines("en")[-1] == (
            "Since the last reading 2 quota was spent on this key outside these jobs."
        )
    finally:
        await runtime.close()


async def test_a_low_balance_warns(settings, relay):
    relay.balance = 3.0
    runtime = await started(settings.with_(low_balance=5.0, balance_unit="$"))
    try:
        report = await Studio(runtime).assist.balance(WHO)
        assert report.low
        assert report.lines("en") == [
            "Balance: $3.",
            "The balance is low ($3, below $5): videos may be refused until it is topped up.",
        ]
    finally:
        await runtime.close()


async def test_an_unlimited_key_says_so_and_is_never_low(settings, relay):
    relay.balance = UNLIMITED_BALANCE
    runtime = await started(settings.with_(low_balance=5.0))
    try:
        report = await Studio(runtime).assist.balance(WHO)
        assert report.balance.standing == Standing.UNLIMITED and not report.low
        assert report.text("en") == "Balance: unlimited."
    finally:
        await runtime.close()


async def test_a_relay_without_billing_routes_gives_a_note_not_an_error(settings, relay):
    relay.balance = None  # the simulator then answers 404 on both routes
    runtime = await started(settings)
    try:
        report = await Studio(runtime).assist.balance(WHO)
        assert report.balance.standing == Standing.NOT_OFFERED
        assert report.text("en").startswith("This relay does not tell the balance")
        assert report.text("zh").startswith("这个中转站不提供余额查询")
    finally:
        await runtime.close()


async def test_a_refused_key_says_why(settings, relay):
    relay.valid_keys = {"another-key-entirely"}
    http = RelayHTTP(settings)
    try:
        balance = await read_balance(http, KEY)
    finally:
        await http.aclose()
    assert balance.standing == Standing.FAILED and balance.kind == Kind.AUTH
    assert balance.relay_text == "无效的令牌"


async def test_the_operators_balance_is_hidden_from_visitors_of_a_shared_site(settings, relay):
    runtime = await started(settings.with_(shared=True))
    try:
        studio = Studio(runtime)
        report = await studio.assist.balance(WHO)
        assert not report.shown and report.lines("en") == []
        assert billing_requests(relay) == []  # not even asked
        own = await studio.assist.balance(
            Who(WHO.owner, WHO.address, api_key="sk-visitor-own-0001")
        )
        assert own.shown and own.balance.standing == Standing.UNLIMITED
        auths = {r.headers.get("authorization") for r in billing_requests(relay)}
        assert auths == {"Bearer sk-visitor-own-0001"}
    finally:
        await runtime.close()


async def test_show_balance_lets_visitors_see_the_operators(settings, relay):
    runtime = await started(settings.with_(shared=True, show_balance=True))
    try:
        report = await Studio(runtime).assist.balance(WHO)
        assert report.shown and report.balance.standing == Standing.UNLIMITED
    finally:
        await runtime.close()


# — odd relays (a transport in place of the network) —


def odd_relay(settings: Settings, subscription: httpx.Response, usage: httpx.Response):
    def answer(request: httpx.Request) -> httpx.Response:
        return subscription if request.url.path == SUBSCRIPTION_PATH else usage

    return RelayHTTP(settings, transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("subscription", "usage", "standing", "kind"),
    [
        (
            httpx.Response(200, text="<html><title>Welcome</title></html>"),
            httpx.Response(200, json={}),
            Standing.UNREADABLE,
            None,
        ),
        (
            httpx.Response(200, json={"hard_limit_usd": "12"}),
            httpx.Response(200, json={"total_usage": "200"}),
            Standing.KNOWN,
            None,
        ),
        (
            httpx.Response(502, text="Bad gateway"),
            httpx.Response(200, json={}),
            Standing.FAILED,
            Kind.SERVER,
        ),
        (
            httpx.Response(200, json={"hard_limit_usd": 10}),
            httpx.Response(405, json={"error": {"message": "Method not allowed"}}),
            Standing.NOT_OFFERED,
            None,
        ),
    ],
)
async def test_odd_relays(settings, subscription, usage, standing, kind):
    http = odd_relay(settings, subscription, usage)
    try:
        balance = await read_balance(http, KEY)
    finally:
        await http.aclose()
    assert balance.standing == standing and balance.kind == kind
    if standing == Standing.KNOWN:
        assert balance.amount == 10.0


def test_a_failed_reading_explains_itself_in_both_languages():
    watch = BalanceWatch("secret")
    report = watch.observe(KEY, Balance(Standing.FAILED, kind=Kind.AUTH, relay_text="无效的令牌"))
    said = "The balance could not be read. The relay refused the API key"
    assert report.text("en").startswith(said)
    assert "“无效的令牌”" in report.text("en") and report.text("zh").startswith("无法读取余额。")


# — the watch —


def test_the_watch_keeps_readings_by_salted_hash_never_the_key():
    times = iter([100.0, 200.0])
    watch = BalanceWatch("deployment-secret", clock=lambda: next(times))
    assert watch.since(KEY) is None
    watch.observe(KEY, Balance(Standing.KNOWN, amount=5.0, used=1.0))
    assert watch.since(KEY) == 100.0 and watch.since("some-other-key") is None
    assert KEY not in repr(vars(watch))
    assert watch.key_id(KEY) != BalanceWatch("other-secret").key_id(KEY)
    report = watch.observe(KEY, Balance(Standing.KNOWN, amount=9.0, used=2.0), ended=3)
    assert report.cost == 1.0 and report.ended == 3  # topped up meanwhile: cost is still 1
    assert watch.since(KEY) == 200.0


def test_a_usage_counter_that_went_backwards_reports_no_cost():
    watch = BalanceWatch("secret")
    watch.observe(KEY, Balance(Standing.KNOWN, amount=5.0, used=4.0))
    report = watch.observe(KEY, Balance(Standing.KNOWN, amount=5.0, used=1.0), ended=2)
    assert report.cost is None and report.ended == 0
    assert report.text("en") == "Balance: 5 quota."
