""" "Improve my prompt": the chat model it picks, the one call it makes to the simulated relay,
the answer it cleans, and the limits it keeps on the operator's key."""

from __future__ import annotations

import json

import httpx
import pytest

from suxi import prompthelp
from suxi.characters import Refused
from suxi.errors import AuthError, BadReplyError, InputError, RelayServerError
from suxi.kinds import Kind
from suxi.relay.http import RelayHTTP
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.simrelay import improve_prompt as simulated_improvement
from suxi.studio import Studio, Who

from .conftest import KEY

WHO = Who("visitor-token-0000000001", "203.0.113.7")


async def studio_for(settings: Settings) -> Studio:
    runtime = Runtime(settings)
    await runtime.start()
    return Studio(runtime)


# — which model —


def test_the_relays_small_chat_model_is_preferred():
    names = ["sora-2", "gpt-4o", "veo3", "gpt-4o-mini", "text-embedding-3-small"]
    assert prompthelp.pick_prompt_model(names) == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("names", "picked"),
    [
        (["sora-2", "veo3.1-fast", "grok-video-3"], None),  # video models only
        (["text-embedding-3-large", "tts-1", "dall-e-3", "whisper-1"], None),
        (["o1-mini", "claude-3-5-sonnet-20241022"], "claude-3-5-sonnet-20241022"),
        (["deepseek-reasoner", "deepseek-chat"], "deepseek-chat"),
        (["gpt-4o-mini-2024-07-18", "my-house-model"], "gpt-4o-mini-2024-07-18"),
        (["my-house-model"], "my-house-model"),  # an unknown text model is still a chat model
        ([], None),
    ],
)
def test_picking_a_chat_model(names, picked):
    assert prompthelp.pick_prompt_model(names) == picked


def test_the_configured_model_wins_even_if_unlisted():
    assert prompthelp.pick_prompt_model(["gpt-4o-mini"], "  qwen-max ") == "qwen-max"


# — cleaning the answer —


@pytest.mark.parametrize(
    ("answer", "clean"),
    [
        ("```\nA kite over a hill.\n```", "A kite over a hill."),
        ("```text\n“A kite over a hill.”\n```", "A kite over a hill."),
        ('"A kite over a hill."', "A kite over a hill."),
        ("Improved prompt: A kite over a hill.", "A kite over a hill."),
        ("**Prompt:** A kite.", "A kite."),
        ("优化后的提示词：风筝飞过山坡。", "风筝飞过山坡。"),
        ("「风筝飞过山坡。」", "风筝飞过山坡。"),
        ("<think>the user wants…</think>\nA kite over a hill.", "A kite over a hill."),
        ("A kite\x00 over\x1b a hill.\n\n\n\nWind.", "A kite over a hill.\n\nWind."),
        ('He said "go" and "run"', 'He said "go" and "run"'),  # inner quotes stay
    ],
)
def test_only_the_prompt_is_kept(answer, clean):
    assert prompthelp.clean_answer(answer, 4000) == clean


def test_a_long_answer_is_cut_at_a_sentence_end():
    answer = "First sentence here. " * 10 + "A last sentence that goes on and on and on"
    cut = prompthelp.clean_answer(answer, 100)
    assert len(cut) <= 100 and cut.endswith("here.")
    assert prompthelp.clean_answer("x" * 500, 100) == "x" * 100


@pytest.mark.parametrize("answer", ["", "   ", "```\n```", "<think>only thoughts</think>", '""'])
def test_an_empty_answer_is_a_bad_reply(answer):
    with pytest.raises(BadReplyError):
        prompthelp.clean_answer(answer, 4000)


# — against the simulated relay —


async def test_one_call_to_a_chat_model_with_the_instructions(settings, relay):
    studio = await studio_for(settings)
    try:
        improved = await studio.assist.improve_prompt("  A red kite over a green hill  ", WHO)
    finally:
        await studio.runtime.close()
    assert improved == simulated_improvement("A red kite over a green hill")
    [post] = relay.posts()
    body = post.json()
    assert body["model"] == "gpt-4o-mini" and body["stream"] is False
    system, user = body["messages"]
    assert system["role"] == "system" and user == {
        "role": "user",
        "content": "A red kite over a green hill",
    }
    for word in ("camera", "light", "motion", "sound", "same language", "ONLY"):
        assert word in system["content"]
    assert relay.creates() == []  # not a video


async def test_a_chinese_prompt_comes_back_in_chinese(settings, relay):
    studio = await studio_for(settings)
    try:
        improved = await studio.assist.improve_prompt("一只红色的风筝飞过绿色的山坡", WHO)
    finally:
        await studio.runtime.close()
    assert improved.startswith("一只红色的风筝飞过绿色的山坡。") and "镜头" in improved


