"""The fault matrix: every way a relay can go wrong, in every format, end to end.

Each scenario runs one job exactly as the app does — a ``Runtime`` on a fresh data folder,
``Jobs.start``, then following the job — against a real simulated relay on loopback (docs/
relay-protocol.md gives the shapes; the scripts are reconstructions, not captures). For every
scenario it checks:

(a) the final state and kind, and that the job ended (never left "downloading");
(b) ``explain(kind, lang, relay_text, …)`` in English and Chinese: one readable sentence each (no
    traceback, exception names, httpx or HTML; Chinese characters in the Chinese one), carrying
    the relay's own words when it gave some — verbatim, as valid UTF-8;
(c) the task id and the last progress, in the store;
(d) exactly one chat POST or task create reached the relay (none when nothing listens), and how
    many tasks the relay accepted (``relay.made()``);
(e) the key — a canary, ``sk-CANARY-<uuid4 hex>`` — is nowhere: not in the logs (DEBUG, httpx and
    httpcore included), not in the store, not in any file of the data folder.

Times are scaled: the relay plays its scripts ``SPEED`` times faster, the read timeout is 0.5 s
and the total deadline 2 s; ``wait(s)`` is a pause of ``s`` real seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import re
import socket
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from suxi import conversation
from suxi.admission import Visitor
from suxi.errors import BadReplyError
from suxi.generation import GenerationOptions
from suxi.job import Job
from suxi.jobs import StartRequest
from suxi.kinds import Kind, State
from suxi.relay.chat import MAX_SSE_EVENT
from suxi.relay.http import MAX_COMPLETION_BODY, MAX_JSON_BODY
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.simrelay import (
    REMOVE,
    Content,
    Data,
    Done,
    Drop,
    Finish,
    Frame,
    RecordedRequest,
    Reply,
    Script,
    ScriptFactory,
    Send,
    SimRelay,
    Sleep,
    TaskPlan,
    completion_chunk,
    demo_script,
    error_body,
    error_reply,
    user_prompt,
)
from suxi.texts import RELAY_SAID, explain, tr

from .relay_scripts import family_b_script, family_c_script

CANARY = f"sk-CANARY-{uuid.uuid4().hex}"
SPEED = 200.0
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).parent.parent / "assets" / "sample.mp4"
TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
ANY = "<any id>"
MB = 1024 * 1024
JOB_LIMIT = 10.0  # seconds one job may take in this file
VISITOR = Visitor("fault-matrix-visitor-0001", "addr-hash")
TASK_ROUTES = ("unified", "generations", "openai")
MODELS = {"chat": "sora-2", **dict.fromkeys(TASK_ROUTES, "veo3.1-fast")}
FORMATS = {"chat": "chat", "unified": "unified", "generations": "unified", "openai": "openai"}

# Never in a sentence for a person.
FORBIDDEN = ("Traceback", "Error(", "Exception", "httpx", "httpcore", "None", "\\u")
HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
CJK = re.compile(r"[\u3400-\u9fff]")


def wait(seconds: float) -> Sleep:
    """A pause of ``seconds`` real seconds at the relay's speed."""
    return Sleep(seconds * SPEED)


def at(seconds: float) -> float:
    """A frame time for ``seconds`` real seconds after the create."""
    return seconds * SPEED


def steps(build: Callable[[str], Script]) -> ScriptFactory:
    """A chat script that needs the relay's base URL (for its video link)."""
    return lambda _request, base_url: build(base_url)


def fixed(*script: object) -> ScriptFactory:
    return lambda _request, _base_url: list(script)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- chat pieces


def family_a_head() -> Script:
    """Echo, task header, generating, progress 36 then 44 (the progress line stays open)."""
    return [
        Content('```json\n{"prompt": "fault", "orientation": "portrait"}\n```\n\n'),
        Content(f"> ID: `{TASK}`\n"),
        Content(
            f">[数据预览](https://asyncdata.net/web/{TASK}) | "
            f"[原始数据](https://asyncdata.net/source/{TASK})\n\n"
        ),
        Content("> 生成中"),
        Content("."),
        Content("\n\n>🏃 进度 "),
        Content("36.."),
        Content("44.."),
    ]


def play_link(base_url: str, name: str = "sample.mp4") -> str:
    return f"[在线播放▶️]({base_url}/files/{name})"


def video_tail(base_url: str) -> Script:
    return [
        Content(
            "\n\n> 生成完成 ✅\n\n> sid: s_68eca3f1aa\n\n"
            f"![预览]({base_url}/files/thumb.webp)\n\n{play_link(base_url)}\n\n"
        ),
        Finish("stop"),
        Done(),
    ]


def b_chunk(content: str, finish: str | None = None) -> Data:
    """A family-B chunk, Go-escaped as new-api writes it."""
    delta = {"content": content} if content else {}
    return Data(completion_chunk(delta, finish, go_escape=True))


def c_chunk(
    content: str | None = None, reasoning: str | None = None, finish: str | None = None
) -> Data:
    """A family-C (sora2api) chunk: every field present, most of them null."""
    delta = {"content": content, "reasoning_content": reasoning, "tool_calls": None}
    return Data(completion_chunk(delta, finish, model="sora"))


def frame(delta: dict) -> bytes:
    return completion_chunk(delta).encode()


def raw_content(text_json: str) -> Data:
    """A chunk whose content is written as a JSON string literal (escapes kept as sent)."""
    return Data('{"choices": [{"index": 0, "delta": {"content": "' + text_json + '"}}]}')


@cache
def huge_line() -> bytes:
    """One SSE line of 10 MB that never ends (built once, before memory is traced)."""
    return b"data: " + b"x" * (10 * MB)


PIECE = b"x" * (64 * 1024)
DATA_LINE = b"data: " + b"x" * 1000 + b"\n"  # a data line, never the blank line ending an event
DATA_FLOOD = MAX_SSE_EVENT // len(DATA_LINE) + 64


