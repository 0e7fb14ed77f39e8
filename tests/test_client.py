"""The relay client against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json

import pytest

from suxi import errors
from suxi.client import RelayClient, describe_body, user_message
from suxi.events import Failed, Progress, TaskInfo, VideoReady
from suxi.parse import RelayStreamParser
from suxi.simrelay import Content, Data, Done, Drop, Finish, Send, Sleep, error_reply

from .conftest import FIXTURES, KEY

MESSAGES = [user_message("a cat on a skateboard")]


async def collect(client: RelayClient, **kw):
    return [e async for e in client.generate(MESSAGES, api_key=KEY, max_tokens=1000, **kw)]


async def test_request_is_exactly_the_documented_call(client, relay):
    await collect(client)
    (post,) = relay.posts()
    assert post.path == "/v1/chat/completions"
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {
        "model": "sora-2",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "a cat on a skateboard"}],
        "stream": True,
    }


async def test_default_demo_stream_ends_in_a_video(client, relay):
    events = await collect(client)
    videos = [e for e in events if isinstance(e, VideoReady)]
    assert [v.url for v in videos] == [f"{relay.base_url}/files/sample.mp4"]
    assert not any(isinstance(e, Failed) for e in events)
    percents = [e.percent for e in events if isinstance(e, Progress)]
    assert percents == sorted(percents) and percents[-1] == 93
    assert any(isinstance(e, TaskInfo) and e.task_id for e in events)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, errors.AuthError),
        (403, errors.QuotaError),
        (429, errors.RateLimitError),
        (500, errors.RelayServerError),
        (502, errors.RelayServerError),
        (503, errors.UnavailableError),
        (504, errors.ProxyTimeoutError),
        (524, errors.ProxyTimeoutError),
    ],
)
async def test_error_status_maps_to_its_class_with_one_post(client, relay, status, cls):
    body = json.dumps({"error": {"message": f"boom {status}", "type": "new_api_error"}}).encode()
    relay.push(error_reply(status, body, headers=(("Retry-After", "17"),)))
    with pytest.raises(cls) as info:
        await collect(client)
    assert info.value.relay_text == f"boom {status}"
    assert info.value.status == status
    assert len(relay.posts()) == 1
    if status == 429:
        assert info.value.retry_after == "17"


async def test_html_error_page_is_reduced_to_its_title(client, relay):
    relay.push(error_reply(524, (FIXTURES / "error_524.html").read_bytes(), "text/html"))
    with pytest.raises(errors.ProxyTimeoutError) as info:
        await collect(client)
    assert "<" not in info.value.relay_text
    assert len(relay.posts()) == 1


async def test_stall_longer_than_read_timeout_keeps_task_id(client, relay):
    relay.push(
        [
            Content("> ID: `task_01k7e5w9z5f2d91pekrqy59rwc`\n\n"),
            Content(">🏃 进度 36..\n\n"),
            Sleep(5 * 200),  # 5 s at speed 200 > read timeout of 1 s
        ]
    )
    parser = RelayStreamParser()
    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.StallError):
        await collect(client, parser=parser)
    assert asyncio.get_running_loop().time() - started < 3
    assert parser.outcome.task_id == "task_01k7e5w9z5f2d91pekrqy59rwc"
    assert parser.outcome.percent == 36
    assert len(relay.posts()) == 1


async def test_heartbeats_keep_a_quiet_stream_alive(client, relay):
    relay.push(
        [Content("> 排队中\n\n")]
        + [step for _ in range(8) for step in (Sleep(0.4 * 200), Send(b": PING\n\n"))]
        + [Content("[在线播放▶️](https://cdn.example.com/v.mp4)\n\n"), Finish(), Done()]
    )
    events = await collect(client)
    assert VideoReady("https://cdn.example.com/v.mp4", None) in events


async def test_connection_dropped_mid_stream_is_a_dropped_error(client, relay):
    half_character = 'data: {"choices": [{"delta": {"content": "进'.encode()[:-1]
    relay.push([Content("> 生成中\n\n"), Send(half_character), Drop()])
    with pytest.raises(errors.DroppedError):
        await collect(client)
    assert len(relay.posts()) == 1


async def test_clean_close_without_done_or_video_is_dropped(client, relay):
    relay.push([Content(">🏃 进度 44..\n\n")])
    with pytest.raises(errors.DroppedError):
        await collect(client)


async def test_done_without_video_is_no_video_failure(client, relay):
    relay.push([Content("> 生成中\n\n"), Finish(), Done()])
    events = await collect(client)
    assert isinstance(events[-1], Failed) and events[-1].kind == "no_video"


async def test_error_chunk_is_a_failure_with_relay_text(client, relay):
    relay.push(
        [
            Data(json.dumps({"error": {"message": "Upstream API timeout", "type": "x"}})),
            Done(),
        ]
    )
    events = await collect(client)
    assert events[-1] == Failed("Upstream API timeout", "relay")


async def test_json_reply_to_a_stream_request_is_parsed(client, relay):
    body = {
        "choices": [
            {"message": {"role": "assistant", "content": "[在线播放▶️](https://x.example/v.mp4)"}}
        ]
    }
    relay.push(error_reply(200, json.dumps(body).encode()))
    events = await collect(client)
    assert VideoReady("https://x.example/v.mp4", None) in events


async def test_html_200_is_a_bad_reply(client, relay):
    relay.push(error_reply(200, b"<html><title>Just a moment</title></html>", "text/html"))
    with pytest.raises(errors.BadReplyError) as info:
        await collect(client)
    assert info.value.relay_text == "Just a moment"


async def test_non_streaming_request_gets_the_whole_answer(client, relay):
    events = await collect(client, stream=False)
    assert relay.posts()[0].json()["stream"] is False
    assert any(isinstance(e, VideoReady) for e in events)


async def test_total_deadline_stops_a_trickle(relay, settings):
    client = RelayClient(settings.with_(total_timeout=1.0))
    relay.push([step for _ in range(40) for step in (Content("."), Sleep(0.1 * 200))])
    try:
        with pytest.raises(errors.DeadlineError):
            await collect(client)
    finally:
        await client.aclose()


async def test_connection_refused_is_a_connect_error(settings):
    client = RelayClient(settings.with_(base_url="http://127.0.0.1:9"))
    try:
        with pytest.raises(errors.ConnectError):
            await collect(client)
    finally:
        await client.aclose()


async def test_key_with_whitespace_is_refused_before_sending(client, relay):
    with pytest.raises(errors.InputError):
        await collect_with_key(client, "sk-abc def")
    assert relay.posts() == []


async def collect_with_key(client, key):
    return [e async for e in client.generate(MESSAGES, api_key=key, max_tokens=10)]


async def test_download_streams_exact_bytes(client, relay, tmp_path):
    payload = bytes(range(256)) * 4096
    url = relay.add_file("clip.mp4", payload)
    result = await client.download(url, tmp_path / "clip.mp4")
    assert result.size == len(payload)
    assert (tmp_path / "clip.mp4").read_bytes() == payload
    assert "authorization" not in relay.requests[-1].headers


async def test_download_over_the_cap_leaves_no_file(relay, settings, tmp_path):
    client = RelayClient(settings.with_(max_video_bytes=1000))
    url = relay.add_file("big.mp4", b"x" * 5000)
    try:
        with pytest.raises(errors.TooLargeError):
            await client.download(url, tmp_path / "big.mp4")
    finally:
        await client.aclose()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:video/mp4;base64,AAAA",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/v.mp4",
        "http://10.0.0.1/v.mp4",
        "http://user:pw@cdn.example.com/v.mp4",
        "https://cdn.example.com/" + "a" * 10_000,
    ],
)
async def test_download_refuses_unsafe_urls(client, tmp_path, url):
    with pytest.raises(errors.UnsafeURLError):
        await client.download(url, tmp_path / "v.mp4")


async def test_redirect_to_loopback_is_refused(relay, settings, tmp_path):
    # The relay's host is "localhost" here, so 127.0.0.1 is a different, private host.
    client = RelayClient(settings.with_(base_url=relay.base_url.replace("127.0.0.1", "localhost")))
    target = "http://127.0.0.1:1/secret.mp4"
    url = f"{client.settings.base_url}/redirect?to={target}"
    try:
        with pytest.raises(errors.UnsafeURLError):
            await client.download(url, tmp_path / "v.mp4")
    finally:
        await client.aclose()


def test_describe_body_prefers_the_relay_message():
    body = json.dumps({"error": {"message": "无效的令牌", "type": "new_api_error"}}).encode()
    assert describe_body(body, "application/json") == "无效的令牌"
    assert describe_body(b"upstream exploded", "text/plain") == "upstream exploded"
    assert describe_body(b"<html><title>524: A timeout occurred</title>", "text/html") == (
        "524: A timeout occurred"
    )


async def test_model_list_puts_video_models_first(client, relay):
    relay.models = ["gpt-4o", "sora-2-pro", "claude-x", "sora2-landscape-15s", "veo-3"]
    assert await client.list_models(KEY) == [
        "sora-2-pro",
        "sora2-landscape-15s",
        "veo-3",
        "gpt-4o",
        "claude-x",
    ]
    assert relay.requests[-1].headers["authorization"] == f"Bearer {KEY}"
