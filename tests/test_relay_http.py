"""RelayHTTP, the relay's only HTTP layer: what it sends (headers, JSON bodies, the OpenAI
format's multipart parts), how every error status and transport failure becomes one error of
the package's tree, the caps on what it reads, and the key going only to the relay's own origin
(scheme, host and port). ``httpx.MockTransport`` stands in for the relay (no thread); the
cross-origin download uses two real loopback servers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from suxi.errors import (
    AuthError,
    BadReplyError,
    BadRequestError,
    ConnectError,
    DownloadError,
    DroppedError,
    InputError,
    LinkExpiredError,
    NotFoundError,
    ProxyTimeoutError,
    QuotaError,
    RateLimitError,
    RelayServerError,
    StallError,
    SuxiError,
    UnavailableError,
    UnsafeURLError,
)
from suxi.events import Answer, VideoReady
from suxi.generation import GenerationOptions, GenerationRequest, StartImage
from suxi.kinds import Kind
from suxi.pinned import PinnedTransport
from suxi.relay import Backends
from suxi.relay.bodies import describe_body
from suxi.relay.chat import ChatBackend
from suxi.relay.fetch import fetch_file
from suxi.relay.http import MAX_ERROR_BODY, MAX_JSON_BODY, RelayHTTP
from suxi.relay.openai import OpenAIBackend
from suxi.relay.tasks import GenerationsBackend, UnifiedBackend
from suxi.settings import Settings
from suxi.simrelay import Frame, SimRelay, TaskPlan
from suxi.simrelay.forms import parse_multipart

BASE = "https://relay.example.com"
KEY = "sk-relay-http-0123456789"
SAMPLE = Path(__file__).parent.parent / "assets" / "sample.mp4"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
LINK = "https://images.example.com/start.jpg"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def settings(base_url: str = BASE, **kw) -> Settings:
    values = dict(
        api_key=KEY,
        base_url=base_url,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=10.0,
        download_timeout=10.0,
        poll_interval=0.01,
        poll_max_interval=0.05,
        min_free_bytes=0,
    )
    return Settings(**{**values, **kw})


class Recorded:
    """A MockTransport relay: answers with ``handler`` and keeps every request (read whole)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.handler(request)

    def http(self, base_url: str = BASE) -> RelayHTTP:
        return RelayHTTP(settings(base_url), transport=httpx.MockTransport(self))


class Body(httpx.AsyncByteStream):
    """A response body read from the network in pieces (as a relay's would be)."""

    def __init__(self, data: bytes, piece: int = 7) -> None:
        self.pieces = [data[i : i + piece] for i in range(0, len(data), piece)]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def answer(status: int = 200, body: object = None, headers: dict | None = None) -> Handler:
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
        headers.setdefault("content-type", "application/json")

    async def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, stream=Body(body or b""), headers=headers)

    return handler


class Endless(httpx.AsyncByteStream):
    """A body that never ends; counts what the reader took."""

    def __init__(self, block: bytes = b" " * 65536, head: bytes = b"") -> None:
        self.block = block
        self.head = head
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        while True:
            self.sent += len(self.block)
            yield self.block

    async def aclose(self) -> None:
        self.closed = True


def request(
    prompt: str = "a red kite",
    model: str = "sora-2",
    image: StartImage | None = None,
    remix_of: str | None = None,
    **options,
) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt,
        options=GenerationOptions(model=model, **options),
        image=image,
        messages=({"role": "user", "content": prompt},),
        remix_of=remix_of,
    )


# ------------------------------------------------------------------------------ request shapes


async def test_call_json_sends_the_key_and_accepts_json():
    relay = Recorded(answer(200, {"data": [{"id": "sora-2"}]}))
    http = relay.http()
    data = await http.call_json("GET", "/v1/models", key=KEY)
    await http.aclose()
    assert data == {"data": [{"id": "sora-2"}]}
    sent = relay.requests[0]
    assert str(sent.url) == f"{BASE}/v1/models"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["accept"] == "application/json"


async def test_no_key_no_authorization_header():
    relay = Recorded(answer(200, {"ok": True}))
    http = relay.http()
    await http.call_json("GET", "/api/pricing", key=None)
    await http.aclose()
    assert "authorization" not in relay.requests[0].headers


