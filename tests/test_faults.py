"""The fault matrix: every way a relay reply can go wrong, end to end through ``Jobs``.

Each scenario plays a script on a real SimRelay over loopback and runs one job exactly as the app
does (``Jobs.start``, then following it with ``wait_change``). For every scenario it checks:

(a) the final state and error kind;
(b) ``status_line`` in English and Chinese: one readable sentence each (no traceback, exception
    class names or HTML; Chinese characters in the Chinese one), carrying the relay's own words
    when it sent some;
(c) the task id and the last progress, on the live record and in SQLite;
(d) exactly one POST reached the relay (none when the connection is refused).

The key is a canary (``sk-CANARY-<uuid4 hex>``) and logging runs at DEBUG (httpx and httpcore
included): the key must never appear in the logs, the records, the sentences or the data folder.

Timeouts are scaled down (read 0.5 s, total 3 s) and the relay plays its scripts ``SPEED`` times
faster; ``wait(s)`` is a pause of ``s`` real seconds. The scripts are reconstructions from
shared/relay-protocol.md, not captures of the production relay.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import tracemalloc
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from suxi.client import RelayClient
from suxi.jobs import Jobs
from suxi.settings import Settings
from suxi.simrelay import (
    Content,
    Data,
    Done,
    Drop,
    Finish,
    RecordedRequest,
    Reply,
    Script,
    Send,
    SimRelay,
    Sleep,
    completion_chunk,
    demo_script,
    error_body,
    family_b_script,
    family_c_script,
    user_prompt,
)
from suxi.store import JobRecord, Store
from suxi.view import status_line

CANARY = f"sk-CANARY-{uuid.uuid4().hex}"
SPEED = 100.0
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).parent.parent / "assets" / "sample.mp4"
TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
ANY_TASK = "<any task_ id>"
MB = 1024 * 1024
HUGE_LINE = 10 * MB
MEMORY_BOUND = 64 * MB
JOB_LIMIT = 10.0  # seconds a single job may take in this file

# Things a sentence for a person must never contain.
FORBIDDEN = (
    "Traceback",
    "Error(",
    "Exception",
    "httpx",
    "httpcore",
    "RemoteProtocolError",
    "ReadTimeout",
    "ReadError",
    "ConnectError",
    "LineTooLong",
    "<",
    ">",
    "{",
    "}",
    "None",
    "\\u",
    "\ufffd",  # a multi-byte character decoded in two halves
)
CJK = re.compile(r"[\u3400-\u9fff]")

ScriptFactory = Callable[[RecordedRequest, str], Script]


def wait(seconds: float) -> Sleep:
    """A pause of ``seconds`` real seconds at the relay's speed."""
    return Sleep(seconds * SPEED)


def steps(build: Callable[[str], Script]) -> ScriptFactory:
    """A script that needs only the relay's base URL (for video links)."""
    return lambda request, base_url: build(base_url)


def fixed(*script: object) -> ScriptFactory:
    return lambda request, base_url: list(script)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ script pieces


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
        Content("."),
        Content("\n\n>🏃 进度 "),
        Content("36.."),
        Content("44.."),
    ]


def video_tail(base_url: str) -> Script:
    return [
        Content(
            "\n\n> 生成完成 ✅\n\n> sid: s_68eca3f1aa\n\n"
            f"![预览]({base_url}/files/thumb.webp)\n\n"
            f"[在线播放▶️]({base_url}/files/sample.mp4)\n\n"
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


@cache
def huge_line() -> bytes:
    """One SSE line of 10 MB that never ends (built once, before memory is traced)."""
    return b"data: " + b"x" * HUGE_LINE


PIECE = b"x" * (64 * 1024)


def chat_completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-0",
            "object": "chat.completion",
            "created": 0,
            "model": "sora-2",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        },
        ensure_ascii=False,
    ).encode()


def family_a_markdown(base_url: str) -> str:
    return (
        '```json\n{"prompt": "fault", "orientation": "landscape"}\n```\n\n'
        f"> ID: `{TASK}`\n>[数据预览](https://asyncdata.net/web/{TASK})\n\n"
        "> 排队中....\n\n> 生成中...\n\n>🏃 进度 36..44..81..\n\n> 生成完成 ✅\n\n"
        "> sid: s_68eca3f1aa\n\n"
        f"![预览]({base_url}/files/thumb.webp)\n\n[在线播放▶️]({base_url}/files/sample.mp4)\n"
    )


