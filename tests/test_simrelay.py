"""The relay simulator, driven over real loopback sockets with httpx and raw sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bench.relay_scripts import progress_script
from suxi.simrelay import (
    CHAT_PATH,
    DEFAULT_VIDEO,
    Content,
    Data,
    Done,
    Drop,
    Finish,
    RecordedRequest,
    Reply,
    Send,
    SimRelay,
    Sleep,
    Stamp,
    demo_script,
    error_body,
    error_reply,
    user_prompt,
)

from .relay_scripts import family_b_script, family_c_script

BODY = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": "一只猫"}]}
AUTH = {"Authorization": "Bearer sk-test"}  # every /v1/ route wants a key


# These two override conftest's fixtures of the same names: a faster relay and a bare httpx client.
@pytest.fixture
def relay():
    with SimRelay(speed=1000).start() as r:
        yield r


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=10, headers=AUTH) as c:
        yield c


async def sse(client: httpx.AsyncClient, relay: SimRelay, body=BODY, **kw) -> list[str]:
    """POST a streaming chat completion; return the data payloads in order."""
    async with client.stream("POST", relay.base_url + CHAT_PATH, json=body, **kw) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        raw = (await resp.aread()).decode()
    payloads = []
    for frame in raw.split("\n\n"):
        if not frame:
            continue
        assert frame.startswith(("data: ", ":")), frame
        if frame.startswith("data: "):
            payloads.append(frame[len("data: ") :])
    return payloads


def text_of(payloads: list[str], field: str = "content") -> str:
    out = []
    for p in payloads:
        if p != "[DONE]":
            out.append(json.loads(p)["choices"][0]["delta"].get(field) or "")
    return "".join(out)


def fake_request(body: dict) -> RecordedRequest:
    return RecordedRequest("POST", CHAT_PATH, "", {}, json.dumps(body).encode(), 0.0)


# ------------------------------------------------------------------------------ default demo


async def test_demo_streams_family_a_and_the_video_downloads(relay, client):
    body = {
        "model": "sora-2",
        "stream": True,
        "messages": [
            {"role": "user", "content": "old prompt"},
            {"role": "assistant", "content": "..."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "海边的日落"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
        ],
    }
    payloads = await sse(client, relay, body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    assert max(len(p) for p in pieces) <= 4  # streamed in small pieces
    assert pieces.count(".") >= 10  # queue heartbeats
    text = text_of(payloads)
    echo = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
    assert echo == {"prompt": "海边的日落", "orientation": "landscape", "duration": 5}
    task = re.search(r"> ID: `(task_[0-9a-z]+)`", text).group(1)
    assert f"https://asyncdata.net/web/{task}" in text
    assert f"https://asyncdata.net/source/{task}" in text
    assert "> 排队中" in text and "> 生成中" in text
    assert ">🏃 进度 3..11..24..36..44..61..81..93..\n\n> 生成完成 ✅" in text
    assert re.search(r"> sid: s_[0-9a-f]{32}\n", text)
    assert text.index("/files/thumb.webp") < text.index("[在线播放▶️](")
    video_url = re.search(r"\[在线播放▶️\]\((.*?)\)", text).group(1)
    assert video_url == relay.base_url + "/files/sample.mp4"

    resp = await client.get(video_url)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.content == DEFAULT_VIDEO.read_bytes()
    assert resp.headers["content-length"] == str(DEFAULT_VIDEO.stat().st_size)
    thumb = await client.get(relay.base_url + "/files/thumb.webp")
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"


def test_demo_script_lasts_about_45_seconds():
    script = demo_script(fake_request(BODY), "http://h:1")
    total = sum(s.seconds for s in script if isinstance(s, Sleep))
    assert 42 <= total <= 48
    assert isinstance(script[-1], Done) and script[-2] == Finish("stop")


def test_user_prompt_takes_last_user_message_text_parts():
    parts = [{"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "b"}]
    body = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": parts}]}
    assert user_prompt(fake_request(body)) == "b"
    assert user_prompt(RecordedRequest("POST", CHAT_PATH, "", {}, b"not json", 0.0)) == ""


def test_sample_video_is_small_h264():
    data = DEFAULT_VIDEO.read_bytes()
    assert 10_000 < len(data) < 600_000
    assert b"avc1" in data and b"ftyp" in data[:16]
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart


# -------------------------------------------------------------------------- recording, queue


async def test_requests_are_recorded_with_headers_and_body(relay, client):
    before = time.monotonic()
    relay.push([Content("hi"), Finish(), Done()])
    await sse(client, relay, headers={"Authorization": "Bearer sk-test", "X-Trace": "42"})
    await client.get(relay.base_url + "/v1/models?x=1")
    after = time.monotonic()

    first, second = relay.requests
    assert (first.method, first.path, first.query) == ("POST", CHAT_PATH, "")
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-trace"] == "42"
    assert first.json() == BODY
    assert before <= first.time <= second.time <= after
    assert (second.method, second.path, second.query) == ("GET", "/v1/models", "x=1")
    assert relay.posts() == [first]


async def test_push_is_fifo_then_default(relay, client):
    relay.push([Content("first"), Done()])
    relay.push(lambda req, base: [Content(f"second {req.json()['tag']} {base}"), Done()])
    relay.set_default([Content("fallback"), Done()])
    texts = [text_of(await sse(client, relay, {**BODY, "tag": i})) for i in range(3)]
    assert texts == ["first", f"second 1 {relay.base_url}", "fallback"]


def test_push_rejects_reply_after_bytes():
    relay = SimRelay()
    with pytest.raises(ValueError):
        relay.push([Content("x"), Reply(500)])
    with pytest.raises(ValueError):
        relay.push(["not a step"])
    relay.push([Sleep(1), Reply(524)])  # a proxy giving up before any byte is fine


async def test_send_bytes_pass_through_unchanged_even_split_utf8(relay, client):
    frame = ("data: " + json.dumps({"choices": [{"delta": {"content": "进度"}}]}) + "\n\n").encode()
    frame = frame.replace(b"\\u8fdb", "进".encode())  # raw UTF-8 so the split lands mid-character
    cut = frame.index("进".encode()) + 1
    relay.push([Send(b": PING\r\n\r\n"), Send(frame[:cut]), Send(frame[cut:]), Data("[DONE]")])
    async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
        raw = await resp.aread()
    assert raw == b": PING\r\n\r\n" + frame + b"data: [DONE]\n\n"


# --------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "body", "ctype", "headers"),
    [
        (401, error_body("无效的令牌 (request id: 1)"), "application/json", ()),
        (
            429,
            error_body("slow", code="rate_limit_exceeded"),
            "application/json",
            (("Retry-After", "7"),),
        ),
        (524, b"<html>A timeout occurred</html>", "text/html", ()),
        (502, "bad gateway", "text/plain", ()),
    ],
)
async def test_reply_status_body_and_headers(relay, client, status, body, ctype, headers):
    relay.push(error_reply(status, body, ctype, headers))
    resp = await client.post(relay.base_url + CHAT_PATH, json=BODY)
    assert resp.status_code == status
    assert resp.content == (body.encode() if isinstance(body, str) else body)
    assert resp.headers["content-type"] == ctype
    assert resp.headers["content-length"] == str(len(resp.content))
    for name, value in headers:
        assert resp.headers[name] == value


async def test_reply_json_body_from_dict(relay, client):
    relay.push(error_reply(503, {"error": {"message": "无可用渠道", "code": "model_not_found"}}))
    resp = await client.post(relay.base_url + CHAT_PATH, json=BODY)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "model_not_found"


async def test_drop_breaks_the_chunked_stream(relay, client):
    relay.push([Content("partial"), Drop(), Content("never"), Done()])
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
            assert resp.status_code == 200
            async for piece in resp.aiter_bytes():
                received += piece
    assert b'"partial"' in received and b"never" not in received
    assert relay.disconnects == []  # the server hung up, not the client


async def test_drop_before_any_byte_closes_without_response(relay, client):
    relay.push([Sleep(1), Drop()])
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(relay.base_url + CHAT_PATH, json=BODY)


async def test_client_disconnect_during_sleep_is_recorded_promptly(client):
    with SimRelay(speed=1).start() as relay:
        relay.push([Content("x"), Sleep(30), Content("late"), Done()])
        async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
            async for _ in resp.aiter_bytes():
                break
            closed_at = time.monotonic()
        deadline = closed_at + 0.5
        while not relay.disconnects and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert len(relay.disconnects) == 1
        path, at = relay.disconnects[0]
        assert path == CHAT_PATH
        assert closed_at - 0.01 <= at <= closed_at + 0.25


def test_raw_socket_disconnect_during_non_streaming_wait():
    with SimRelay(speed=1).start() as relay:
        relay.push([Sleep(30), Content("late")])
        body = json.dumps({**BODY, "stream": False}).encode()
        port = int(relay.base_url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer sk-test\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        deadline = time.monotonic() + 2
        while not relay.requests and time.monotonic() < deadline:
            time.sleep(0.005)
        sock.close()
        closed_at = time.monotonic()
        while not relay.disconnects and time.monotonic() < closed_at + 0.5:
            time.sleep(0.005)
        assert relay.disconnects and relay.disconnects[0][1] - closed_at < 0.1


def _models_request() -> bytes:
    return b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n\r\n"


def _read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer with a Content-Length: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    assert len(body) == length, "more than one answer arrived"
    return head, body


@pytest.mark.parametrize("keep_alive", [True, False])
def test_answers_with_a_length_keep_the_connection_only_when_asked(keep_alive: bool):
    with SimRelay(keep_alive=keep_alive).start() as relay:
        port = int(relay.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(_models_request())
            head, body = _read_answer(sock)
            assert json.loads(body)["object"] == "list"
            assert (b"Connection: keep-alive" in head) is keep_alive
            if not keep_alive:
                assert sock.recv(1) == b""  # closed after the answer
                return
            sock.sendall(_models_request())  # the same connection serves the next request
            assert json.loads(_read_answer(sock)[1])["object"] == "list"
        assert [r.path for r in relay.requests] == ["/v1/models", "/v1/models"]
        assert relay.disconnects == []  # a client leaving between requests is not a hang-up


async def test_a_kept_connection_still_ends_a_stream_and_sees_the_client_leave(client):
    with SimRelay(speed=1, keep_alive=True).start() as relay:
        assert (await client.get(relay.base_url + "/v1/models")).status_code == 200
        relay.push([Content("x"), Sleep(30), Content("late"), Done()])
        async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
            async for _ in resp.aiter_bytes():
                break
        deadline = time.monotonic() + 1
        while not relay.disconnects and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert [path for path, _ in relay.disconnects] == [CHAT_PATH]


# ----------------------------------------------------------------------------- non-streaming


async def test_non_streaming_answers_one_chat_completion(relay, client):
    relay.push(
        [
            Sleep(5),
            Content("hello "),
            Content("thinking", field="reasoning_content"),
            Send(b"ignored"),
            Stamp("world {now:.0f}"),
            Finish("stop"),
            Done(),
        ]
    )
    started = time.monotonic()
    resp = await client.post(relay.base_url + CHAT_PATH, json={**BODY, "stream": False})
    assert time.monotonic() - started >= 5 / 1000
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    data = resp.json()
    assert data["object"] == "chat.completion"
    content = data["choices"][0]["message"]["content"]
    assert re.fullmatch(r"hello world \d+", content)
    assert abs(int(content.split()[-1]) - time.time()) < 5
    assert data["choices"][0]["finish_reason"] == "stop"


async def test_reply_after_sleep_and_drop_in_both_modes(relay, client):
    relay.push([Sleep(10), Reply(524, b"<html>timeout</html>", "text/html")])
    relay.push([Sleep(10), Drop()])
    resp = await client.post(relay.base_url + CHAT_PATH, json={**BODY, "stream": False})
    assert (resp.status_code, resp.text) == (524, "<html>timeout</html>")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(relay.base_url + CHAT_PATH, json={**BODY, "stream": False})
    relay.push([Sleep(10), Reply(524, b"<html>streaming too</html>", "text/html")])
    resp = await client.post(relay.base_url + CHAT_PATH, json=BODY)
    assert (resp.status_code, resp.text) == (524, "<html>streaming too</html>")


# ------------------------------------------------------------------------- family scripts


async def test_family_b_is_line_based_and_go_escaped(relay, client):
    relay.push(family_b_script(seconds=9))
    async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
        raw = (await resp.aread()).decode()
    assert "\\u003e 🏃 进度：" in raw and ">" not in raw  # Go escapes every '>'
    payloads = [f[len("data: ") :] for f in raw.split("\n\n") if f]
    text = text_of(payloads)
    assert '"mode": "横屏模式"' in text and "一只猫" in text
    assert f"[点击这里]({relay.base_url}/files/sample.mp4)" in text
    last = json.loads(payloads[-2])
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["total_tokens"] > 0


async def test_family_c_reasoning_progress_and_html_video(relay, client):
    relay.push(family_c_script("https://cdn.example/tmp/abc.mp4", seconds=12))
    payloads = await sse(client, relay)
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(set(c["choices"][0]["delta"]) >= {"content", "reasoning_content"} for c in chunks)
    reasoning = text_of(payloads, "reasoning_content")
    assert reasoning.startswith("**Generation Process Begins**")
    assert re.search(r"\*\*Video Generation Progress\*\*: \d+% \(running\)", reasoning)
    assert text_of(payloads) == (
        "```html\n<video src='https://cdn.example/tmp/abc.mp4' controls></video>\n```"
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "STOP"


async def test_progress_script_stamps_at_send_time(client):
    with SimRelay(speed=1).start() as relay:
        relay.push(progress_script(seconds=0.3, every=0.1))
        stamps = []
        async with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
            async for line in resp.aiter_lines():
                m = re.search(r"进度：([\d.]+)% ⏱(\d+\.\d{3})", line)
                if m:
                    stamps.append((float(m.group(1)), float(m.group(2)), time.time()))
    assert [s[0] for s in stamps] == pytest.approx([33.3, 66.7, 100.0], abs=0.05)
    for _, sent, received in stamps:
        # Filled when sent (a loaded machine is slow); the stamp is rounded to the millisecond.
        assert -0.0005 <= received - sent < 2.0
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(stamps)]
    assert all(g >= 0.08 for g in gaps)  # evaluated at send time, not when the script was built


async def test_256_concurrent_streams():
    with SimRelay(speed=1).start() as relay:
        relay.set_default(progress_script(seconds=0.4, every=0.1))
        limits = httpx.Limits(max_connections=400)
        async with httpx.AsyncClient(timeout=10, limits=limits, headers=AUTH) as client:
            results = await asyncio.gather(*(sse(client, relay) for _ in range(300)))
    # How fast is measured in bench/, not asserted here: only that every stream completes.
    assert len(relay.posts()) == 300
    assert all(r[-1] == "[DONE]" and "视频生成成功" in text_of(r) for r in results)


# ---------------------------------------------------------------------- other endpoints


async def test_models(relay, client):
    relay.models = ["sora-2", "sora2-landscape-15s"]
    resp = await client.get(relay.base_url + "/v1/models")
    assert resp.json() == {
        "object": "list",
        "data": [
            {"id": "sora-2", "object": "model", "owned_by": "openai"},
            {"id": "sora2-landscape-15s", "object": "model", "owned_by": "openai"},
        ],
    }


async def test_task_endpoints(relay, client):
    done = {"id": "sora-2:task_01", "status": "completed", "video_url": "http://x/y.mp4"}
    relay.tasks["sora-2:task_01"] = done
    relay.tasks["video_1"] = {"id": "video_1", "status": "in_progress", "progress": 40}
    base = relay.base_url
    assert (
        await client.get(f"{base}/v1/video/query", params={"id": "sora-2:task_01"})
    ).json() == done
    assert (await client.get(f"{base}/v1/videos/video_1")).json()["progress"] == 40
    content = await client.get(f"{base}/v1/videos/sora-2:task_01/content")
    assert (content.status_code, content.headers["location"]) == (302, "http://x/y.mp4")
    missing = await client.get(f"{base}/v1/video/query", params={"id": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "not found"
    assert (await client.get(f"{base}/v1/videos/nope")).status_code == 404


async def test_unknown_paths_and_missing_files_are_404_json(relay, client):
    for path in ("/nope", "/files/nope.mp4", "/v1/completions"):
        resp = await client.get(relay.base_url + path)
        assert resp.status_code == 404, path
        assert resp.json() == {
            "error": {"message": "not found", "type": "invalid_request_error", "code": ""}
        }


async def test_added_files_bytes_path_and_ranges(relay, client, tmp_path: Path):
    url = relay.add_file("clip one.bin", b"0123456789")
    assert url == relay.base_url + "/files/clip%20one.bin"
    resp = await client.get(url)
    assert (resp.content, resp.headers["content-type"]) == (
        b"0123456789",
        "application/octet-stream",
    )
    part = await client.get(url, headers={"Range": "bytes=2-5"})
    assert (part.status_code, part.content) == (206, b"2345")
    assert part.headers["content-range"] == "bytes 2-5/10"

    big = tmp_path / "big.mp4"
    big.write_bytes(bytes(range(256)) * 12_000)  # ~3 MB, many 64 kB chunks
    resp = await client.get(relay.add_file("big.mp4", big))
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.headers["content-length"] == str(big.stat().st_size)
    assert resp.content == big.read_bytes()
    tail = await client.get(relay.base_url + "/files/big.mp4", headers={"Range": "bytes=-3"})
    assert tail.content == big.read_bytes()[-3:]


async def test_redirect(relay, client):
    target = relay.base_url + "/files/sample.mp4"
    url = f"{relay.base_url}/redirect?to={quote(target, safe='')}"
    resp = await client.get(url)
    assert (resp.status_code, resp.headers["location"]) == (302, target)
    followed = await client.get(url, follow_redirects=True)
    assert followed.status_code == 200 and followed.content == DEFAULT_VIDEO.read_bytes()


# ---------------------------------------------------------------------------- lifecycle


async def test_runs_in_the_current_loop():
    async with SimRelay(speed=1000) as relay:
        assert relay.base_url.startswith("http://127.0.0.1:")
        relay.push([Content("in-loop"), Done()])
        async with httpx.AsyncClient(headers=AUTH) as client:
            assert text_of(await sse(client, relay)) == "in-loop"
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(relay.base_url + "/v1/models")


def test_stop_closes_the_port_and_open_streams():
    relay = SimRelay(speed=1).start()
    relay.push([Content("x"), Sleep(60)])
    with httpx.Client(timeout=5, headers=AUTH) as client:
        with client.stream("POST", relay.base_url + CHAT_PATH, json=BODY) as resp:
            pieces = resp.iter_bytes()
            next(pieces)
            started = time.monotonic()
            relay.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in pieces:
                    pass
        assert time.monotonic() - started < 2
        with pytest.raises(httpx.ConnectError):
            client.get(relay.base_url + "/v1/models")