@pytest.mark.parametrize("bad", ["sk bad", "sk-\nX", "sk-\x00", "x" * 513])
async def test_a_malformed_key_is_refused_before_anything_is_sent(bad):
    relay = Recorded(answer(200, {}))
    http = relay.http()
    with pytest.raises(InputError) as err:
        await http.call_json("GET", "/v1/models", key=bad)
    await http.aclose()
    assert err.value.kind == Kind.BAD_KEY and not relay.requests


async def test_chat_request_is_one_streaming_post_with_the_conversation():
    stream = (
        b'data: {"choices":[{"delta":{"content":"[\xe5\x9c\xa8\xe7\xba\xbf\xe6\x92\xad\xe6\x94\xbe'
        b'](https://cdn.example.com/v.mp4)\\n"}}]}\n\ndata: [DONE]\n\n'
    )
    relay = Recorded(answer(200, stream, headers={"content-type": "text/event-stream"}))
    http = relay.http()
    events = [
        e async for e in ChatBackend(http).run(request("a kite", max_tokens=777), KEY, deadline=9e9)
    ]
    await http.aclose()
    assert any(isinstance(e, VideoReady) for e in events)
    assert isinstance(events[-1], Answer)
    sent = relay.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.content) == {
        "model": "sora-2",
        "max_tokens": 777,
        "messages": [{"role": "user", "content": "a kite"}],
        "stream": True,
    }


async def test_chat_request_not_streaming_asks_for_json():
    completion = {
        "object": "chat.completion",
        "choices": [{"message": {"content": "[下载视频](https://cdn.example.com/v.mp4)"}}],
    }
    relay = Recorded(answer(200, completion))
    http = relay.http()
    events = [e async for e in ChatBackend(http).run(request(stream=False), KEY, deadline=9e9)]
    await http.aclose()
    assert VideoReady("https://cdn.example.com/v.mp4") in events
    sent = relay.requests[0]
    assert sent.headers["accept"] == "application/json"
    assert json.loads(sent.content)["stream"] is False


@pytest.mark.parametrize(
    ("options", "image", "body"),
    [
        ({}, None, {"model": "veo3.1-fast", "prompt": "p"}),
        (
            {"orientation": "portrait", "size": "1080p", "duration": 8},
            None,
            {"model": "veo3.1-fast", "prompt": "p", "orientation": "portrait", "size": "1080p",
             "duration": 8},
        ),
        (
            {"watermark": False, "private": True, "orientation": "auto"},
            StartImage(link=LINK),
            {"model": "veo3.1-fast", "prompt": "p", "images": [LINK], "watermark": False,
             "private": True},
        ),
        (
            {"orientation": "square"},
            StartImage(data_url=DATA_URL),
            {"model": "veo3.1-fast", "prompt": "p", "images": [DATA_URL], "orientation": "square"},
        ),
    ],
)  # fmt: skip
async def test_unified_create_bodies(options, image, body):
    relay = Recorded(answer(200, {"id": "veo3.1-fast:task_abc", "status": "pending"}))
    http = relay.http()
    got = await UnifiedBackend(http).create(request("p", "veo3.1-fast", image, **options), KEY)
    await http.aclose()
    assert got["id"] == "veo3.1-fast:task_abc"
    sent = relay.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/video/create")
    assert json.loads(sent.content) == body
    assert UnifiedBackend(http).status_path("veo3.1-fast:task_abc") == (
        "/v1/video/query?id=veo3.1-fast%3Atask_abc"
    )


@pytest.mark.parametrize(
    ("options", "image", "body"),
    [
        ({}, None, {"model": "kling-v2-1", "prompt": "p"}),
        (
            {"orientation": "landscape", "duration": 10, "size": "720p"},
            None,
            {"model": "kling-v2-1", "prompt": "p", "duration": 10, "size": "720p",
             "metadata": {"orientation": "landscape"}},
        ),
        (
            {"watermark": False, "private": True},
            StartImage(link=LINK),
            {"model": "kling-v2-1", "prompt": "p", "image": LINK,
             "metadata": {"watermark": False, "private": True}},
        ),
    ],
)  # fmt: skip
async def test_generations_create_bodies(options, image, body):
    relay = Recorded(answer(200, {"id": "task_abc", "task_id": "task_abc", "status": "queued"}))
    http = relay.http()
    got = await GenerationsBackend(http).create(request("p", "kling-v2-1", image, **options), KEY)
    await http.aclose()
    assert got["task_id"] == "task_abc"
    sent = relay.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/video/generations")
    assert json.loads(sent.content) == body
    assert GenerationsBackend(http).status_path("task_a/../b") == (
        "/v1/video/generations/task_a%2F..%2Fb"
    )