# ---------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    script: ScriptFactory | None  # None: nothing listens (connection refused)
    state: str
    kind: str | None = None
    said: str = ""  # the relay's own words: both sentences must carry them
    task_id: str | None = None  # ANY_TASK: some task_ id the script made up
    percent: float | None = None
    words: tuple[str, str] | None = None  # (en, zh) that the sentences must contain
    quiet: bool = False  # the relay said nothing of its own: no "The relay said"
    line: str = ""  # a line of the relay's that the page must show (record.lines)
    memory_bound: int | None = None  # bytes: the tracemalloc peak of the whole job must stay under
    posts: int = 1

    @property
    def prompt(self) -> str:
        return f"fault matrix: {self.name}"


@dataclass(frozen=True)
class HTTPError:
    status: int
    kind: str
    message: str
    code: str = ""
    headers: tuple[tuple[str, str], ...] = ()


REQUEST_ID = "(request id: 2025112520150012345678abcdef)"
HTTP_ERRORS = [
    HTTPError(401, "auth", f"无效的令牌 {REQUEST_ID}"),
    HTTPError(
        403, "quota", f"用户额度不足, 剩余额度: ＄0.000000 {REQUEST_ID}", "insufficient_user_quota"
    ),
    HTTPError(
        429,
        "rate_limit",
        f"您已达到请求数限制：1分钟内最多请求10次 {REQUEST_ID}",
        "rate_limit_exceeded",
        headers=(("Retry-After", "30"),),
    ),
    HTTPError(500, "server", f"upstream error: do request failed {REQUEST_ID}"),
    HTTPError(502, "server", f"bad response status code 502 {REQUEST_ID}", "bad_response"),
    HTTPError(
        503,
        "unavailable",
        f"当前分组 default 下对于模型 sora-2 无可用渠道 {REQUEST_ID}",
        "model_not_found",
    ),
    HTTPError(504, "proxy_timeout", f"upstream request timed out {REQUEST_ID}"),
]


def http_scenarios() -> list[Scenario]:
    out = []
    for err in HTTP_ERRORS:
        bodies = {
            "json": (error_body(err.message, "new_api_error", err.code), "application/json"),
            "text": (err.message.encode(), "text/plain; charset=utf-8"),
            "empty": (b"", ""),
        }
        for shape, (body, ctype) in bodies.items():
            out.append(
                Scenario(
                    f"http_{err.status}_{shape}",
                    fixed(Reply(err.status, body, ctype, err.headers)),
                    "failed",
                    # A bare 503 is a relay that is down, not a model without a channel.
                    err.kind if body or err.status != 503 else "relay_down",
                    said=err.message if body else "",
                    quiet=not body,
                )
            )
    return out


HTML_200 = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
    b"<body><p>Checking your browser before accessing relay.example.com &amp; more.</p>"
    b"</body></html>"
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
HALF_CHARACTER = 'data: {"choices": [{"delta": {"content": "进'.encode()[:-1]


def split_inside(data: bytes, char: str) -> tuple[bytes, bytes]:
    """``data`` cut after the first byte of ``char`` (a multi-byte UTF-8 character)."""
    cut = data.index(char.encode()) + 1
    return data[:cut], data[cut:]


SPLIT_A, SPLIT_B = split_inside(b"data: " + frame({"content": "> 生成中\n\n"}) + b"\r\n\r\n", "中")