def small_chunks(count: int) -> Script:
    """``count`` chunks of one dot each. A pause of 1 ms now and then lets the simulator serve
    its other connections (its writes never wait for the network, so they never yield)."""
    return [s for _ in range(count // 250) for s in (*[Content(".")] * 250, wait(0.001))]


def chat_completion(content: str) -> bytes:
    body = {
        "id": "chatcmpl-0",
        "object": "chat.completion",
        "model": "sora-2",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": ""}
        ],
    }
    return json.dumps(body, ensure_ascii=False).encode()


def family_a_markdown(base_url: str) -> str:
    return (
        '```json\n{"prompt": "fault", "orientation": "landscape"}\n```\n\n'
        f"> ID: `{TASK}`\n>[数据预览](https://asyncdata.net/web/{TASK})\n\n"
        "> 排队中....\n\n> 生成中...\n\n>🏃 进度 36..44..81..\n\n> 生成完成 ✅\n\n"
        f"> sid: s_68eca3f1aa\n\n![预览]({base_url}/files/thumb.webp)\n\n{play_link(base_url)}\n"
    )


def split_inside(data: bytes, char: str) -> tuple[bytes, bytes]:
    """``data`` cut after the first byte of ``char`` (a multi-byte UTF-8 character)."""
    cut = data.index(char.encode()) + 1
    return data[:cut], data[cut:]


SPLIT_A, SPLIT_B = split_inside(b"data: " + frame({"content": "> 生成中\n\n"}) + b"\r\n\r\n", "中")
HALF_CHARACTER = 'data: {"choices": [{"delta": {"content": "进'.encode()[:-1]
HTML_200 = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    b"<body><p>Checking your browser &amp; more.</p></body></html>"
)
AVAILABLE = (
    "Sora2API is available. Video generation needs streaming: send the request again with "
    "stream set to true."
)
UPSTREAM_TIMEOUT = "Upstream API timeout: Generation exceeded 3000 seconds limit"
POLICY_REASON = (
    "This content may violate our guardrails concerning similarity to third-party content."
)
HEAVY_LOAD = "错误：The service is currently under heavy load. Please try again later."
REQUEST_ID = "(request id: 2025112520150012345678abcdef)"
TASK_GONE = error_reply(404, error_body("Task not found", "invalid_request_error"))
CUT = '"\\ud83d cut \\ud83d"'  # a cut emoji, as JSON escapes: one lone surrogate each side
SURROGATE_FAILURE = error_reply(
    200,
    f'{{"status": "failed", "failure_reason": {CUT}, "fail_reason": {CUT},'
    f' "error": {{"message": {CUT}}}}}',
)

# Chunks of every odd shape a relay has sent or could send; none of them may cost the video.
ODD_CHUNKS = [
    '{"choices": 5}',
    '{"choices": true}',
    '{"choices": [5, "x", null, []]}',
    '{"choices": [{"delta": 5}]}',
    '{"choices": [{"delta": {"content": 5, "reasoning_content": ["x"]}}]}',
    '{"choices": [{"delta": {"content": "lost"}}], "duration": 1e999}',
    '{"choices": [{"delta": {"content": Infinity}}]}',
    '{"choices": [{"delta": {"content": NaN}}]}',
    '{"choices": [{"delta": {"content": "deep"}}], "x": ' + "[" * 100 + "]" * 100 + "}",
    "[" * 100_000,
    '{"error": 5}',
    '{"error": true}',
    '{"error": []}',
    '{"error": {}}',
    '"a string"',
    "null",
    "9" * 5000,
]


def odd_chunks_then_video(base_url: str) -> Script:
    echo = '```json\n{"prompt": ["x"], "duration": true, "orientation": {"a": 1}, "size": 7}\n```'
    return [
        *[Data(chunk) for chunk in ODD_CHUNKS],
        Content(echo + "\n\n"),
        Content('```json\n{"prompt": "p", "duration": 1e999}\n```\n\n'),
        *video_tail(base_url),
    ]


# -------------------------------------------------------------------------------- the scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    route: str = "chat"  # chat | unified | generations | openai
    kind: Kind | None = None  # None: the video was kept
    script: ScriptFactory | None = None  # chat: what the relay streams
    create: Script | None = None  # task routes: the create's own answer (no task is made)
    plan: TaskPlan | None = None  # task routes: how the task goes
    said: str = ""  # the relay's own words, kept verbatim and shown in both sentences
    quiet: bool = False  # the relay gave no words of its own
    words: tuple[str, str] | None = None  # (en, zh) the sentences must contain
    task_id: str | None = None  # ANY: some id the relay made up
    percent: float | None = None  # the last progress stored
    percents: tuple[float, ...] = ()  # progress the job showed, in this order
    line: str = ""  # a line of the relay's the job must keep
    relay: str = "sim"  # sim | closed (nothing listens) | endless (a JSON body without end)
    sent: int = 1  # chat POSTs / task creates that reached the relay
    made: int | None = None  # tasks the relay accepted (default: 1 for a task job with a plan)
    stream: bool = True
    restart: bool = False  # the app is closed mid-job and started again on the same folder
    memory_bound: int | None = None  # bytes: tracemalloc's peak while the job runs
    limit: float = JOB_LIMIT
    answer: bool = False  # the reply is kept whole with its sid (to change the video later)
    queued: bool = False  # the job showed "queued" before "generating"

    @property
    def prompt(self) -> str:
        return f"fault matrix: {self.name}"

    @property
    def state(self) -> State:
        return State.DONE if self.kind is None else State.FAILED

    @property
    def accepted(self) -> int:
        if self.made is not None:
            return self.made
        return 1 if self.route != "chat" and self.create is None and self.relay == "sim" else 0