def parts_of(sent: httpx.Request) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    return parse_multipart(sent.content, sent.headers["content-type"])


async def test_openai_create_is_multipart_with_the_picture_as_a_file_part():
    relay = Recorded(answer(200, {"id": "video_1", "status": "queued", "progress": 0}))
    http = relay.http()
    asked = request(
        "a kite",
        "sora-2",
        StartImage(data_url=DATA_URL),
        orientation="portrait",
        size="large",
        duration=15,
        watermark=False,
        private=True,
    )
    got = await OpenAIBackend(http).create(asked, KEY)
    await http.aclose()
    assert got["id"] == "video_1"
    sent = relay.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/videos")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    form, files = parts_of(sent)
    assert form == {
        "model": "sora-2",
        "prompt": "a kite",
        "seconds": "15",
        "size": "1024x1792",
        "watermark": "false",
        "private": "true",
    }
    assert files == {"input_reference": ("start.png", "image/png", PNG)}


async def test_openai_create_with_defaults_sends_only_model_and_prompt():
    relay = Recorded(answer(200, {"id": "video_1", "status": "queued"}))
    http = relay.http()
    await OpenAIBackend(http).create(request("p", "veo3.1-fast"), KEY)
    await http.aclose()
    form, files = parts_of(relay.requests[0])
    assert form == {"model": "veo3.1-fast", "prompt": "p"} and files == {}


async def test_openai_size_follows_orientation_and_size_words():
    relay = Recorded(answer(200, {"id": "video_1"}))
    http = relay.http()
    backend = OpenAIBackend(http)
    for options, size in (
        ({"orientation": "landscape"}, "1280x720"),
        ({"orientation": "portrait"}, "720x1280"),
        ({"size": "1080p"}, "1920x1080"),
        ({"orientation": "portrait", "size": "720p"}, "720x1280"),
    ):
        await backend.create(request("p", "veo3.1-fast", **options), KEY)
        assert parts_of(relay.requests[-1])[0]["size"] == size
    await http.aclose()


async def test_openai_remix_is_json_to_the_remix_route():
    relay = Recorded(answer(200, {"id": "video_2", "status": "queued"}))
    http = relay.http()
    await OpenAIBackend(http).create(request("make it rain", remix_of="video_1"), KEY)
    await http.aclose()
    sent = relay.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/videos/video_1/remix")
    assert json.loads(sent.content) == {"prompt": "make it rain"}


async def test_openai_content_endpoint_is_a_video_that_needs_the_key():
    http = RelayHTTP(settings())
    backend = OpenAIBackend(http)
    from suxi.relay.taskstatus import TaskStatus

    video = backend.video_of("video_1", TaskStatus("done"))
    assert video == VideoReady(
        f"{BASE}/v1/videos/video_1/content",
        f"{BASE}/v1/videos/video_1/content?variant=thumbnail",
        needs_key=True,
    )
    direct = backend.video_of("video_1", TaskStatus("done", video_url="https://cdn.example/v"))
    assert direct == VideoReady("https://cdn.example/v", None)


# ------------------------------------------------------------------------------- error mapping

STATUS_ERRORS = [
    (400, BadRequestError, Kind.BAD_REQUEST),
    (401, AuthError, Kind.AUTH),
    (403, QuotaError, Kind.QUOTA),
    (404, NotFoundError, Kind.NOT_FOUND),
    (405, NotFoundError, Kind.NOT_FOUND),
    (422, BadRequestError, Kind.BAD_REQUEST),
    (429, RateLimitError, Kind.RATE_LIMIT),
    (500, RelayServerError, Kind.SERVER),
    (502, RelayServerError, Kind.SERVER),
    (503, UnavailableError, Kind.UNAVAILABLE),
    (504, ProxyTimeoutError, Kind.PROXY_TIMEOUT),
    (524, ProxyTimeoutError, Kind.PROXY_TIMEOUT),
    (418, RelayServerError, Kind.SERVER),
    (520, RelayServerError, Kind.SERVER),
]