SCENARIOS: list[Scenario] = [
    # — success, one per family —
    Scenario("success_family_a", demo_script, "done", task_id=ANY_TASK, percent=100),
    Scenario("success_family_b", family_b_script(seconds=20), "done", percent=100),
    Scenario("success_family_c", family_c_script(seconds=20), "done", percent=100),
    Scenario(
        "success_transport_quirks",  # CRLF, "data:" without space, id/event lines, split UTF-8,
        # and the [DONE] glued to a literal "\n\n"
        steps(
            lambda base: [
                Send(
                    b"event: message\r\nid: 1\r\ndata:" + frame({"role": "assistant"}) + b"\r\n\r\n"
                ),
                Send(SPLIT_A),
                wait(0.05),
                Send(SPLIT_B),
                Send(b": keep-alive\r\n\r\n"),
                Send(
                    b"data:"
                    + frame({"content": f"[在线播放▶️]({base}/files/sample.mp4)\n\n"})
                    + b"\r\n\r\n"
                ),
                Send(b"data: [DONE]\\n\\n\r\n\r\n"),
            ]
        ),
        "done",
        percent=100,
        line="生成中",  # the character split across two reads arrives whole
    ),
    Scenario(
        "heartbeats_longer_than_read_timeout",
        steps(
            lambda base: [
                Content("> 排队中\n\n"),
                *[s for _ in range(8) for s in (wait(0.2), Send(b": PING\n\n"))],
                *video_tail(base),
            ]
        ),
        "done",
        percent=100,
    ),
    Scenario(
        "malformed_json_line_then_video",
        steps(
            lambda base: [
                *family_a_head(),
                Data('{"choices": [{"delta": {"content": "oops'),
                Data("{not json at all"),
                *video_tail(base),
            ]
        ),
        "done",
        task_id=TASK,
        percent=100,
    ),
    Scenario(
        "json_200_to_a_stream_request_with_video",
        steps(lambda base: [Reply(200, chat_completion(family_a_markdown(base)))]),
        "done",
        task_id=TASK,
        percent=100,
    ),
    # — the transport breaks —
    Scenario(
        "stall_after_task_id_and_progress",
        fixed(*family_a_head(), wait(2.0)),
        "failed",
        "stall",
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "dots_trickle_past_the_deadline",
        fixed(
            *family_a_head(),
            Content("\n\n> 生成中"),
            *[s for _ in range(25) for s in (wait(0.2), Content("."))],
        ),
        "failed",
        "deadline",
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "drop_mid_stream",
        fixed(*family_a_head(), Content("\n\n"), Drop()),
        "failed",
        "dropped",
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "drop_inside_a_multibyte_character",
        fixed(*family_a_head(), Content("\n\n"), Send(HALF_CHARACTER), Drop()),
        "failed",
        "dropped",
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "clean_close_without_done",
        fixed(*family_a_head(), Content("\n\n")),
        "failed",
        "dropped",
        task_id=TASK,
        percent=44,
        quiet=True,
    ),
    Scenario(
        "one_10_mb_line",
        fixed(*family_a_head(), Content("\n\n"), Send(huge_line())),
        "failed",
        "broken_stream",
        task_id=TASK,
        percent=44,
        quiet=True,
        # The relay runs in this process and copies the 10 MB write, so this bounds both.
        memory_bound=MEMORY_BOUND,
    ),
    Scenario(
        "one_10_mb_line_in_64_kb_writes",  # the same line, but the relay holds 64 kB only
        fixed(*family_a_head(), Content("\n\n"), Send(b"data: "), *[Send(PIECE)] * 160),
        "failed",
        "broken_stream",
        task_id=TASK,
        percent=44,
        quiet=True,
        memory_bound=16 * MB,  # the app's own share (about 8 MB measured)
    ),
    # — the relay reports a failure in the stream —
    Scenario(
        "error_chunk_in_stream",
        fixed(
            c_chunk(reasoning="**Generation Process Begins**\n\n"),
            c_chunk(reasoning="**Video Generation Progress**: 47% (running)\n\n"),
            Data(json.dumps({"error": {"message": UPSTREAM_TIMEOUT, "type": "upstream_error"}})),
            Done(),
        ),
        "failed",
        "relay",
        said=UPSTREAM_TIMEOUT,
        percent=47,
    ),
    Scenario(
        "error_chunk_then_close_without_done",
        fixed(
            Content("> 生成中\n\n"),
            Data(json.dumps({"error": {"message": UPSTREAM_TIMEOUT, "type": "", "code": ""}})),
        ),
        "failed",
        "relay",
        said=UPSTREAM_TIMEOUT,
    ),
    Scenario(
        "done_without_a_video_url",
        fixed(*family_a_head(), Content("\n\n"), Finish("stop"), Done()),
        "failed",
        "no_video",
        quiet=True,  # its last line was progress, not a reason
        task_id=TASK,
        percent=44,
    ),
    Scenario(
        "cross_mark_line_family_b",
        fixed(
            b_chunk(""),
            b_chunk("> ⌛️ 任务正在队列中，请耐心等待...\n\n"),
            b_chunk("> 🏃 进度：36.0%\n\n"),
            b_chunk("> ❌ 生成失败：视频生成超时，请稍后重试\n\n"),
            b_chunk("", "stop"),
            Done(),
        ),
        "failed",
        "relay",
        said="❌ 生成失败：视频生成超时，请稍后重试",
        percent=36,
    ),
    Scenario(
        "content_policy_family_c",
        fixed(
            c_chunk(reasoning="**Generation Process Begins**\n\n"),
            c_chunk(reasoning=f"**Content Policy Violation**\n\n{POLICY_REASON}\n"),
            c_chunk(content=f"❌ 生成失败: {POLICY_REASON}", finish="STOP"),
            Done(),
        ),
        "failed",
        "content_policy",
        said=POLICY_REASON,
    ),
    Scenario(
        "under_heavy_load",
        fixed(b_chunk(""), b_chunk(f"> {HEAVY_LOAD}\n\n"), b_chunk("", "stop"), Done()),
        "failed",
        "overloaded",
        said=HEAVY_LOAD,
    ),
    # — the relay refuses before streaming —
    *http_scenarios(),
    Scenario(
        "http_429_without_retry_after",
        fixed(Reply(429, error_body("您已达到请求数限制", code="rate_limit_exceeded"))),
        "failed",
        "rate_limit",
        said="您已达到请求数限制",
        words=("a minute", "一分钟"),
    ),
    Scenario(
        "cloudflare_524_html",
        fixed(Reply(524, (FIXTURES / "error_524.html").read_bytes(), "text/html; charset=UTF-8")),
        "failed",
        "proxy_timeout",
        said="relay.example.com | 524: A timeout occurred",
    ),
    Scenario(
        "html_page_with_status_200",
        fixed(Reply(200, HTML_200, "text/html; charset=UTF-8")),
        "failed",
        "bad_reply",
        said="Just a moment...",
    ),
    Scenario(
        "json_200_without_video",
        fixed(Reply(200, chat_completion(AVAILABLE))),
        "failed",
        "no_video",
        said=AVAILABLE,
    ),
    Scenario(
        "json_200_error_object",
        fixed(Reply(200, error_body(UPSTREAM_TIMEOUT, "upstream_error"))),
        "failed",
        "relay",
        said=UPSTREAM_TIMEOUT,
    ),
    Scenario("connection_refused", None, "failed", "connect", quiet=True, posts=0),
]
BY_PROMPT = {s.prompt: s for s in SCENARIOS}
assert len(BY_PROMPT) == len(SCENARIOS), "scenario names must be unique"