def http_scenarios() -> list[Scenario]:
    """Every error status a relay answers a chat POST with, as JSON, plain text and empty."""
    errors = [
        (401, Kind.AUTH, f"无效的令牌 {REQUEST_ID}", ""),
        (403, Kind.QUOTA, f"用户额度不足, 剩余额度: ＄0.000000 {REQUEST_ID}", "insufficient"),
        (429, Kind.RATE_LIMIT, f"您已达到请求数限制：1分钟内最多请求10次 {REQUEST_ID}", "rate"),
        (500, Kind.SERVER, f"upstream error: do request failed {REQUEST_ID}", ""),
        (502, Kind.SERVER, f"bad response status code 502 {REQUEST_ID}", "bad_response"),
        (503, Kind.UNAVAILABLE, f"当前分组 default 下对于模型 sora-2 无可用渠道 {REQUEST_ID}", "x"),
        (504, Kind.PROXY_TIMEOUT, f"upstream request timed out {REQUEST_ID}", ""),
    ]
    out = []
    for status, kind, message, code in errors:
        headers = (("Retry-After", "30"),) if status == 429 else ()
        words = ("30 seconds", "30 秒") if status == 429 else None
        bodies = {
            "json": (error_body(message, "new_api_error", code), "application/json"),
            "text": (message.encode(), "text/plain; charset=utf-8"),
            "empty": (b"", ""),
        }
        for shape, (body, ctype) in bodies.items():
            out.append(
                Scenario(
                    f"chat_http_{status}_{shape}",
                    script=fixed(Reply(status, body, ctype, headers)),
                    # A bare 503 is a relay that is down, not a model without a channel.
                    kind=kind if body or status != 503 else Kind.RELAY_DOWN,
                    said=message if body else "",
                    quiet=not body,
                    words=words,
                )
            )
    return out