async def test_the_configured_prompt_model_is_used(settings, relay):
    studio = await studio_for(settings.with_(prompt_model="claude-3-5-haiku"))
    try:
        await studio.assist.improve_prompt("a kite", WHO)
    finally:
        await studio.runtime.close()
    assert relay.posts()[0].json()["model"] == "claude-3-5-haiku"
    assert not [r for r in relay.requests if r.path == "/v1/models"]  # no list needed


async def test_a_relay_without_chat_models_gives_a_note(settings, relay):
    relay.models = ["sora-2", "veo3.1-fast"]
    studio = await studio_for(settings)
    try:
        with pytest.raises(Refused) as caught:
            await studio.assist.improve_prompt("a kite", WHO)
    finally:
        await studio.runtime.close()
    assert caught.value.message("en").startswith("Prompt help needs a chat model")
    assert "SUXI_PROMPT_MODEL" in caught.value.message("zh")
    assert relay.posts() == []


async def test_an_empty_prompt_sends_nothing(settings, relay):
    studio = await studio_for(settings)
    try:
        with pytest.raises(InputError) as caught:
            await studio.assist.improve_prompt("   ", WHO)
    finally:
        await studio.runtime.close()
    assert caught.value.kind == Kind.EMPTY_PROMPT and relay.posts() == []


async def test_relay_errors_keep_their_kind(settings, relay):
    relay.valid_keys = {"another-key-entirely"}
    studio = await studio_for(settings.with_(prompt_model="gpt-4o-mini"))
    try:
        with pytest.raises(AuthError) as caught:
            await studio.assist.improve_prompt("a kite", WHO)
    finally:
        await studio.runtime.close()
    assert caught.value.kind == Kind.AUTH and caught.value.relay_text == "无效的令牌"


async def test_visitors_of_a_shared_site_have_an_hourly_limit_on_the_operators_key(settings, relay):
    studio = await studio_for(settings.with_(shared=True, visitor_prompt_help_per_hour=2))
    try:
        await studio.assist.improve_prompt("a kite", WHO)
        await studio.assist.improve_prompt("a kite", WHO)
        with pytest.raises(InputError) as caught:
            await studio.assist.improve_prompt("a kite", WHO)
        assert caught.value.kind == Kind.HELP_HOURLY and caught.value.values == {"limit": 2}
        # a fresh token from the same address gains nothing
        with pytest.raises(InputError):
            await studio.assist.improve_prompt(
                "a kite", Who("another-token-000000001", WHO.address)
            )
        # another visitor from another address has their own hour
        assert await studio.assist.improve_prompt(
            "a kite", Who("another-token-000000001", "198.51.100.1")
        )
        # the visitor's own key is theirs to spend
        own = Who(WHO.owner, WHO.address, api_key="sk-visitor-own-0001")
        assert await studio.assist.improve_prompt("a kite", own)
    finally:
        await studio.runtime.close()
    assert len(relay.posts()) == 4


# — replies the simulator does not send (a transport in place of the network) —


def transport_relay(settings: Settings, response: httpx.Response) -> RelayHTTP:
    return RelayHTTP(settings, transport=httpx.MockTransport(lambda request: response))


def sse(*chunks: dict) -> bytes:
    lines = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(
                200,
                content=sse(
                    {"choices": [{"delta": {"content": "A kite, "}}]},
                    {"choices": [{"delta": {"content": "low angle."}}]},
                ),
                headers={"content-type": "text/event-stream"},
            ),
            "A kite, low angle.",
        ),
        (
            httpx.Response(
                200,
                json={"choices": [{"message": {"content": [{"type": "text", "text": "Parts."}]}}]},
            ),
            "Parts.",
        ),
        (httpx.Response(200, json={"choices": [{"text": "Legacy."}]}), "Legacy."),
    ],
)
async def test_other_reply_shapes_are_read(settings, response, expected):
    http = transport_relay(settings, response)
    try:
        assert await prompthelp.improve(http, KEY, "a kite", "gpt-4o-mini", limit=4000) == expected
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(500, json={"error": {"message": "upstream error"}}), RelayServerError),
        (httpx.Response(200, text="<html><title>Hi</title></html>"), BadReplyError),
        (httpx.Response(200, json={"error": {"message": "model overloaded"}}), BadReplyError),
        (httpx.Response(200, json={"choices": []}), BadReplyError),
        (httpx.Response(200, json={"choices": [{"message": {"content": "   "}}]}), BadReplyError),
    ],
)
async def test_broken_replies_raise_the_packages_errors(settings, response, error):
    http = transport_relay(settings, response)
    try:
        with pytest.raises(error):
            await prompthelp.improve(http, KEY, "a kite", "gpt-4o-mini", limit=4000)
    finally:
        await http.aclose()