# ------------------------------------------------------------------------------------ harness


@pytest.fixture
def sim():
    with SimRelay(speed=SPEED).start() as relay:
        yield relay


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


def fault_settings(base_url: str, data_dir: Path) -> Settings:
    return Settings(
        api_key=CANARY,
        base_url=base_url,
        data_dir=data_dir,
        connect_timeout=1.0,
        read_timeout=0.5,
        total_timeout=3.0,
        download_timeout=5.0,
        max_jobs=128,
        max_queue=128,
    )


@asynccontextmanager
async def running_jobs(settings: Settings, store: Store):
    client = RelayClient(settings)
    jobs = Jobs(settings, store, client)
    try:
        yield jobs
    finally:
        await jobs.shutdown()
        await client.aclose()


def start(jobs: Jobs, scenario: Scenario) -> JobRecord:
    return jobs.start(
        owner="fault-matrix", prompt=scenario.prompt, max_tokens=1000, stream=True, api_key=CANARY
    )


async def follow(jobs: Jobs, job_id: str) -> tuple[JobRecord, list[str]]:
    """Follow a job as the page does; return its last record and every sentence shown."""
    shown: list[str] = []
    deadline = time.monotonic() + JOB_LIMIT
    while True:
        record = jobs.get(job_id)
        assert record is not None
        now = time.time()
        line_en, line_zh = status_line(record, now, "en"), status_line(record, now, "zh")
        shown += [line_en, line_zh]
        if record.running:
            check_sentence(line_en, "en")
            check_sentence(line_zh, "zh")
        else:
            return record, shown
        assert time.monotonic() < deadline, f"job still {record.state} after {JOB_LIMIT} s"
        await jobs.wait_change(job_id, 0.2)


def check_sentence(text: str, lang: str, said: str = "") -> None:
    assert text, "empty sentence"
    assert text == text.strip() and "\n" not in text, repr(text)
    assert len(text) <= 800, text
    for bad in FORBIDDEN:
        assert bad not in text, f"{bad!r} shown to the user: {text!r}"
    assert CANARY not in text
    said = " ".join(said.split())
    ours = text.replace(said, "") if said else text
    if lang == "zh":
        assert CJK.search(ours), f"no Chinese in the Chinese sentence: {text!r}"
    else:
        assert not CJK.search(ours), f"Chinese in our own English words: {text!r}"