CHAT: list[Scenario] = [
    # — success, one per family, and the transport's quirks —
    Scenario("chat_success_family_a", script=demo_script, task_id=ANY, percent=100, answer=True),
    Scenario("chat_success_family_b", script=family_b_script(seconds=20), percent=100),
    Scenario("chat_success_family_c", script=family_c_script(seconds=20), percent=100),
    Scenario(
        "chat_transport_quirks",  # CRLF, "data:" without a space, id/event lines, a character
        # split across two reads, a comment, and "[DONE]" glued to a literal "\n\n"
        script=steps(
            lambda base: [
                Send(
                    b"event: message\r\nid: 1\r\ndata:" + frame({"role": "assistant"}) + b"\r\n\r\n"
                ),
                Send(SPLIT_A),
                wait(0.05),
                Send(SPLIT_B),
                Send(b": keep-alive\r\n\r\n"),
                Send(b"data:" + frame({"content": play_link(base) + "\n\n"}) + b"\r\n\r\n"),
                Send(b"data: [DONE]\\n\\n\r\n\r\n"),
            ]
        ),
        percent=100,
        line="生成中",
    ),
    Scenario(
        "chat_heartbeats_longer_than_the_read_timeout",
        script=steps(
            lambda base: [
                Content("> 排队中\n\n"),
                *[s for _ in range(6) for s in (wait(0.2), Send(b": PING\n\n"))],
                *video_tail(base),
            ]
        ),
        percent=100,
    ),
    Scenario(
        "chat_malformed_lines_then_video",
        script=steps(
            lambda base: [
                *family_a_head(),
                Data('{"choices": [{"delta": {"content": "oops'),
                Data("{not json at all"),
                Send(b"data \n\nrubbish without a colon\n\n"),
                *video_tail(base),
            ]
        ),
        task_id=TASK,
        percent=100,
    ),
    Scenario(
        "chat_json_to_a_stream_request_with_video",
        script=steps(lambda base: [Reply(200, chat_completion(family_a_markdown(base)))]),
        task_id=TASK,
        percent=100,
        answer=True,
    ),
    Scenario(
        "chat_not_streaming_json_answer",
        script=steps(lambda base: [wait(0.2), Content(family_a_markdown(base))]),
        stream=False,
        task_id=TASK,
        percent=100,
        answer=True,
    ),
    # — the transport breaks —
    Scenario(
        "chat_silence_before_the_response_head",
        script=steps(lambda base: [wait(1.5), *video_tail(base)]),
        kind=Kind.STALL,
        quiet=True,
    ),
    Scenario(
        "chat_stall_after_task_id_and_progress",
        script=fixed(*family_a_head(), wait(1.5)),
        kind=Kind.STALL,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_dots_trickle_past_the_deadline",
        script=fixed(
            *family_a_head(),
            Content("\n\n> 生成中"),
            *[s for _ in range(25) for s in (wait(0.2), Content("."))],
        ),
        kind=Kind.DEADLINE,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_drop_mid_stream",
        script=fixed(*family_a_head(), Content("\n\n"), Drop()),
        kind=Kind.DROPPED,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_drop_inside_a_multibyte_character",
        script=fixed(*family_a_head(), Content("\n\n"), Send(HALF_CHARACTER), Drop()),
        kind=Kind.DROPPED,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_drop_after_the_video_link",  # the link arrived: the stream's end no longer matters
        script=steps(
            lambda base: [*family_a_head(), Content(f"\n\n{play_link(base)}\n\n"), Drop()]
        ),
        task_id=TASK,
        percent=100,
    ),
    Scenario(
        "chat_clean_close_without_done",
        script=fixed(*family_a_head(), Content("\n\n")),
        kind=Kind.DROPPED,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_one_10_mb_line",
        script=fixed(*family_a_head(), Content("\n\n"), Send(huge_line())),
        kind=Kind.BROKEN_STREAM,
        task_id=TASK,
        percent=44,
        quiet=True,
        # The relay runs in this process and copies the 10 MB write: this bounds both.
        memory_bound=64 * MB,
    ),
    Scenario(
        "chat_one_10_mb_line_in_64_kb_writes",
        script=fixed(*family_a_head(), Content("\n\n"), Send(b"data: "), *[Send(PIECE)] * 160),
        kind=Kind.BROKEN_STREAM,
        task_id=TASK,
        percent=44,
        quiet=True,
        memory_bound=16 * MB,
    ),
    Scenario(
        "chat_data_lines_without_a_blank_line",  # one event of more than MAX_SSE_EVENT bytes
        script=fixed(Content("> 排队中\n\n"), *[Send(DATA_LINE)] * DATA_FLOOD),
        kind=Kind.BROKEN_STREAM,
        quiet=True,
        memory_bound=32 * MB,
    ),
    Scenario(
        "chat_8000_small_chunks_without_a_newline",
        script=steps(lambda base: [Content("> 排队中"), *small_chunks(8000), *video_tail(base)]),
        percent=100,
    ),
    Scenario(
        "chat_unterminated_last_event_with_the_video",
        script=steps(
            lambda base: [
                *family_a_head(),
                Send(b"data: " + frame({"content": f"\n\n{play_link(base)}\n"}) + b"\n"),
            ]
        ),
        task_id=TASK,
        percent=100,
    ),
    Scenario(
        "chat_unterminated_half_event",
        script=fixed(*family_a_head(), Send(b'data: {"choices": [{"delta": {"content": "half')),
        kind=Kind.DROPPED,
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "chat_endless_json_body",
        relay="endless",
        kind=Kind.BAD_REPLY,
        quiet=True,
    ),
    # — the relay says the generation failed —
    Scenario(
        "chat_error_chunk_in_the_stream",
        script=fixed(
            c_chunk(reasoning="**Generation Process Begins**\n\n"),
            c_chunk(reasoning="**Video Generation Progress**: 47% (running)\n\n"),
            Data(json.dumps({"error": {"message": UPSTREAM_TIMEOUT, "type": "upstream_error"}})),
            Done(),
        ),
        kind=Kind.RELAY,
        said=UPSTREAM_TIMEOUT,
        percent=47,
    ),
    Scenario(
        "chat_error_chunk_then_close_without_done",
        script=fixed(
            Content("> 生成中\n\n"),
            Data(json.dumps({"error": {"message": UPSTREAM_TIMEOUT, "type": "", "code": ""}})),
        ),
        kind=Kind.RELAY,
        said=UPSTREAM_TIMEOUT,
    ),
    Scenario(
        "chat_done_without_a_video_link",
        script=fixed(*family_a_head(), Content("\n\n"), Finish("stop"), Done()),
        kind=Kind.NO_VIDEO,
        quiet=True,  # its last line was progress, not a reason
        task_id=TASK,
        percent=44,
    ),
    Scenario(
        "chat_cross_mark_line_family_b",
        script=fixed(
            b_chunk(""),
            b_chunk("> ⌛️ 任务正在队列中，请耐心等待...\n\n"),
            b_chunk("> 🏃 进度：36.0%\n\n"),
            b_chunk("> ❌ 生成失败：视频生成超时，请稍后重试\n\n"),
            b_chunk("", "stop"),
            Done(),
        ),
        kind=Kind.RELAY,
        said="❌ 生成失败：视频生成超时，请稍后重试",
        percent=36,
    ),
    Scenario(
        "chat_content_policy_family_c",
        script=fixed(
            c_chunk(reasoning="**Generation Process Begins**\n\n"),
            c_chunk(reasoning=f"**Content Policy Violation**\n\n{POLICY_REASON}\n"),
            c_chunk(content=f"❌ 生成失败: {POLICY_REASON}", finish="STOP"),
            Done(),
        ),
        kind=Kind.CONTENT_POLICY,
        said=POLICY_REASON,
    ),
    Scenario(
        "chat_under_heavy_load",
        script=fixed(b_chunk(""), b_chunk(f"> {HEAVY_LOAD}\n\n"), b_chunk("", "stop"), Done()),
        kind=Kind.OVERLOADED,
        said=HEAVY_LOAD,
    ),
    # — the relay refuses before streaming —
    *http_scenarios(),
    Scenario(
        "chat_http_429_without_retry_after",
        script=fixed(Reply(429, error_body("您已达到请求数限制", code="rate_limit_exceeded"))),
        kind=Kind.RATE_LIMIT,
        said="您已达到请求数限制",
        words=("a minute", "一分钟"),
    ),
    Scenario(
        "chat_cloudflare_524_html_while_streaming",
        script=fixed(
            Reply(524, (FIXTURES / "error_524.html").read_bytes(), "text/html; charset=UTF-8")
        ),
        kind=Kind.PROXY_TIMEOUT,
        said="relay.example.com | 524: A timeout occurred",
    ),
    Scenario(
        "chat_cloudflare_524_html_without_streaming",  # here turning streaming on is the advice
        script=fixed(Reply(524, (FIXTURES / "error_524.html").read_bytes(), "text/html")),
        stream=False,
        kind=Kind.PROXY_TIMEOUT_NOSTREAM,
        said="relay.example.com | 524: A timeout occurred",
        words=("turn streaming on", "请打开流式"),
    ),
    Scenario(
        "chat_html_page_with_status_200",
        script=fixed(Reply(200, HTML_200, "text/html; charset=UTF-8")),
        kind=Kind.BAD_REPLY,
        said="Just a moment...",
    ),
    Scenario(
        "chat_json_200_without_video",
        script=fixed(Reply(200, chat_completion(AVAILABLE))),
        kind=Kind.NO_VIDEO,
        said=AVAILABLE,
    ),
    Scenario(
        "chat_json_200_error_object",
        script=fixed(Reply(200, error_body(UPSTREAM_TIMEOUT, "upstream_error"))),
        kind=Kind.RELAY,
        said=UPSTREAM_TIMEOUT,
    ),
    Scenario("chat_connection_refused", relay="closed", kind=Kind.CONNECT, quiet=True, sent=0),
    # — hostile shapes —
    Scenario(
        "chat_lone_surrogate_in_content",
        script=steps(lambda base: [raw_content("> \\ud83d 排队中\\n\\n"), *video_tail(base)]),
        percent=100,
        line="\ufffd 排队中",
    ),
    Scenario(
        "chat_lone_surrogate_in_an_error_chunk",
        script=fixed(Data('{"error": {"message": "upstream \\ud83d failed \\udc00"}}'), Done()),
        kind=Kind.RELAY,
        said="upstream \ufffd failed \ufffd",
    ),
    Scenario(
        "chat_lone_surrogate_in_an_error_status",
        script=fixed(Reply(500, b'{"error": {"message": "\\ud83d server \\ud83d"}}')),
        kind=Kind.SERVER,
        said="\ufffd server \ufffd",
    ),
    Scenario(
        "chat_lone_surrogate_in_the_video_link",  # the job ends; it is never left downloading
        script=steps(
            lambda base: [
                raw_content(play_link(base, "sample\\ud83d.mp4") + "\\n\\n"),
                Finish("stop"),
                Done(),
            ]
        ),
        kind=Kind.DOWNLOAD,
        quiet=True,
    ),
    Scenario("chat_odd_chunks_then_video", script=steps(odd_chunks_then_video), percent=100),
]


# — the task formats —


