"""Prices from new-api's public price list: per video when published, nothing otherwise, kept a
few minutes, asked once at a time, and never slower than a short timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from suxi.pricing import PRICING_PATH, Price, PriceList, prices_from
from suxi.relay.http import RelayHTTP
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.studio import Studio, Who

WHO = Who("visitor-token-0000000001")


def pricing_requests(relay) -> list:
    return [r for r in relay.requests if r.path == PRICING_PATH]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_call_prices_are_read_and_token_prices_left_out():
    reply = {
        "success": True,
        "data": [
            {
                "model_name": "sora-2",
                "quota_type": 1,
                "model_price": 0.5,
                "enable_groups": ["default"],
            },
            {
                "model_name": "veo3",
                "quota_type": "1",
                "model_price": "0.8",
                "enable_groups": ["vip"],
            },
            {"model_name": "gpt-4o-mini", "quota_type": 0, "model_ratio": 0.075},
            {"model_name": "free-video", "quota_type": 1, "model_price": 0},
            {"model_name": "", "quota_type": 1, "model_price": 1},
            "junk",
        ],
        "group_ratio": {"default": 1.5, "vip": 3},
    }
    assert prices_from(reply) == {
        "sora-2": Price("sora-2", 0.75),  # the default group's ratio applies
        "veo3": Price("veo3", 0.8),  # not sold in the default group: the bare price
    }


@pytest.mark.parametrize(
    "reply",
    [None, "text", [], {"success": False, "data": []}, {"data": "x"}, {"data": [{"x": 1}]}],
)
def test_odd_price_lists_give_no_prices(reply):
    assert prices_from(reply) == {}


def test_a_price_says_its_unit():
    assert Price("sora-2", 0.5).text("en") == "0.5 quota per video"
    assert Price("sora-2", 0.5).text("zh", "$") == "每个视频 $0.5"


async def test_the_simulators_price_list_is_read_and_kept(settings, relay):
    clock = Clock()
    http = RelayHTTP(settings)
    prices = PriceList(http, keep=300, clock=clock)
    try:
        assert await prices.price("sora-2") == Price("sora-2", 0.5)
        assert await prices.price("gpt-4o-mini") is None  # token-priced
        assert await prices.price("not-listed") is None
        assert len(pricing_requests(relay)) == 1
        assert "authorization" not in pricing_requests(relay)[0].headers  # public: no key
        relay.price_per_video = 0.7
        clock.now += 301
        assert await prices.price("sora-2") == Price("sora-2", 0.7)
        assert len(pricing_requests(relay)) == 2
    finally:
        await http.aclose()


async def test_concurrent_askers_share_one_request(settings, relay):
    http = RelayHTTP(settings)
    prices = PriceList(http)
    try:
        answers = await asyncio.gather(*(prices.price("veo3") for _ in range(10)))
    finally:
        await http.aclose()
    assert answers == [Price("veo3", 0.5)] * 10 and len(pricing_requests(relay)) == 1


async def test_a_relay_without_a_price_list_is_not_asked_again_soon(settings, relay):
    relay.pricing_enabled = False
    clock = Clock()
    http = RelayHTTP(settings)
    prices = PriceList(http, clock=clock)
    try:
        assert await prices.price("sora-2") is None
        assert await prices.price("sora-2") is None
        assert len(pricing_requests(relay)) == 1
        relay.pricing_enabled = True
        clock.now += 301
        assert await prices.price("sora-2") == Price("sora-2", 0.5)
    finally:
        await http.aclose()


async def test_a_slow_relay_costs_at_most_the_timeout(settings):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"data": []})

    http = RelayHTTP(settings, transport=httpx.MockTransport(slow))
    prices = PriceList(http, timeout=0.2)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        assert await prices.price("sora-2") is None
    finally:
        await http.aclose()
    assert loop.time() - began < 1.0
    assert prices.cached("sora-2") is None and prices.fresh()


async def test_the_studio_asks_the_relay_the_key_goes_to(settings: Settings, relay):
    runtime = Runtime(settings)
    await runtime.start()
    try:
        studio = Studio(runtime)
        assert await studio.assist.price("sora-2", WHO) == Price("sora-2", 0.5)
        assert await studio.assist.price("sora-2-pro", WHO) == Price("sora-2-pro", 0.5)
        assert await studio.assist.price("gpt-4o", WHO) is None
    finally:
        await runtime.close()
    assert len(pricing_requests(relay)) == 1