def check_outcome(
    scenario: Scenario, final: JobRecord, stored: JobRecord | None, posts: list
) -> tuple[str, str]:
    """(a)–(d) for one finished job; returns the two final sentences."""
    # (a) final state and kind
    assert (final.state, final.error_kind) == (scenario.state, scenario.kind), (
        f"{scenario.name}: {final.state}/{final.error_kind}, relay_text={final.relay_text!r}"
    )
    if scenario.state == "done":
        assert Path(final.file).read_bytes() == SAMPLE.read_bytes()
    # (b) one readable sentence per language, with the relay's words
    now = time.time()
    en, zh = status_line(final, now, "en"), status_line(final, now, "zh")
    check_sentence(en, "en", scenario.said)
    check_sentence(zh, "zh", scenario.said)
    if scenario.said:
        said = " ".join(scenario.said.split())
        assert said in " ".join(final.relay_text.split()), final.relay_text
        assert said in en, en
        assert said in zh, zh
    if scenario.quiet:
        assert final.relay_text == "", final.relay_text
        assert "relay said" not in en and "中转站原文" not in zh
    if scenario.words:
        assert scenario.words[0] in en, en
        assert scenario.words[1] in zh, zh
    assert not any("\ufffd" in line for line in [*final.lines, final.relay_text])
    if scenario.line:
        assert scenario.line in final.lines, final.lines
    # (c) the task id and the last progress survive, live and in SQLite
    assert stored is not None
    for record in (final, stored):
        if scenario.task_id == ANY_TASK:
            assert record.task_id and record.task_id.startswith("task_")
        else:
            assert record.task_id == scenario.task_id
        assert record.percent == scenario.percent
    assert (stored.state, stored.error_kind, stored.relay_text, stored.lines) == (
        final.state,
        final.error_kind,
        final.relay_text,
        final.lines,
    )
    # (d) one paid request, never re-sent; none when nothing listens
    assert len(posts) == scenario.posts
    for post in posts:
        assert user_prompt(post) == scenario.prompt
        assert post.headers["authorization"] == f"Bearer {CANARY}"  # the canary was really used
    return en, zh


def check_no_canary(
    logs: pytest.LogCaptureFixture, records: list[JobRecord], sentences: list[str], data: Path
) -> set[str]:
    """The canary key is nowhere; returns the names of the files in the data folder."""
    assert any(r.name.startswith("httpcore") for r in logs.records), "DEBUG logs not captured"
    texts = [logs.text, *(r.getMessage() for r in logs.records)]
    texts += [str(r) for r in logs.records]
    texts += [repr(r.args) for r in logs.records]
    texts += [str(r) for r in records]
    texts += sentences
    for text in texts:
        assert CANARY not in text
    files = [p for p in data.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "jobs.sqlite3" in names
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), f"the key is in {path}"
    return names


# -------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_fault(scenario: Scenario, sim: SimRelay, tmp_path: Path, debug_logs) -> None:
    if scenario.script is None:
        base_url = closed_port_url()
    else:
        base_url = sim.base_url
        sim.push(scenario.script)
    settings = fault_settings(base_url, tmp_path / "data")
    store = Store(settings.data_dir / "jobs.sqlite3")
    if scenario.memory_bound:
        huge_line()  # built before tracing starts
        tracemalloc.start()
    try:
        async with running_jobs(settings, store) as jobs:
            record = start(jobs, scenario)
            final, shown = await follow(jobs, record.id)
            if scenario.memory_bound:
                _, peak = tracemalloc.get_traced_memory()
                assert peak < scenario.memory_bound, f"peak {peak / MB:.1f} MB"
            stored = jobs.store.get(record.id)
            shown += list(check_outcome(scenario, final, stored, sim.posts()))
            # The WAL file exists while the store is open: look at every file now.
            names = check_no_canary(debug_logs, [final, stored], shown, settings.data_dir)
            assert "jobs.sqlite3-wal" in names
    finally:
        if scenario.memory_bound:
            tracemalloc.stop()
        store.close()
    check_no_canary(debug_logs, [final, stored], shown, settings.data_dir)