def create_refused(route: str, status: int, kind: Kind, message: str, **kw) -> Scenario:
    headers = (("Retry-After", "30"),) if status == 429 else ()
    body = {"error": {"message": message, "type": "new_api_error", "code": ""}}
    return Scenario(
        f"{route}_create_{status}",
        route=route,
        kind=kind,
        create=error_reply(status, body, headers=headers),
        said=message,
        made=0,
        **kw,
    )


def unknown_id(route: str) -> tuple[dict, str]:
    """A create answer naming an id this relay never made, and what a poll of it answers."""
    return {
        "unified": ({"id": "veo3.1-fast:task_unknown0001", "status": "pending"}, "not found"),
        "generations": ({"task_id": "task_unknown0001", "status": "queued"}, "task_not_exist"),
        "openai": ({"id": "video_unknown0001", "status": "queued"}, "Task not found"),
    }[route]


def progress_scales(route: str) -> tuple[Frame, ...]:
    """37 as a 0–1 fraction, 61 as a 0–100 number, 83 as a "83%" string, in the route's fields."""
    if route == "unified":  # progress_pct (a fraction) wins over progress when both are sent
        fields = [
            {"detail.pending_info.progress_pct": 0.37},
            {"detail": REMOVE, "progress": 61},
            {"detail": REMOVE, "progress": "83%"},
        ]
    else:
        fields = [{"progress": 0.37}, {"progress": 61}, {"progress": "83%"}]
    running = tuple(Frame(at(0.25 * i), "running", raw=raw) for i, raw in enumerate(fields))
    return (*running, Frame(at(0.75), "done", 100))


ODD_REPLIES = [
    b'{"status": "running", "progress": true}',
    b'{"status": ["x"], "progress": ' + b"9" * 400 + b"}",
    b'{"status": "processing", "progress": Infinity}',
    b'{"status": "processing", "progress": 1e999}',
    b"[" * 100_000,
    b'"completed"',
    b"<html><title>Just a moment...</title></html>",
]


def odd_replies() -> tuple[Frame, ...]:
    frames = [
        Frame(at(0.05 * i), "running", reply=error_reply(200, body))
        for i, body in enumerate(ODD_REPLIES)
    ]
    return (*frames, Frame(at(0.4), "running", 40), Frame(at(0.75), "done", 100))


def task_scenarios(route: str) -> list[Scenario]:
    answer, not_known = unknown_id(route)
    reason = f"上游返回：渠道余额不足 {REQUEST_ID}"
    out = [
        create_refused(route, 400, Kind.BAD_REQUEST, f"参数错误：duration 不支持 {REQUEST_ID}"),
        create_refused(route, 401, Kind.AUTH, f"无效的令牌 {REQUEST_ID}"),
        create_refused(route, 403, Kind.QUOTA, f"用户额度不足 {REQUEST_ID}"),
        create_refused(
            route,
            429,
            Kind.RATE_LIMIT,
            "当前分组上游负载已饱和，请稍后再试",
            words=("30 seconds", "30 秒"),
        ),
        create_refused(route, 503, Kind.UNAVAILABLE, "当前分组 default 下对于模型 veo 无可用渠道"),
        Scenario(
            f"{route}_query_404_three_times",
            route=route,
            plan=TaskPlan((Frame(0, "queued", reply=TASK_GONE),)),
            kind=Kind.TASK_UNKNOWN,
            said="Task not found",
            task_id=ANY,
        ),
        Scenario(
            f"{route}_an_id_the_relay_never_made",
            route=route,
            create=error_reply(200, answer),
            kind=Kind.TASK_UNKNOWN,
            said=not_known,
            task_id=task_id_of(answer),
        ),
        Scenario(
            f"{route}_failed_with_a_reason",
            route=route,
            plan=TaskPlan(
                (
                    Frame(0, "queued"),
                    Frame(at(0.2), "running", 30),
                    Frame(at(0.4), "failed", reason=reason),
                )
            ),
            kind=Kind.RELAY,
            said=reason,
            task_id=ANY,
            percent=30,
            queued=True,
        ),
        Scenario(
            f"{route}_lone_surrogate_in_the_failure",
            route=route,
            plan=TaskPlan(
                (
                    Frame(0, "running", 20),
                    Frame(at(0.2), "failed", reply=SURROGATE_FAILURE),
                )
            ),
            kind=Kind.RELAY,
            said="\ufffd cut \ufffd",
            task_id=ANY,
            percent=20,
        ),
        Scenario(
            f"{route}_unknown_status_word_is_still_running",
            route=route,
            plan=TaskPlan(
                (
                    Frame(0, "running", 20, status="video_upsampling_flux"),
                    Frame(at(0.2), "done", 100),
                )
            ),
            task_id=ANY,
            percent=100,
        ),
        Scenario(
            f"{route}_progress_as_fraction_number_and_percent_string",
            route=route,
            plan=TaskPlan(progress_scales(route)),
            task_id=ANY,
            percent=100,
            percents=(37, 61, 83, 100),
        ),
        Scenario(
            f"{route}_odd_status_replies_then_the_video",
            route=route,
            plan=TaskPlan(odd_replies()),
            task_id=ANY,
            percent=100,
            percents=(40, 100),
        ),
        Scenario(
            f"{route}_never_finishes",
            route=route,
            plan=TaskPlan((Frame(0, "queued"), Frame(at(0.25), "running", 10))),
            kind=Kind.DEADLINE,
            quiet=True,
            task_id=ANY,
            percent=10,
            queued=True,
        ),
        Scenario(
            f"{route}_kill_and_restart_mid_job",
            route=route,
            plan=TaskPlan(
                (
                    Frame(0, "queued", position=3),
                    Frame(at(0.25), "running", 30),
                    Frame(at(0.7), "running", 70),
                    Frame(at(1.0), "done", 100),
                )
            ),
            restart=True,
            task_id=ANY,
            percent=100,
            queued=True,
        ),
        Scenario(
            f"{route}_connection_refused",
            route=route,
            relay="closed",
            kind=Kind.CONNECT,
            quiet=True,
            sent=0,
        ),
    ]
    if route == "openai":
        done_after = (Frame(0, "running", 50), Frame(at(0.2), "done", 100))
        out += [
            Scenario(
                "openai_content_redirects_to_a_cdn_path",
                route=route,
                plan=TaskPlan(
                    (done_after[0], Frame(at(0.2), "done", 100, video_url="/files/sample.mp4")),
                    content="redirect",
                ),
                task_id=ANY,
                percent=100,
            ),
            Scenario(
                "openai_content_answers_json_with_a_link",
                route=route,
                plan=TaskPlan(done_after, content="json"),
                task_id=ANY,
                percent=100,
            ),
            Scenario(
                "openai_content_answers_403",
                route=route,
                plan=TaskPlan(done_after, content=error_reply(403, error_body("expired"))),
                kind=Kind.LINK_EXPIRED,
                quiet=True,
                task_id=ANY,
                percent=50,
            ),
            Scenario(
                "openai_completed_but_the_content_is_gone",
                route=route,
                plan=TaskPlan(done_after, content=TASK_GONE),
                kind=Kind.DOWNLOAD,
                quiet=True,
                task_id=ANY,
                percent=50,
            ),
        ]
    else:
        out.append(
            Scenario(
                f"{route}_completed_without_a_link",
                route=route,
                plan=TaskPlan(
                    (Frame(0, "running", 60), Frame(at(0.25), "done", 100, video_url=None))
                ),
                kind=Kind.NO_VIDEO,
                quiet=True,
                task_id=ANY,
                percent=60,
            )
        )
    return out