@pytest.mark.parametrize(("status", "error", "kind"), STATUS_ERRORS)
async def test_every_status_becomes_its_error_with_the_relays_words(status, error, kind):
    body = {"error": {"message": f"说明 {status} (request id: 2025)", "type": "new_api_error"}}
    relay = Recorded(answer(status, body, headers={"retry-after": "7"}))
    http = relay.http()
    for call in (
        http.call_json("POST", "/v1/video/create", key=KEY, json={}),
        _open_stream(http),
    ):
        with pytest.raises(error) as err:
            await call
        assert type(err.value) is error and err.value.kind == kind
        assert err.value.status == status
        assert err.value.relay_text == f"说明 {status} (request id: 2025)"
        assert err.value.retry_after == "7"
    await http.aclose()
    assert len(relay.requests) == 2  # one each: nothing is retried


async def _open_stream(http: RelayHTTP) -> None:
    async with http.stream("POST", "/v1/chat/completions", key=KEY, json={}):
        raise AssertionError("an error status must not open")


async def test_a_bare_503_is_a_relay_that_is_down_not_a_model_without_channel():
    relay = Recorded(answer(503, b""))
    http = relay.http()
    with pytest.raises(UnavailableError) as err:
        await http.call_json("GET", "/v1/models", key=KEY)
    await http.aclose()
    assert err.value.kind == Kind.RELAY_DOWN and err.value.relay_text == ""


async def test_a_redirect_to_a_json_call_is_a_bad_reply():
    relay = Recorded(answer(302, b"", headers={"location": "https://elsewhere.example/x"}))
    http = relay.http()
    with pytest.raises(BadReplyError) as err:
        await http.call_json("GET", "/v1/videos/video_1", key=KEY)
    await http.aclose()
    assert err.value.kind == Kind.BAD_REPLY and err.value.status == 302
    assert len(relay.requests) == 1  # not followed