async def test_whole_matrix_at_once_never_leaks_the_key(
    sim: SimRelay, tmp_path: Path, debug_logs
) -> None:
    """Every scenario at the same time in one data folder, logging at DEBUG: each still ends as
    it should, and the canary key appears nowhere (logs, records, sentences, files)."""

    def dispatch(request: RecordedRequest, base_url: str) -> Script:
        return BY_PROMPT[user_prompt(request)].script(request, base_url)  # type: ignore[misc]

    sim.set_default(dispatch)
    data = tmp_path / "data"
    store = Store(data / "jobs.sqlite3")
    try:
        async with (
            running_jobs(fault_settings(sim.base_url, data), store) as jobs,
            running_jobs(fault_settings(closed_port_url(), data), store) as refused,
        ):
            started = []
            for scenario in SCENARIOS:
                runner = refused if scenario.script is None else jobs
                started.append((scenario, runner, start(runner, scenario)))
            results = await asyncio.gather(*(follow(j, r.id) for _, j, r in started))
            records: list[JobRecord] = []
            shown: list[str] = []
            for (scenario, runner, record), (final, lines) in zip(started, results, strict=True):
                stored = runner.store.get(record.id)
                posts = [p for p in sim.posts() if user_prompt(p) == scenario.prompt]
                shown += [*lines, *check_outcome(scenario, final, stored, posts)]
                records += [final, stored]
            assert len(sim.posts()) == sum(s.posts for s in SCENARIOS)
            assert len(store.list()) == len(SCENARIOS)
            names = check_no_canary(debug_logs, records, shown, data)
            assert "jobs.sqlite3-wal" in names
    finally:
        store.close()
    check_no_canary(debug_logs, records, shown, data)


# ------------------------------------------------------------------- regressions
#
# Each test below once failed: Retry-After lost, silence before the headers read as a drop,
# JSON answers not kept for modifying, and streaming advice given to a streaming job.


async def run_script(
    sim: SimRelay, data: Path, script: ScriptFactory, *, stream: bool = True, name: str = "bug"
) -> tuple[JobRecord, JobRecord, str, str]:
    """One job against ``script``: the final and stored records and the two sentences."""
    sim.push(script)
    settings = fault_settings(sim.base_url, data)
    store = Store(settings.data_dir / "jobs.sqlite3")
    try:
        async with running_jobs(settings, store) as jobs:
            record = jobs.start(
                owner="fault-matrix",
                prompt=f"fault matrix: {name}",
                max_tokens=1000,
                stream=stream,
                api_key=CANARY,
            )
            final, _ = await follow(jobs, record.id)
            stored = store.get(record.id)
    finally:
        store.close()
    assert stored is not None
    now = time.time()
    return final, stored, status_line(final, now, "en"), status_line(final, now, "zh")


async def test_429_retry_after_is_shown_in_seconds(sim: SimRelay, tmp_path: Path) -> None:
    for shape in ("json", "text", "empty"):
        scenario = BY_PROMPT[f"fault matrix: http_429_{shape}"]
        assert ("Retry-After", "30") in scenario.script(None, "")[0].headers  # type: ignore[arg-type, index, union-attr]
        final, stored, en, zh = await run_script(sim, tmp_path / shape, scenario.script)  # type: ignore[arg-type]
        assert final.error_kind == stored.error_kind == "rate_limit"
        assert "30 seconds" in en, en
        assert "30 秒" in zh, zh


async def test_silence_before_the_response_head_is_a_stall(sim: SimRelay, tmp_path: Path) -> None:
    script = steps(lambda base: [wait(2.0), *video_tail(base)])
    final, stored, en, _zh = await run_script(sim, tmp_path / "data", script)
    assert len(sim.posts()) == 1
    assert (final.state, final.error_kind) == ("failed", "stall"), en
    assert stored.error_kind == "stall"


async def test_a_json_answer_is_kept_for_modifying_the_video(sim: SimRelay, tmp_path: Path) -> None:
    answer = family_a_markdown(sim.base_url)
    for stream in (True, False):
        if stream:  # a relay that answers JSON although a stream was asked for
            script = fixed(Reply(200, chat_completion(answer)))
        else:  # the relay's non-streaming reply: one chat.completion after a while
            script = fixed(wait(0.2), Content(answer))
        final, stored, _en, _zh = await run_script(
            sim, tmp_path / f"stream-{stream}", script, stream=stream
        )
        assert final.state == "done"
        assert final.sid == "s_68eca3f1aa"
        assert final.answer == stored.answer == answer


async def test_proxy_timeout_while_streaming_does_not_say_turn_streaming_on(
    sim: SimRelay, tmp_path: Path
) -> None:
    page = (FIXTURES / "error_524.html").read_bytes()
    script = fixed(Reply(524, page, "text/html; charset=UTF-8"))
    final, _stored, en, zh = await run_script(sim, tmp_path / "data", script)
    assert final.params["stream"] is True
    assert final.error_kind == "proxy_timeout"
    assert "turn streaming on" not in en, en
    assert "请打开流式" not in zh, zh