def task_id_of(answer: dict) -> str:
    return answer.get("task_id") or answer["id"]


SCENARIOS = [*CHAT, *(s for route in TASK_ROUTES for s in task_scenarios(route))]
BY_PROMPT = {s.prompt: s for s in SCENARIOS}
assert len(BY_PROMPT) == len(SCENARIOS), "scenario names must be unique"


# ------------------------------------------------------------------------------------ harness


class EndlessJSON(ThreadingHTTPServer):
    """A relay whose JSON answer never ends: ``{"data": [`` then spaces, until the client goes."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EndlessHandler)
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.sent = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class EndlessHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._endless()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._endless()

    def _endless(self) -> None:
        server: EndlessJSON = self.server  # type: ignore[assignment]
        server.requests.append(
            (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        block = b" " * 65536
        try:
            self.wfile.write(b'{"data": [')
            while server.sent < 1024 * MB:  # a safety stop; the client hangs up long before
                self.wfile.write(block)
                server.sent += len(block)
        except OSError:
            pass  # the client went away: that is the point

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sim():
    with SimRelay(speed=SPEED).start() as relay:
        yield relay


@pytest.fixture
def endless():
    server = EndlessJSON()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "suxi", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fault_settings(base_url: str, data_dir: Path, total: float = 2.0) -> Settings:
    return Settings(
        api_key=CANARY,
        base_url=base_url,
        data_dir=data_dir,
        connect_timeout=1.0,
        read_timeout=0.5,
        total_timeout=total,
        download_timeout=5.0,
        poll_interval=0.05,
        poll_max_interval=0.1,
        min_free_bytes=0,
        max_jobs=128,
        max_queue=128,
    )


def start_request(scenario: Scenario) -> StartRequest:
    options = GenerationOptions(
        model=MODELS[scenario.route], format=FORMATS[scenario.route], stream=scenario.stream
    )
    messages = conversation.first_messages(scenario.prompt, options)
    return StartRequest(VISITOR, scenario.prompt, options, messages=messages)


async def open_runtime(settings: Settings, route: str) -> Runtime:
    runtime = await Runtime(settings).start()
    if route == "generations":  # the relay answered in new-api's dialect last time
        assert runtime.store is not None and runtime.operator_relay is not None
        runtime.store.remember_route(runtime.operator_relay.origin, "veo", "generations")
    return runtime


async def follow(runtime: Runtime, job_id: str, limit: float) -> list[Job]:
    """Every snapshot of the job until it ends (it must end within ``limit`` seconds)."""
    snapshots: list[Job] = []

    async def run() -> None:
        async for job in runtime.jobs.follow(job_id):
            snapshots.append(job)

    try:
        await asyncio.wait_for(run(), limit)
    except TimeoutError:
        last = snapshots[-1] if snapshots else None
        raise AssertionError(f"the job is still {last and last.state} after {limit} s") from None
    return snapshots


async def until_running(runtime: Runtime, job_id: str) -> list[Job]:
    """The snapshots until the job has its task id and shows progress (the app is then closed
    under it)."""
    seen: list[Job] = []
    async for job in runtime.jobs.follow(job_id):
        seen.append(job)
        if job.task_id and job.percent:
            return seen
    raise AssertionError("the job ended before it could be interrupted")


@dataclass
class Played:
    scenario: Scenario
    snapshots: list[Job]
    stored: Job
    data_dir: Path
    files: set[str] = field(default_factory=set)  # names in the data folder while open
    polls_before_restart: int = 0

    @property
    def final(self) -> Job:
        return self.snapshots[-1]


async def play(
    scenario: Scenario, sim: SimRelay, tmp_path: Path, endless: EndlessJSON | None = None
) -> Played:
    base = {"sim": sim.base_url, "closed": closed_port_url()}
    if endless is not None:
        base["endless"] = endless.url
    settings = fault_settings(base[scenario.relay], tmp_path / "data")
    if scenario.script is not None:
        sim.push(scenario.script)
    if scenario.create is not None:
        sim.push_create(scenario.create)
    if scenario.plan is not None:
        sim.push_task(scenario.plan)
    if scenario.memory_bound:
        huge_line()  # built before tracing starts
        tracemalloc.start()
    runtime = await open_runtime(settings, scenario.route)
    polls_before_restart = 0
    try:
        job = runtime.jobs.start(start_request(scenario), runtime.key_for(None))
        snapshots = [job]
        if scenario.restart:
            snapshots += await until_running(runtime, job.id)
            await runtime.close()  # the app stops mid-job
            polls_before_restart = len(sim.polls(snapshots[-1].task_id or ""))
            runtime = await open_runtime(settings, scenario.route)
        snapshots += await follow(runtime, job.id, scenario.limit)
        if scenario.memory_bound:
            _, peak = tracemalloc.get_traced_memory()
            assert peak < scenario.memory_bound, f"peak {peak / MB:.1f} MB"
        stored = runtime.store.get(job.id)
        assert stored is not None
        # The WAL file exists while the store is open: look at every file now, and after.
        files = {p.name for p in settings.data_dir.rglob("*") if p.is_file()}
        check_no_key_in_files(settings.data_dir)
    finally:
        if scenario.memory_bound:
            tracemalloc.stop()
        await runtime.close()
    check_no_key_in_files(settings.data_dir)
    return Played(scenario, snapshots, stored, settings.data_dir, files, polls_before_restart)


# ------------------------------------------------------------------------------------- checks


def check_sentence(text: str, lang: str, kind: Kind, said: str = "") -> None:
    assert text and text == text.strip() and "\n" not in text, repr(text)
    assert len(text) <= 800, text
    for bad in FORBIDDEN:
        assert bad not in text, f"{bad!r} shown to the person: {text!r}"
    assert not HTML_TAG.search(text), text
    assert CANARY not in text
    if kind != Kind.UNKNOWN:
        assert tr("unknown", lang) not in text, f"no sentence of its own for {kind}: {text!r}"
    ours = text.replace(" ".join(said.split()), "") if said else text
    if lang == "zh":
        assert CJK.search(ours), f"no Chinese in the Chinese sentence: {text!r}"
    else:
        assert not CJK.search(ours), f"Chinese in the app's own English words: {text!r}"
    text.encode("utf-8")


def sentences(job: Job) -> tuple[str, str]:
    assert job.error_kind is not None
    values = dict(job.error_values)
    return tuple(  # type: ignore[return-value]
        explain(job.error_kind, lang, job.relay_text, retry_after=job.retry_after or "", **values)
        for lang in ("en", "zh")
    )


def check_text_fields(job: Job) -> None:
    """Every text the relay wrote, as stored, is valid UTF-8 (the log and the page can write it)."""
    texts = [job.relay_text, job.answer, job.video_url or "", job.task_id or "", *job.lines]
    for text in texts:
        text.encode("utf-8")


def check_played(played: Played, sim: SimRelay, endless: EndlessJSON | None = None) -> None:
    s, final, stored = played.scenario, played.final, played.stored
    # (a) the final state and kind; the job ended
    assert (final.state, final.error_kind) == (s.state, s.kind), (
        f"{s.name}: {final.state}/{final.error_kind}, relay_text={final.relay_text!r}"
    )
    assert not final.running
    if s.kind is None:
        assert (played.data_dir / final.file).read_bytes() == SAMPLE.read_bytes()
        assert final.relay_text == ""
    # (b) one readable sentence per language, with the relay's own words
    if s.kind is not None:
        en, zh = sentences(final)
        check_sentence(en, "en", s.kind, s.said)
        check_sentence(zh, "zh", s.kind, s.said)
        if s.said:
            said = " ".join(s.said.split())
            assert said in " ".join(final.relay_text.split()), final.relay_text
            assert said in en and said in zh, (en, zh)
        if s.quiet:
            assert final.relay_text == "", final.relay_text
            assert RELAY_SAID["en"] not in en and RELAY_SAID["zh"] not in zh
        if s.words:
            assert s.words[0] in en and s.words[1] in zh, (en, zh)
    check_text_fields(stored)
    if s.line:
        assert s.line in stored.lines, stored.lines
    if s.answer:
        assert stored.sid and stored.sid.startswith("s_") and stored.sid in stored.answer
        assert stored.answer == final.answer
    # (c) the task id and the last progress, in the store (which holds what was shown)
    if s.task_id == ANY:
        assert stored.task_id, "no task id kept"
    else:
        assert stored.task_id == s.task_id
    assert stored.percent == s.percent, (stored.percent, s.percent)
    if s.percents:
        shown = [p for p in dict.fromkeys(j.percent for j in played.snapshots) if p is not None]
        assert [p for p in shown if p in s.percents] == list(s.percents), shown
    assert (stored.state, stored.error_kind, stored.relay_text, stored.lines) == (
        final.state,
        final.error_kind,
        final.relay_text,
        final.lines,
    )
    if s.route != "chat" and stored.task_id:
        assert stored.route == s.route
    if s.queued:
        states = [j.state for j in played.snapshots]
        assert State.QUEUED in states, states
        assert State.GENERATING not in states[: states.index(State.QUEUED)], states
    # (d) one paid request, never re-sent; none when nothing listens
    ours = [r for r in sim.requests if r.path.startswith("/v1/")]
    if s.relay == "sim":
        posts = [r for r in sim.posts() if user_prompt(r) == s.prompt]  # one app may run many
        sent = posts if s.route == "chat" else sim.creates()
        assert len(sent) == s.sent, [r.path for r in sent]
        assert len(sim.made()) == s.accepted
        assert all(r.headers.get("authorization") == f"Bearer {CANARY}" for r in ours)
    elif s.relay == "endless":
        assert endless is not None and [r[:2] for r in endless.requests] == [
            ("POST", "/v1/chat/completions")
        ]
        assert endless.requests[0][2]["authorization"] == f"Bearer {CANARY}"
    else:
        assert not ours


def check_no_key_in_files(data_dir: Path) -> None:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "jobs.sqlite3" for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), f"the key is in {path}"


def check_no_key_in_logs(logs: pytest.LogCaptureFixture) -> None:
    assert any(r.name.startswith("httpcore") for r in logs.records), "DEBUG logs not captured"
    texts = [logs.text]
    for record in logs.records:
        texts += [record.getMessage(), str(record), repr(record.args), str(record.exc_info)]
    for text in texts:
        assert CANARY not in text


# -------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_fault(scenario: Scenario, sim: SimRelay, tmp_path: Path, debug_logs, request):
    endless = request.getfixturevalue("endless") if scenario.relay == "endless" else None
    played = await play(scenario, sim, tmp_path, endless)
    check_played(played, sim, endless)
    if scenario.restart:  # the second app polled on (check_played: the task was made once)
        assert played.polls_before_restart > 0
        assert len(sim.polls(played.stored.task_id or "")) > played.polls_before_restart
    if scenario.relay == "sim":
        assert "jobs.sqlite3-wal" in played.files
    check_no_key_in_logs(debug_logs)


async def test_the_whole_chat_matrix_at_once(sim: SimRelay, tmp_path: Path, debug_logs):
    """Every chat scenario at the same time in one app: each ends as it would alone (a flood
    fails its own job only), and the key is nowhere."""
    chosen = [s for s in CHAT if s.relay == "sim" and not s.memory_bound and s.stream]

    def dispatch(request: RecordedRequest, base_url: str) -> Script:
        return BY_PROMPT[user_prompt(request)].script(request, base_url)  # type: ignore[misc]

    sim.set_default(dispatch)
    # Everything at once is slower: more time before the deadline (the trickle lasts 5 s).
    settings = fault_settings(sim.base_url, tmp_path / "data", total=4.0)
    runtime = await Runtime(settings).start()
    try:
        jobs = [runtime.jobs.start(start_request(s), runtime.key_for(None)) for s in chosen]
        followed = await asyncio.gather(*(follow(runtime, j.id, 20.0) for j in jobs))
        for scenario, job, snapshots in zip(chosen, jobs, followed, strict=True):
            stored = runtime.store.get(job.id)
            assert stored is not None
            check_played(Played(scenario, [job, *snapshots], stored, settings.data_dir), sim)
        assert len(sim.posts()) == len(chosen)
        check_no_key_in_files(settings.data_dir)
    finally:
        await runtime.close()
    check_no_key_in_files(settings.data_dir)
    check_no_key_in_logs(debug_logs)


async def test_an_endless_model_list_is_capped(endless: EndlessJSON, tmp_path: Path, debug_logs):
    runtime = await Runtime(fault_settings(endless.url, tmp_path / "data")).start()
    try:
        assert runtime.operator_relay is not None
        http = runtime.operator_relay.backends.http
        with pytest.raises(BadReplyError) as err:
            await http.call_json("GET", "/v1/models", key=CANARY)
    finally:
        await runtime.close()
    assert err.value.kind == Kind.BAD_REPLY
    for lang in ("en", "zh"):
        check_sentence(explain(err.value.kind, lang, err.value.relay_text), lang, Kind.BAD_REPLY)
    # The reader stopped at the cap; the server may have pushed a little more into the socket.
    assert MAX_JSON_BODY < endless.sent < MAX_JSON_BODY + 16 * MB
    assert [r[:2] for r in endless.requests] == [("GET", "/v1/models")]
    check_no_key_in_logs(debug_logs)


async def test_an_endless_chat_answer_reads_no_more_than_its_cap(
    endless: EndlessJSON, sim: SimRelay, tmp_path: Path
):
    scenario = next(s for s in CHAT if s.relay == "endless")
    played = await play(scenario, sim, tmp_path, endless)
    assert played.final.error_kind == Kind.BAD_REPLY
    assert MAX_COMPLETION_BODY < endless.sent < MAX_COMPLETION_BODY + 16 * MB


# — event-loop lag while a hostile relay floods a job (the relay in its own process) —


def line_flood(base_url: str) -> Script:
    """Thousands of different lines and progress numbers, many to one network read."""
    events = b"".join(
        b"data: " + frame({"content": f"> 🏃 进度 {i % 97}% line {i}\n"}) + b"\n\n"
        for i in range(2000)
    )
    pieces = [Send(events[i : i + 200_000]) for i in range(0, len(events), 200_000)]
    return [*pieces, Content(f"\n{play_link(base_url)}\n"), Done()]


FLOODS: dict[str, tuple[Callable[[str], Script], Kind | None]] = {
    "lines": (line_flood, None),
    "data_lines": (lambda base: [*[Send(DATA_LINE)] * DATA_FLOOD], Kind.BROKEN_STREAM),
    "huge_line": (lambda base: [Send(b"data: "), *[Send(PIECE)] * 24], Kind.BROKEN_STREAM),
    "small_chunks": (
        lambda base: [Content("> 排队中"), *small_chunks(4000), *video_tail(base)],
        None,
    ),
}


def flood_script(request: RecordedRequest, base_url: str) -> Script:
    name = user_prompt(request).removeprefix("flood: ")
    if name in FLOODS:
        return FLOODS[name][0](base_url)
    return demo_script(request, base_url)


def serve_floods(ports: multiprocessing.Queue) -> None:
    """The hostile relay, in a process of its own: sharing this process's interpreter lock
    would measure the simulator, not the app."""
    relay = SimRelay(speed=SPEED)
    relay.set_default(flood_script)
    relay.run_forever(lambda r: ports.put(r.port))


@contextmanager
def relay_process() -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()
    process = context.Process(target=serve_floods, args=(ports,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=30)}"
    finally:
        process.terminate()
        process.join(5)


class LagMeter:
    """The longest a 10 ms sleep overslept while it ran: how long the event loop was busy."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._running = True
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LagMeter:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._running = False
        assert self._task is not None
        await self._task

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - before - 0.01)


async def test_event_loop_lag_stays_low_while_a_relay_floods_a_job(tmp_path: Path):
    with relay_process() as base_url:
        runtime = await Runtime(fault_settings(base_url, tmp_path / "data")).start()
        try:
            options = GenerationOptions(model="sora-2", format="chat")

            def flood(name: str):
                prompt = f"flood: {name}"
                messages = conversation.first_messages(prompt, options)
                request = StartRequest(VISITOR, prompt, options, messages=messages)
                return runtime.jobs.start(request, runtime.key_for(None))

            warm = flood("warm up")  # the first request builds the client (CA bundle, ~30 ms)
            await follow(runtime, warm.id, JOB_LIMIT)
            for name, (_script, kind) in FLOODS.items():
                bystander = flood("bystander")  # an ordinary job beside the flood
                async with LagMeter() as lag:
                    last = (await follow(runtime, flood(name).id, 30.0))[-1]
                assert last.error_kind == kind, (name, last.error_kind)
                assert lag.worst < 0.1, f"{name}: the event loop stalled {lag.worst * 1000:.0f} ms"
                ended = (await follow(runtime, bystander.id, JOB_LIMIT))[-1]
                assert ended.state == State.DONE, name
        finally:
            await runtime.close()