@pytest.mark.parametrize(
    ("body", "ctype", "said"),
    [
        (b'{"error": {"message": "\xe6\x97\xa0\xe6\x95\x88\xe7\x9a\x84\xe4\xbb\xa4\xe7\x89\x8c",'
         b' "type": "new_api_error"}}', "application/json", "无效的令牌"),
        (json.dumps({"error": {"message_zh": "用户额度不足", "type": "x"}}).encode(),
         "application/json", "用户额度不足"),
        (json.dumps({"error": {"message": "quota", "message_zh": "额度"}}).encode(),
         "application/json", "quota"),
        (json.dumps({"error": "plain string error"}).encode(), "application/json",
         "plain string error"),
        (json.dumps({"message": "top-level message"}).encode(), "application/json",
         "top-level message"),
        (json.dumps({"detail": "fastapi detail"}).encode(), "application/json", "fastapi detail"),
        (json.dumps({"code": "task_not_exist", "message": "task_not_exist", "data": None}).encode(),
         "application/json", "task_not_exist"),
        (b"upstream error: do request failed", "text/plain", "upstream error: do request failed"),
        (b'{"error": {"message": "no type given"}}', "", "no type given"),
        (b"<!DOCTYPE html><html><head><title>relay.example.com | 524: A timeout occurred"
         b"</title></head><body><script>alert(1)</script><h1>524</h1></body></html>",
         "text/html; charset=UTF-8", "relay.example.com | 524: A timeout occurred"),
        (b"<html><head><title>Bad &amp; <b>bold</b> gateway</title></head></html>",
         "text/html", "Bad & bold gateway"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", ""),
        (b"<!doctype html><p>no title, no content type</p>", "", ""),
        (b"", "application/json", ""),
        (b'{"error": {"message": "cut \\ud83d emoji \\u001b[2J"}}', "application/json",
         "cut \ufffd emoji [2J"),
        (b"\xff\xfe broken bytes", "text/plain", "\ufffd\ufffd broken bytes"),
    ],
)  # fmt: skip
async def test_error_bodies_give_the_relays_own_words(body, ctype, said):
    headers = {"content-type": ctype} if ctype else {}
    relay = Recorded(answer(403, body, headers=headers))
    http = relay.http()
    with pytest.raises(QuotaError) as err:
        await http.call_json("POST", "/v1/videos", key=KEY)
    await http.aclose()
    assert err.value.relay_text == said
    assert "<" not in err.value.relay_text or "<" in said
    err.value.relay_text.encode("utf-8")


def test_error_text_is_capped():
    text = describe_body(json.dumps({"error": {"message": "x" * 5000}}).encode())
    assert text == "x" * 500
    assert describe_body(b"y" * 5000, "text/plain") == "y" * 500
    title = describe_body(b"<html><title>" + b"t" * 5000 + b"</title></html>", "text/html")
    assert title == "t" * 200


async def test_an_endless_error_body_is_cut_not_read_to_the_end():
    body = Endless(b"e" * 4096)

    async def handler(_request):
        return httpx.Response(500, stream=body, headers={"content-type": "text/plain"})

    relay = Recorded(handler)
    http = relay.http()
    with pytest.raises(RelayServerError) as err:
        await http.call_json("POST", "/v1/video/create", key=KEY, json={})
    await http.aclose()
    assert err.value.relay_text == "e" * 500
    assert MAX_ERROR_BODY <= body.sent <= MAX_ERROR_BODY + 4096
    assert body.closed


async def test_an_endless_model_list_fails_without_reading_past_the_cap():
    body = Endless(b" " * 65536, head=b'{"data": [')

    async def handler(_request):
        return httpx.Response(200, stream=body, headers={"content-type": "application/json"})

    relay = Recorded(handler)
    http = relay.http()
    with pytest.raises(BadReplyError) as err:
        await http.call_json("GET", "/v1/models", key=KEY)
    await http.aclose()
    assert err.value.kind == Kind.BAD_REPLY
    assert MAX_JSON_BODY < body.sent <= MAX_JSON_BODY + 65536 + 10
    assert body.closed


async def test_a_body_that_is_not_json_is_a_bad_reply_with_its_first_words():
    relay = Recorded(answer(200, b"<html><title>Just a moment...</title></html>"))
    http = relay.http()
    with pytest.raises(BadReplyError) as err:
        await http.call_json("GET", "/v1/models", key=KEY)
    await http.aclose()
    assert err.value.relay_text == "Just a moment..."


@pytest.mark.parametrize(
    "text", [b"[" * 100_000, b'{"progress": NaN}', b'{"a": 1e999}', b"{", b'{"a": Infinity}']
)
async def test_hostile_json_is_a_bad_reply(text):
    relay = Recorded(answer(200, text, headers={"content-type": "application/json"}))
    http = relay.http()
    with pytest.raises(BadReplyError):
        await http.call_json("GET", "/v1/videos/video_1", key=KEY)
    await http.aclose()


@pytest.mark.parametrize(
    ("raised", "error", "kind"),
    [
        (httpx.ConnectError("refused"), ConnectError, Kind.CONNECT),
        (httpx.ConnectTimeout("slow"), ConnectError, Kind.CONNECT),
        (httpx.ReadTimeout("silent"), StallError, Kind.STALL),
        (httpx.RemoteProtocolError("peer closed"), DroppedError, Kind.DROPPED),
        (httpx.ReadError("reset"), DroppedError, Kind.DROPPED),
        (httpx.UnsupportedProtocol("ftp"), InputError, Kind.BAD_BASE_URL),
    ],
)
async def test_transport_failures_become_the_packages_errors(raised, error, kind):
    async def handler(_request):
        raise raised

    http = Recorded(handler).http()
    with pytest.raises(error) as err:
        await http.call_json("GET", "/v1/models", key=KEY)
    assert err.value.kind == kind
    with pytest.raises(error):
        async with http.stream("POST", "/v1/chat/completions", key=KEY, json={}):
            pass
    await http.aclose()


async def test_transport_failures_while_downloading_are_download_errors(tmp_path):
    async def handler(_request):
        raise httpx.ConnectError("refused")

    http = Recorded(handler).http()
    with pytest.raises(DownloadError) as err:
        await fetch_file(http, f"{BASE}/files/v.mp4", tmp_path / "v.mp4")
    await http.aclose()
    assert type(err.value) is DownloadError and not (tmp_path / "v.mp4.part").exists()


# ------------------------------------------------------------------ the key and the relay's origin


@pytest.mark.parametrize(
    ("url", "gets_key"),
    [
        (f"{BASE}/v1/models", True),
        ("https://relay.example.com:443/v1/videos/x/content", True),
        ("HTTPS://RELAY.EXAMPLE.COM/v1/models", True),
        ("https://relay.example.com./v1/models", True),
        ("https://relay.example.com:8443/v1/models", False),  # same host, another port
        ("http://relay.example.com/v1/models", False),  # http instead of https
        ("https://cdn.relay.example.com/v.mp4", False),
        ("https://relay.example.com.evil.example/v1/models", False),
        ("https://relay.example.com@evil.example/v1/models", False),
        ("https://evil.example/?u=https://relay.example.com/", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_auth_only_for_the_whole_relay_origin(url, gets_key):
    http = RelayHTTP(settings())
    headers = http.auth(url, KEY)
    assert headers == ({"Authorization": f"Bearer {KEY}"} if gets_key else {})
    assert http.auth(url, None) == {} and http.auth(url, "") == {}


def test_auth_on_a_relay_with_an_explicit_port():
    http = RelayHTTP(settings("http://127.0.0.1:8765"))
    assert http.auth("http://127.0.0.1:8765/v1/models", KEY)
    assert not http.auth("http://127.0.0.1:8766/v1/models", KEY)
    assert not http.auth("https://127.0.0.1:8765/v1/models", KEY)
    assert not http.auth("http://localhost:8765/v1/models", KEY)


@pytest.mark.parametrize(
    "url",
    [
        "https://relay.example.com:8443/v1/models",
        "http://relay.example.com/v1/models",
        "https://other.example/v1/models",
    ],
)
async def test_absolute_urls_of_other_origins_get_no_key(url):
    relay = Recorded(answer(200, {"ok": True}))
    http = relay.http()
    await http.call_json("GET", url, key=KEY)
    async with http.stream("GET", url, key=KEY):
        pass
    await http.aclose()
    assert [str(r.url) for r in relay.requests] == [url, url]
    assert all("authorization" not in r.headers for r in relay.requests)


async def test_a_download_from_another_origin_gets_no_key_and_a_redirect_is_rechecked(tmp_path):
    video = SAMPLE.read_bytes()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/videos/video_1/content":
            return httpx.Response(302, headers={"location": "https://cdn.example.net/v.mp4"})
        if request.url.path == "/v.mp4":
            return httpx.Response(
                200, stream=Body(video, 65536), headers={"content-type": "video/mp4"}
            )
        return httpx.Response(404)

    relay = Recorded(handler)
    http = relay.http()
    got = await fetch_file(http, f"{BASE}/v1/videos/video_1/content", tmp_path / "v.mp4", key=KEY)
    assert got.path.read_bytes() == video and got.size == len(video)
    first, second = relay.requests
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert second.url.host == "cdn.example.net" and "authorization" not in second.headers
    # A hop to a private address is refused before any connection.
    relay.handler = answer(302, b"", headers={"location": "http://169.254.169.254/latest/"})
    with pytest.raises(UnsafeURLError):
        await fetch_file(http, f"{BASE}/v1/videos/video_1/content", tmp_path / "x.mp4", key=KEY)
    await http.aclose()
    assert len(relay.requests) == 3 and not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("status", [401, 403, 410])
async def test_a_refused_link_is_an_expired_link(tmp_path, status):
    relay = Recorded(answer(status, b"expired"))
    http = relay.http()
    with pytest.raises(LinkExpiredError) as err:
        await fetch_file(http, "https://cdn.example.net/v.mp4", tmp_path / "v.mp4")
    await http.aclose()
    assert err.value.kind == Kind.LINK_EXPIRED and err.value.status == status


async def test_a_redirect_loop_ends(tmp_path):
    relay = Recorded(answer(302, b"", headers={"location": "https://cdn.example.net/again"}))
    http = relay.http()
    with pytest.raises(UnsafeURLError) as err:
        await fetch_file(http, "https://cdn.example.net/v.mp4", tmp_path / "v.mp4")
    await http.aclose()
    assert err.value.detail == "redirects" and len(relay.requests) == 6


async def test_html_where_a_video_should_be_is_a_download_error(tmp_path):
    relay = Recorded(answer(200, b"<html>login</html>", headers={"content-type": "text/html"}))
    http = relay.http()
    with pytest.raises(DownloadError) as err:
        await fetch_file(http, "https://cdn.example.net/v.mp4", tmp_path / "v.mp4")
    await http.aclose()
    assert err.value.detail == "not_video"


# — two real loopback servers: the relay and a "CDN" on another origin —


class LoopbackNames:
    """Every name answers 127.0.0.1 (the CDN's name must pass the URL gate as a public name)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return ["127.0.0.1"]


def loopback_is_public(_address) -> None:
    """The injected address check: loopback counts as public here (the CDN is on it)."""


@pytest.fixture
def two_servers():
    with SimRelay(speed=100).start() as relay, SimRelay(speed=100).start() as cdn:
        yield relay, cdn


async def pinned_http(relay: SimRelay, names: LoopbackNames) -> RelayHTTP:
    transport = PinnedTransport(
        relay.base_url, resolver=names, address_check=loopback_is_public, retries=1
    )
    return RelayHTTP(settings(relay.base_url), transport=transport)


async def finished_openai_task(relay: SimRelay, http: RelayHTTP, content: str, cdn_url: str):
    relay.push_task(TaskPlan((Frame(0, "done", 100, video_url=cdn_url),), content=content))
    created = await http.call_json(
        "POST", "/v1/videos", key=KEY, files=[("model", (None, "sora-2")), ("prompt", (None, "p"))]
    )
    return created["id"]


@pytest.mark.parametrize("content", ["redirect", "json"])
async def test_the_content_endpoint_naming_another_origin_never_passes_the_key(
    two_servers, tmp_path, content
):
    relay, cdn = two_servers
    names = LoopbackNames()
    http = await pinned_http(relay, names)
    cdn_url = f"http://cdn.example.net:{cdn.port}/files/sample.mp4"
    task_id = await finished_openai_task(relay, http, content, cdn_url)
    events = [
        e
        async for e in OpenAIBackend(http).run(
            request("p"), KEY, task_id=task_id, deadline=9e9, first_delay=0
        )
    ]
    video = events[-1]
    assert isinstance(video, VideoReady) and video.needs_key
    kept = await fetch_file(http, video.url, tmp_path / "v.mp4", key=KEY)
    await http.aclose()
    assert kept.path.read_bytes() == SAMPLE.read_bytes()
    content_gets = [r for r in relay.requests if r.path.endswith("/content")]
    assert content_gets and all(
        r.headers.get("authorization") == f"Bearer {KEY}" for r in content_gets
    )
    assert [r.path for r in cdn.requests] == ["/files/sample.mp4"]
    assert "authorization" not in cdn.requests[0].headers
    assert cdn.requests[0].headers["host"] == f"cdn.example.net:{cdn.port}"
    assert names.asked == ["cdn.example.net"]  # the relay's origin connects without a lookup


async def test_the_same_loopback_host_on_another_port_is_not_the_relay(two_servers, tmp_path):
    relay, cdn = two_servers
    names = LoopbackNames()
    http = await pinned_http(relay, names)
    # Through the URL gate, 127.0.0.1 on another port is a private address, not the relay.
    with pytest.raises(UnsafeURLError):
        await fetch_file(http, f"{cdn.base_url}/files/sample.mp4", tmp_path / "v.mp4", key=KEY)
    # Asked directly, it gets no key either.
    with pytest.raises(AuthError):
        await http.call_json("GET", f"{cdn.base_url}/v1/models", key=KEY)
    await http.aclose()
    assert cdn.requests[0].path == "/v1/models"
    assert "authorization" not in cdn.requests[0].headers


async def test_a_redirect_back_to_the_relay_gets_the_key_again(two_servers, tmp_path):
    relay, cdn = two_servers
    names = LoopbackNames()
    http = await pinned_http(relay, names)
    back = f"{relay.base_url}/files/sample.mp4"
    start = f"http://cdn.example.net:{cdn.port}/redirect?to={back}"
    kept = await fetch_file(http, start, tmp_path / "v.mp4", key=KEY)
    await http.aclose()
    assert kept.size == SAMPLE.stat().st_size
    assert "authorization" not in cdn.requests[0].headers
    assert relay.requests[-1].headers.get("authorization") == f"Bearer {KEY}"


async def test_backends_share_one_client():
    http = RelayHTTP(settings())
    backends = Backends(http)
    assert {backends.get(r).http for r in ("chat", "unified", "generations", "openai")} == {http}
    await backends.aclose()


def test_every_error_raised_here_is_a_suxi_error():
    for _status, error, _kind in STATUS_ERRORS:
        assert issubclass(error, SuxiError)
