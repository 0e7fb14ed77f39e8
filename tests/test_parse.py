"""The relay parser, driven by the reconstructed transcripts in tests/fixtures/.

Every fixture goes through the real decoder (``SSEDecoder``) and then ``RelayStreamParser``;
the exact event list is asserted, and must not change with the size of the network reads.
"""

from __future__ import annotations

import importlib.util
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from suxi.events import (
    Event,
    Failed,
    Generating,
    Line,
    Progress,
    Queued,
    TaskInfo,
    Understood,
    VideoReady,
)
from suxi.kinds import Kind
from suxi.parse import RelayStreamParser, error_text, kind_of_error, parse_completion
from suxi.sse import SSEDecoder
from suxi.textsafe import loads_json

FIXTURES = Path(__file__).parent / "fixtures"

# ── What the fixtures contain ─────────────────────────────────────────────────────────────────

TASK_A = "task_01k7e5w9z5f2d91pekrqy59rwc"
SID_A = "s_68eca3f1d4c88191b0f2a7c9e3d54b21"
LINKS_A = (f"https://asyncdata.net/web/{TASK_A}", f"https://asyncdata.net/source/{TASK_A}")
THUMB_A = "https://cdn.example.com/sora/2025/10/14/5d0c7e.webp"
VIDEO_A = "https://cdn.example.com/sora/2025/10/14/5d0c7e.mp4"
PROMPT_A = "一只橘猫在雨夜的霓虹街头慢慢走过，电影感"

TASK_V = "task_01k7f3q8m2x9c4v6b1n5z7h0ra"
SID_V = "s_68ecb20a9f3c8191a4e6d2b7c1f05e93"
LINKS_V = (f"https://asyncdata.net/web/{TASK_V}", f"https://asyncdata.net/source/{TASK_V}")
THUMB_V = "https://media.example.net/sora/v2/thumb.jpg?se=2025-10-14T09%3A30%3A00Z&sig=dGh1bWI%3D"
VIDEO_V = (
    "https://media.example.net/sora/v2/raw?se=2025-10-14T09%3A30%3A00Z&sp=r&sv=2024-08-04"
    "&sr=b&sig=Zm9vYmFyYmF6%2Bc2lnbmVk%3D"
)

VIDEO_B = "https://static.example.com/sora/3b69194c.mp4"
VIDEO_C = "https://host.example.com/tmp/8e1f0c2a.mp4"
POLICY_REASON = (
    "This content may violate our guardrails concerning similarity to third-party content."
)

FAMILY_A_EVENTS: list[Event] = [
    Understood(prompt=PROMPT_A, orientation="portrait"),
    TaskInfo(TASK_A),
    Line(f"ID: {TASK_A}"),
    TaskInfo(TASK_A, None, LINKS_A),
    Line("数据预览 | 原始数据"),
    Queued("排队中"),
    Line("排队中"),
    Generating("生成中"),
    Line("生成中"),
    Progress(36.0, "🏃 进度 36"),
    Progress(44.0, "🏃 进度 36..44"),
    Progress(61.0, "🏃 进度 36..44..61"),
    Progress(81.0, "🏃 进度 36..44..61..81"),
    Line("🏃 进度 36..44..61..81"),
    Line("生成完成 ✅"),
    TaskInfo(TASK_A, SID_A, LINKS_A),
    Line(f"sid: {SID_A}"),
    VideoReady(VIDEO_A, THUMB_A),
    Line("在线播放▶️"),
]

B_START: list[Event] = [
    Understood(prompt="武汉文旅视频", orientation="横屏模式"),
    Queued("⌛️ 任务正在队列中，请耐心等待"),
    Line("⌛️ 任务正在队列中，请耐心等待"),
    Generating(""),
]
B_SUCCESS_LINE = f"✅ 视频生成成功，[点击这里]({VIDEO_B}) 查看视频~~~"
C_START: list[Event] = [
    Queued("Generation Process Begins"),
    Line("Generation Process Begins"),
    Line("Initializing generation request"),
]

EXPECTED: dict[str, list[Event]] = {
    "family_a_success.sse": FAMILY_A_EVENTS,
    "family_a_variant.sse": [
        Understood(
            prompt="City lights & neon > rain, slow dolly-in <night>",
            orientation="landscape",
            duration=15,
        ),
        TaskInfo(TASK_V),
        Line(f"ID: {TASK_V}"),
        TaskInfo(TASK_V, None, LINKS_V),
        Line("数据预览 | 原始数据"),
        Queued("⏳ 排队中"),
        Line("⏳ 排队中"),
        Generating("🎬 生成中"),
        Line("🎬 生成中"),
        Progress(12.0, "🏃 进度 12"),
        Progress(58.0, "🏃 进度 12..58"),
        Progress(100.0, "🏃 进度 12..58..100"),
        Line("🏃 进度 12..58..100"),
        Line("✅ 生成完成"),
        TaskInfo(TASK_V, SID_V, LINKS_V),
        Line(f"sid: {SID_V}"),
        VideoReady(VIDEO_V, THUMB_V),
        Line("Play online ▶️"),
    ],
    "family_b_success.sse": [
        *B_START,
        Progress(36.0, "🏃 进度：36.0%"),
        Line("🏃 进度：36.0%"),
        VideoReady(VIDEO_B),
        Line("✅ 视频生成成功，点击这里 查看视频~~~"),
    ],
    "family_b_failure.sse": [
        *B_START,
        Progress(12.0, "🏃 进度：12.0%"),
        Line("🏃 进度：12.0%"),
        Line("❌ 视频生成失败：上游任务超时，请稍后重试"),
        Failed("❌ 视频生成失败：上游任务超时，请稍后重试", Kind.RELAY),
    ],
    "family_b_overloaded.sse": [
        Understood(prompt="武汉文旅视频", orientation="横屏模式"),
        Line("错误：The service is currently under heavy load. Please try again later."),
        Failed(
            "错误：The service is currently under heavy load. Please try again later.",
            Kind.OVERLOADED,
        ),
    ],
    "family_c_success.sse": [
        *C_START,
        Progress(0.0, "Video Generation Progress: 0%"),
        Line("Video Generation Progress: 0% (queued)"),
        Generating(""),
        Progress(23.0, "Video Generation Progress: 23%"),
        Line("Video Generation Progress: 23% (running)"),
        Progress(47.0, "Video Generation Progress: 47%"),
        Line("Video Generation Progress: 47% (running)"),
        Line("Video Generation Progress: 47% (processing)"),  # same number: no new Progress
        Progress(88.0, "Video Generation Progress: 88%"),
        Line("Video Generation Progress: 88% (processing)"),
        Line("Video Generation Completed"),
        VideoReady(VIDEO_C),
        Line(f"<video src='{VIDEO_C}' controls></video>"),
    ],
    "family_c_policy.sse": [
        *C_START,
        Line("Content Policy Violation"),
        Line(POLICY_REASON),
        Line(f"❌ 生成失败: {POLICY_REASON}"),
        Failed(f"Content Policy Violation: {POLICY_REASON}", Kind.CONTENT_POLICY),
    ],
    "family_c_error_chunk.sse": [
        *C_START,
        Generating(""),
        Progress(15.0, "Video Generation Progress: 15%"),
        Line("Video Generation Progress: 15% (running)"),
        Failed("Upstream API timeout: Generation exceeded 3000 seconds limit", Kind.RELAY),
    ],
    "done_without_url.sse": [
        Understood(prompt=PROMPT_A, orientation="portrait"),
        Queued("排队中"),
        Line("排队中"),
        Generating("生成中"),
        Line("生成中."),  # one heartbeat dot: a single "." is kept (it may end a sentence)
        Progress(36.0, "🏃 进度 36"),
        Progress(44.0, "🏃 进度 36..44"),
        Progress(61.0, "🏃 进度 36..44..61"),
        Line("🏃 进度 36..44..61"),
        Failed("", Kind.NO_VIDEO),  # progress is not a reason
    ],
    "no_done_eof.sse": [
        *B_START,
        Progress(5.0, "🏃 进度：5.0%"),
        Line("🏃 进度：5.0%"),
        Progress(27.0, "🏃 进度：27.0%"),
        Line("🏃 进度：27.0%"),
        Failed("", Kind.NO_VIDEO),  # progress is not a reason
    ],
    "done_glued.sse": [
        *B_START,
        Progress(88.5, "🏃 进度：88.5%"),
        Line("🏃 进度：88.5%"),
        VideoReady(VIDEO_B),
        Line("✅ 视频生成成功，点击这里 查看视频~~~"),
    ],
    "think_tags.sse": [
        *C_START,
        Generating(""),
        Progress(35.0, "Video Generation Progress: 35%"),
        Line("Video Generation Progress: 35% (running)"),
        Progress(90.0, "Video Generation Progress: 90%"),
        Line("Video Generation Progress: 90% (running)"),
        Line("Video Generation Completed"),
        VideoReady(VIDEO_C),
        Line(f"<video src='{VIDEO_C}' controls></video>"),
    ],
    "malformed_line.sse": [
        *B_START,
        Progress(36.0, "🏃 进度：36.0%"),
        Line("🏃 进度：36.0%"),
        VideoReady(VIDEO_B),
        Line("✅ 视频生成成功，点击这里"),
    ],
}
SAW_DONE = {name: name != "no_done_eof.sse" for name in EXPECTED}  # [DONE] is no success


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def payloads(data: bytes, size: int | None = None) -> list[str]:
    decoder = SSEDecoder()
    out: list[str] = []
    step = size or len(data) or 1
    for start in range(0, len(data), step):
        out += decoder.feed(data[start : start + step])
    return out + decoder.close()


def run(data: bytes, size: int | None = None) -> tuple[list[Event], RelayStreamParser]:
    parser = RelayStreamParser()
    events: list[Event] = []
    for payload in payloads(data, size):
        events += parser.feed(payload)
    return events + parser.finish(), parser


def feed_pieces(parser: RelayStreamParser, *pieces: str) -> list[Event]:
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(json.dumps({"choices": [{"delta": {"content": piece}}]}))
    return events


def text_events(text: str) -> list[Event]:
    """A whole answer, as a non-streaming reply carries it."""
    parser = RelayStreamParser()
    return parser.feed_text(text) + parser.finish()


# ── The fixtures themselves ───────────────────────────────────────────────────────────────────


def _generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_files_match_their_generator() -> None:
    rendered = _generator().render()
    on_disk = {p.name for p in FIXTURES.iterdir() if p.suffix in (".sse", ".json", ".html")}
    assert on_disk == set(rendered)
    for name, data in rendered.items():
        assert read(name) == data, f"{name} is stale: run tests/fixtures/make_fixtures.py"


RELAY_TRANSCRIPTS = sorted(
    p.name for p in FIXTURES.iterdir() if p.suffix in (".sse", ".json", ".html")
)


@pytest.mark.parametrize("name", RELAY_TRANSCRIPTS)
def test_every_relay_transcript_says_it_is_a_reconstruction(name: str) -> None:
    head = read(name)[:300].decode()
    assert "reconstruction from the public protocol notes" in head
    assert "not a capture of the production relay" in head
    if name.endswith(".sse"):
        assert head.startswith(": ")  # an SSE comment: the decoder ignores it
    if name.endswith(".json"):
        assert head.startswith('{\n  "_comment": ')


def test_family_a_is_streamed_in_tiny_pieces() -> None:
    pieces = []
    for payload in payloads(read("family_a_success.sse")):
        if payload.startswith("{"):
            pieces += [c["delta"].get("content") for c in json.loads(payload)["choices"]]
    content = [p for p in pieces if p]
    assert len(content) > 100
    assert max(len(p) for p in content) <= 8
    assert content.count(".") >= 10  # queue heartbeats arrive as single dots
    assert pieces[-1] is None  # the finish_reason chunk carries no text


def test_variant_uses_every_transport_quirk() -> None:
    data = read("family_a_variant.sse")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert b"data:{" in data and b"data: " not in data
    for needle in (b": PING", b"id: ", b"event: message", b"\\u003e", b"\\u0026", b"raw?se="):
        assert needle in data


# ── Every stream fixture, exact events, any read size ─────────────────────────────────────────


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stream_fixture_events(name: str) -> None:
    events, parser = run(read(name))
    assert events == EXPECTED[name]
    assert parser.saw_done is SAW_DONE[name]
    terminal = [e for e in events if isinstance(e, VideoReady | Failed)]
    assert len(terminal) == 1


@pytest.mark.parametrize("size", [1, 7])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stream_fixture_in_small_reads(name: str, size: int) -> None:
    assert payloads(read(name), size) == payloads(read(name))
    events, parser = run(read(name), size)
    assert events == EXPECTED[name]
    assert parser.saw_done is SAW_DONE[name]


def test_every_stream_fixture_has_expectations() -> None:
    assert set(EXPECTED) == {p.name for p in FIXTURES.glob("*.sse")}


def test_family_a_outcome() -> None:
    _, parser = run(read("family_a_success.sse"))
    o = parser.outcome
    assert (o.task_id, o.sid, o.links) == (TASK_A, SID_A, list(LINKS_A))
    assert (o.video_url, o.thumbnail, o.percent, o.failure) == (VIDEO_A, THUMB_A, 81.0, None)
    markdown = json.loads(read("nonstream_success.json"))["choices"][0]["message"]["content"]
    assert o.answer == markdown  # verbatim: a later modification resends it


def test_family_a_understood_keeps_the_raw_echo() -> None:
    events, _ = run(read("family_a_variant.sse"))
    understood = events[0]
    assert isinstance(understood, Understood)
    assert understood.raw == {
        "prompt": "City lights & neon > rain, slow dolly-in <night>",
        "orientation": "landscape",
        "duration": 15,
    }


def test_failure_outcomes() -> None:
    _, parser = run(read("family_c_policy.sse"))
    assert parser.outcome.failure == Failed(
        f"Content Policy Violation: {POLICY_REASON}", Kind.CONTENT_POLICY
    )
    assert parser.outcome.video_url is None
    _, parser = run(read("no_done_eof.sse"))
    assert parser.outcome.percent == 27.0
    assert parser.outcome.failure is not None and parser.outcome.failure.kind is Kind.NO_VIDEO


def test_html_page_in_place_of_a_stream() -> None:
    data = read("error_524.html")
    assert payloads(data) == []  # its links never reach the parser
    events, parser = run(data)
    assert events == [Failed("", Kind.NO_VIDEO)]
    assert parser.saw_done is False


# ── Streaming behaviour, piece by piece ───────────────────────────────────────────────────────


def test_queue_state_is_reported_at_the_first_heartbeat() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, "> 排", "队中") == []
    assert feed_pieces(parser, ".") == [Queued("排队中")]
    assert feed_pieces(parser, ".", ".", ".") == []
    assert feed_pieces(parser, "\n\n") == [Line("排队中")]
    assert feed_pieces(parser, "> 生成中", ".") == [Generating("生成中")]
    assert feed_pieces(parser, ".", "\n\n") == [Line("生成中")]


def test_progress_only_when_the_number_is_complete() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, ">🏃 进度 ", "3", "6", ".") == []
    assert feed_pieces(parser, ".") == [Generating(""), Progress(36.0, "🏃 进度 36")]
    assert feed_pieces(parser, "4", "4") == []
    assert feed_pieces(parser, "..") == [Progress(44.0, "🏃 进度 36..44")]
    assert feed_pieces(parser, ".", ".") == []  # heartbeat dots after a number
    assert feed_pieces(parser, "\n\n") == [Line("🏃 进度 36..44")]


def test_progress_with_decimals_split_across_chunks() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, "> 🏃 进度：3", "6.", "5") == []
    assert feed_pieces(parser, "%") == [Generating(""), Progress(36.5, "🏃 进度：36.5%")]
    assert feed_pieces(parser, "\n\n> 🏃 进度：36.5%\n\n") == [Line("🏃 进度：36.5%")] * 2


def test_progress_is_capped_at_100() -> None:
    events = text_events("进度 250%\n")
    assert events[:2] == [Generating(""), Progress(100.0, "进度 250%")]


def test_progress_text_does_not_depend_on_chunking() -> None:
    line = "**Video Generation Progress**: 47% (running)\n"
    whole = RelayStreamParser()
    pieces = RelayStreamParser()
    assert whole.feed_text(line) == feed_pieces(pieces, *line)


def test_prompt_echo_is_not_read_as_progress() -> None:
    echo = '```json\n{"prompt": "进度条从 50% 走到 100..", "orientation": "portrait"}\n```\n'
    parser = RelayStreamParser()
    events = feed_pieces(parser, *echo)
    assert events == [Understood(prompt="进度条从 50% 走到 100..", orientation="portrait")]
    assert parser.outcome.percent is None


def test_json_echo_with_sid_and_odd_values() -> None:
    echo = '```json\n{"prompt": "再快一点", "sid": "s_0123abcd", "duration": "10"}\n```\n'
    parser = RelayStreamParser()
    assert parser.feed_text(echo) == [
        Understood(prompt="再快一点", duration=10),
        TaskInfo(None, "s_0123abcd"),
    ]
    assert text_events('```json\n{"prompt": 3, "duration": "long"}\n```\n')[0] == Understood()
    assert text_events("```json\n[1, 2]\n```\n") == [Failed("", Kind.NO_VIDEO)]
    assert text_events("```json\n{broken\n```\n") == [Failed("", Kind.NO_VIDEO)]


def test_unclosed_echo_is_read_at_the_end() -> None:
    events = text_events('```json\n{"prompt": "海浪"}')
    assert events == [Understood(prompt="海浪"), Failed("", Kind.NO_VIDEO)]


def test_reasoning_field_and_explicit_nulls() -> None:
    parser = RelayStreamParser()
    chunk = {"choices": [{"delta": {"content": None, "reasoning": "进度 20%\n"}}]}
    assert parser.feed(json.dumps(chunk)) == [
        Generating(""),
        Progress(20.0, "进度 20%"),
        Line("进度 20%"),
    ]
    assert parser.feed('{"choices": null}') == []
    assert parser.feed('{"choices": [null, {"delta": null}, {"delta": "x"}]}') == []
    for junk in ("null", "[]", "42", '"text"', "", "not json"):
        assert parser.feed(junk) == []


def test_message_key_is_read_like_delta() -> None:
    parser = RelayStreamParser()
    chunk = {"choices": [{"message": {"content": f"[下载视频]({VIDEO_B})"}}]}
    assert parser.feed(json.dumps(chunk)) == []  # the line is still open
    assert parser.finish() == [VideoReady(VIDEO_B), Line("下载视频")]


def test_several_json_lines_in_one_frame() -> None:
    first = json.dumps({"choices": [{"delta": {"content": "> 排队中\n"}}]})
    second = json.dumps({"choices": [{"delta": {"content": "> 🏃 进度：10%\n"}}]})
    parser = RelayStreamParser()
    assert parser.feed(f"{first}\n{second}") == [
        Queued("排队中"),
        Line("排队中"),
        Generating(""),
        Progress(10.0, "🏃 进度：10%"),
        Line("🏃 进度：10%"),
    ]


def test_done_alone_is_not_success() -> None:
    parser = RelayStreamParser()
    assert parser.feed("[DONE]") == []
    assert parser.saw_done
    assert parser.finish() == [Failed("", Kind.NO_VIDEO)]


def test_finish_returns_exactly_one_terminal_event_once() -> None:
    parser = RelayStreamParser()
    feed_pieces(parser, "> ❌ 错误：first\n", "> ❌ 错误：second\n")
    assert parser.finish() == [Failed("❌ 错误：first", Kind.RELAY)]
    assert parser.finish() == []


def test_transport_failure_is_used_only_when_the_relay_said_nothing() -> None:
    dropped = Failed("connection closed", "dropped")
    parser = RelayStreamParser()
    feed_pieces(parser, "> 🏃 进度：10%\n")
    assert parser.finish(dropped)[-1] == dropped

    parser = RelayStreamParser()
    feed_pieces(parser, "> ❌ 生成失败\n")
    assert parser.finish(dropped) == [Failed("❌ 生成失败", Kind.RELAY)]

    parser = RelayStreamParser()
    feed_pieces(parser, f"[在线播放]({VIDEO_A})")  # the line was never ended by a newline
    assert parser.finish(dropped) == [VideoReady(VIDEO_A), Line("在线播放")]


def test_video_already_sent_means_no_second_terminal_event() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, f"[在线播放]({VIDEO_A})\n")[0] == VideoReady(VIDEO_A)
    assert parser.finish() == []


def test_heavy_load_without_a_failure_mark() -> None:
    message = "The service is currently under heavy load, please try again later"
    assert text_events(f"> {message}\n") == [Line(message), Failed(message, Kind.OVERLOADED)]


def test_failure_words_next_to_success_words_are_not_a_failure() -> None:
    events = text_events(f"> ✅ 生成完成, 0 failed\n[在线播放]({VIDEO_A})\n")
    assert events[-2:] == [VideoReady(VIDEO_A), Line("在线播放")]


def test_policy_reason_is_joined_once() -> None:
    text = "**Content Policy Violation**\n\n暴力内容\n\n暴力内容\n"
    assert text_events(text)[-1] == Failed(
        "Content Policy Violation: 暴力内容", Kind.CONTENT_POLICY
    )


def test_think_tags_in_whole_chunks() -> None:
    parser = RelayStreamParser()
    events = feed_pieces(parser, "<think>", "\n> 排队中\n", "</think>", f"\n[下载]({VIDEO_C})\n")
    assert events == [
        Queued("排队中"),
        Line("排队中"),
        VideoReady(VIDEO_C),
        Line("下载"),
    ]


def test_line_cleaning() -> None:
    events = text_events("> > **Status**: 处理中...\n>\n...\n。。。\n> **提示**：请稍候。\n")
    assert [e for e in events if isinstance(e, Line)] == [
        Line("Status: 处理中"),
        Line("提示：请稍候。"),
    ]


def test_ids_without_backticks_or_header() -> None:
    events = text_events("> 任务ID：task_0123456789abcdef\n")
    assert events[0] == TaskInfo("task_0123456789abcdef")
    events = text_events(f"[数据预览](https://asyncdata.net/web/{TASK_A})\n")
    assert events[0] == TaskInfo(TASK_A, None, (f"https://asyncdata.net/web/{TASK_A}",))
    # "sid:" is not an "ID:" header, and an s_ id never becomes the task id
    assert text_events(f"sid: {SID_A}\n")[0] == TaskInfo(None, SID_A)


# ── Which URL is the video ────────────────────────────────────────────────────────────────────


def video_of(text: str) -> str | None:
    events = text_events(text)
    videos = [e.url for e in events if isinstance(e, VideoReady)]
    assert len(videos) <= 1
    return videos[0] if videos else None


def test_video_src_beats_a_labelled_link() -> None:
    text = '[下载视频](https://a.example/dl.mp4) <video controls src="https://b.example/v.mp4">'
    assert video_of(text + "\n") == "https://b.example/v.mp4"


def test_labelled_link_beats_earlier_video_files() -> None:
    text = (
        "[片段一](https://a.example/1.mp4)\n"
        "https://a.example/2.mp4\n"
        "[在线观看](https://a.example/raw?se=2025&sig=abc)\n"
    )
    assert video_of(text) == "https://a.example/raw?se=2025&sig=abc"


@pytest.mark.parametrize("label", ["点击下载", "在线观看", "下载视频", "Play online", "Download"])
def test_play_and_download_labels(label: str) -> None:
    assert video_of(f"[{label}](https://a.example/v?sig=1)\n") == "https://a.example/v?sig=1"


def test_link_in_a_success_line_counts_as_labelled() -> None:
    text = "> ✅ 视频生成成功，[点击这里](https://a.example/v?sig=1) 查看~~~\n"
    assert video_of(text) == "https://a.example/v?sig=1"


def test_last_video_file_link_wins_among_unlabelled() -> None:
    text = (
        "[片段一](https://a.example/1.mp4)\n"
        "地址 https://a.example/2.webm\n"
        "[片段三](https://a.example/3/src.mp4?st=17&sig=x)\n"
        "https://a.example/page\n"
        "结束\n"
    )
    assert video_of(text) == "https://a.example/3/src.mp4?st=17&sig=x"


def test_video_file_link_beats_a_final_bare_url() -> None:
    text = "[片段](https://a.example/1.mp4)\nhttps://drive.example.com/file/d/xyz/view\n"
    assert video_of(text) == "https://a.example/1.mp4"


def test_bare_url_that_is_the_whole_final_message() -> None:
    url = "https://drive.example.com/file/d/xyz/view"
    assert text_events(f"🎬 开始生成视频...\n{url}") == [Line("🎬 开始生成视频"), VideoReady(url)]
    assert video_of(f"<{url}>\n\n") == url


def test_bare_url_that_is_not_the_final_message_is_not_a_video() -> None:
    assert video_of("https://drive.example.com/file/d/xyz/view\n请稍候\n") is None


def test_status_pages_are_never_the_video() -> None:
    text = (
        f"> ✅ 生成完成 [数据预览](https://asyncdata.net/web/{TASK_A})\n"
        f"[在线播放](https://asyncdata.net/source/{TASK_A})\n"
        f"https://asyncdata.net/web/{TASK_A}"
    )
    assert video_of(text) is None


def test_images_are_never_the_video() -> None:
    text = (
        "![在线播放](https://a.example/x.webp)\n"
        "[下载封面](https://a.example/cover.png)\n"
        "[点击下载](https://a.example/cover.JPG?sig=1)\n"
        "https://a.example/still.gif"
    )
    assert video_of(text) is None


def test_thumbnail_is_the_image_not_the_video() -> None:
    text = f"![封面]({THUMB_A})\n[在线播放▶️]({VIDEO_A})\n"
    assert VideoReady(VIDEO_A, THUMB_A) in text_events(text)


# ── Non-streaming replies and error bodies ────────────────────────────────────────────────────


def body(name: str) -> dict:
    return json.loads(read(name))


def test_parse_completion_family_a() -> None:
    events, outcome = parse_completion(body("nonstream_success.json"))
    progress = Progress(81.0, "🏃 进度 36..44..61..81")  # the whole line: only the last number
    expected = [e for e in FAMILY_A_EVENTS if not isinstance(e, Progress)]
    expected.insert(expected.index(Line("🏃 进度 36..44..61..81")), progress)
    assert events == expected
    assert (outcome.video_url, outcome.thumbnail) == (VIDEO_A, THUMB_A)
    assert (outcome.task_id, outcome.sid) == (TASK_A, SID_A)


def test_parse_completion_family_c_is_never_a_video() -> None:
    message = (
        "Sora2API is available. Video generation needs streaming: "
        "send the request again with stream set to true."
    )
    events, outcome = parse_completion(body("nonstream_family_c_unavailable.json"))
    assert events == [Line(message), Failed(message, Kind.NO_VIDEO)]
    assert outcome.video_url is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error_401.json", "无效的令牌"),
        ("error_403_quota.json", "user quota is not enough, remaining quota: ＄0.000000"),
        ("error_429.json", "您已达到请求数限制：1分钟内最多请求10次"),
        ("error_503.json", "No available channel for model sora-2 under group default"),
        ("error_500.json", "upstream error: do request failed"),
    ],
)
def test_error_bodies(name: str, message: str) -> None:
    error = body(name)["error"]
    full = f"{message} (request id: 20251014083000123456789abcdef)"
    assert error_text(error) == full
    assert kind_of_error(error) is Kind.RELAY
    events, outcome = parse_completion(body(name))
    assert events == [Failed(full, Kind.RELAY)]
    assert outcome.failure == Failed(full, Kind.RELAY)


def test_error_codes_in_fixtures() -> None:
    assert body("error_403_quota.json")["error"]["code"] == "insufficient_user_quota"
    assert body("error_403_quota.json")["error"]["message_zh"].startswith("用户额度不足")
    assert body("error_429.json")["error"]["code"] == "rate_limit_exceeded"
    assert body("error_503.json")["error"]["code"] == "model_not_found"
    assert body("error_500.json")["error"]["type"] == "server_error"


def test_parse_completion_of_something_else() -> None:
    for value in (None, [], "text", {}, {"choices": None}, {"choices": ["x", {"message": 3}]}):
        events, outcome = parse_completion(value)
        assert events == [Failed("", Kind.NO_VIDEO)]
        assert outcome.video_url is None


def test_error_text() -> None:
    assert error_text("plain words") == "plain words"
    assert error_text({"message": "  spaced  "}) == "spaced"
    assert error_text({"message": " ", "message_zh": "用户额度不足"}) == "用户额度不足"
    assert error_text({"msg": "m"}) == "m"
    assert error_text({"detail": "d"}) == "d"
    assert error_text({"code": "x"}) == '{"code": "x"}'
    assert (
        error_text({"code": "长" * 600})
        == json.dumps({"code": "长" * 600}, ensure_ascii=False)[:500]
    )
    assert error_text(42) == "42"
    assert error_text(["x" * 600]) == str(["x" * 600])[:500]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            {
                "message": "Hmmm something didn't look right with your request",
                "code": "sentinel_block",
            },
            Kind.CONTENT_POLICY,
        ),
        (
            {"message": "Your request was rejected", "code": "moderation_blocked"},
            Kind.CONTENT_POLICY,
        ),
        ({"message": "This content violates our content policy"}, Kind.CONTENT_POLICY),
        ("内容审核未通过", Kind.CONTENT_POLICY),
        (
            {"message": "Sora is under heavy load, try later", "type": "server_error"},
            Kind.OVERLOADED,
        ),
        ({"message": "Upstream API timeout: Generation exceeded 3000 seconds limit"}, Kind.RELAY),
        ("bad gateway", Kind.RELAY),
    ],
)
def test_kind_of_error(error: object, kind: str) -> None:
    assert kind_of_error(error) is Kind(kind)


def test_error_chunk_in_stream_uses_its_kind() -> None:
    parser = RelayStreamParser()
    error = {
        "error": {"message": "blocked", "type": "invalid_request", "code": "moderation_blocked"}
    }
    assert parser.feed(json.dumps(error)) == []
    assert parser.finish() == [Failed("blocked", Kind.CONTENT_POLICY)]


# ── Hostile input (docs/hostile-input.md, "Chat stream") ──────────────────────────────────────


def content_chunk(content: object) -> str:
    return json.dumps({"choices": [{"delta": {"content": content}}]})


def echo_chunk(body: str) -> str:
    return content_chunk(f"```json\n{body}\n```\n\n")


ODD_PAYLOADS = {
    "choices is a number": '{"choices": 5}',
    "choices is true": '{"choices": true}',
    "choices is an object": '{"choices": {"delta": {"content": 1}}}',
    "choice is a number": '{"choices": [5]}',
    "delta is a string": '{"choices": [{"delta": "x"}]}',
    "delta is a list": '{"choices": [{"delta": ["x"]}]}',
    "content is a number": '{"choices": [{"delta": {"content": 7}}]}',
    "content is an object": '{"choices": [{"delta": {"content": {"text": "x"}}}]}',
    "reasoning is a number": '{"choices": [{"delta": {"reasoning_content": 1.5}}]}',
    "error is a number": '{"error": 5}',
    "error is true": '{"error": true}',
    "error is a list": '{"error": ["x"]}',
    "echo duration 1e999": echo_chunk('{"prompt": "p", "duration": 1e999}'),
    "echo duration Infinity": echo_chunk('{"prompt": "p", "duration": Infinity}'),
    "echo duration NaN": echo_chunk('{"prompt": "p", "duration": NaN}'),
    "echo duration ten": echo_chunk('{"prompt": "p", "duration": "ten"}'),
    "echo orientation object": echo_chunk('{"prompt": "p", "orientation": {"a": 1}}'),
    "echo sid number": echo_chunk('{"sid": 5, "size": [1280, 720], "width": "wide"}'),
    "echo deeply nested": echo_chunk('{"prompt": ' + "[" * 5000 + "]" * 5000 + "}"),
    "echo never closed": content_chunk('```json\n{"prompt": "p"}\n'),
    "echo huge number": echo_chunk('{"duration": ' + "9" * 5000 + "}"),
    "payload deeply nested": "[" * 100_000,
    "payload deeply nested object": '{"a":' * 50_000,
    "payload number overflow": '{"choices": [{"delta": {"content": "x"}}], "n": 1e999}',
    "payload NaN": '{"choices": NaN}',
    "lone surrogate": '{"choices": [{"delta": {"content": "\\ud83d"}}]}',
    "NUL and controls": '{"choices": [{"delta": {"content": "a\\u0000b\\u001b[31m\\u0085"}}]}',
    "invalid JSON": '{"choices": [{"delta": {"content": "x"',
    "not JSON at all": "<html>502 Bad Gateway</html>",
    "a bare string": '"text"',
    "a long line without newline": content_chunk("进度 " + "x" * 200_000),
    "unclosed think tag": content_chunk("<think>排队中"),
    "brackets": content_chunk("[" * 70_000),
    "video tags": content_chunk("<video " * 10_000),
}


@pytest.mark.parametrize("odd", sorted(ODD_PAYLOADS))
def test_one_odd_chunk_never_hides_the_video_sent_after_it(odd: str) -> None:
    parser = RelayStreamParser()
    events = parser.feed(ODD_PAYLOADS[odd])
    events += parser.feed(content_chunk("\n\n"))  # whatever line the odd chunk left open ends
    for payload in payloads(read("family_b_success.sse")):
        events += parser.feed(payload)
    assert VideoReady(VIDEO_B) in events
    assert parser.finish() == []  # the video was the terminal event
    assert parser.outcome.video_url == VIDEO_B
    for event in events:
        assert_clean(event)


def test_odd_chunks_through_feed_chunk_directly() -> None:
    parser = RelayStreamParser()
    for chunk in (
        None,
        5,
        "text",
        [],
        {"choices": 5},
        {"choices": [{"delta": {"content": ["a", {"text": "b"}, 5, None, {"text": 5}, [1]]}}]},
        {"choices": [{"message": {"content": "x\ud83d"}}]},
        {"error": {"message": 5, "code": {1, 2}}},  # a caller's own object: not JSON-shaped
        {"choices": [{"delta": {"content": "\n"}}]},
    ):
        parser.feed_chunk(chunk)
    assert parser.outcome.answer == "abx\ufffd\n"
    assert parser.outcome.failure is not None  # the error object still counts as an error
    assert parser.outcome.failure.kind is Kind.RELAY


def assert_clean(event: Event) -> None:
    for value in vars(event).values():
        if isinstance(value, str):
            value.encode("utf-8")  # no lone surrogate
            assert not any(ord(c) < 32 and c not in "\n\t" for c in value), value
            assert not any(0x7F <= ord(c) <= 0x9F for c in value), value


def test_text_leaving_the_parser_is_clean() -> None:
    parser = RelayStreamParser()
    events = parser.feed(content_chunk("> 排队\x00中\x07，前面还有 3 个任务\ud83d\n"))
    events += parser.feed(
        content_chunk('```json\n{"prompt": "猫\\u0000\\ud800", "mode": "横\x01屏"}')
    )
    events += parser.feed(content_chunk("\n```\n> ❌ 生成失败\x1b[0m：\udc00原因\n"))
    events += parser.finish()
    assert events == [
        Queued("排队中，前面还有 3 个任务\ufffd", 3),
        Line("排队中，前面还有 3 个任务\ufffd"),
        Understood(prompt="猫\ufffd", orientation="横屏"),
        Line("❌ 生成失败[0m：\ufffd原因"),
        Failed("❌ 生成失败[0m：\ufffd原因", Kind.RELAY),
    ]
    assert parser.outcome.answer.encode("utf-8")
    assert "\x00" not in parser.outcome.answer


def test_failure_messages_and_lines_are_bounded() -> None:
    events = text_events("> ❌ " + "长" * 10_000 + "\n")
    assert [len(e.text) for e in events if isinstance(e, Line)] == [2000]
    assert len(events[-1].message) == 2000
    assert error_text({"message": "x" * 10_000}) == "x" * 2000
    assert error_text("\x00bad\ud83d") == "bad\ufffd"


def test_policy_reason_is_appended_once_only() -> None:
    text = "**Content Policy Violation**\n\n" + "".join(f"reason {i}\n" for i in range(5000))
    assert text_events(text)[-1] == Failed(
        "Content Policy Violation: reason 0", Kind.CONTENT_POLICY
    )


def test_failed_kinds_are_kind_members() -> None:
    for name in ("family_b_failure.sse", "family_b_overloaded.sse", "family_c_policy.sse"):
        events, _ = run(read(name))
        assert isinstance(events[-1], Failed)
        assert type(events[-1].kind) is Kind
    assert type(kind_of_error("x")) is Kind


# ── The JSON echo, read field by field ────────────────────────────────────────────────────────


def understood_of(body: str) -> Understood:
    events = text_events(f"```json\n{body}\n```\n")
    assert isinstance(events[0], Understood), events
    return events[0]


@pytest.mark.parametrize(
    ("value", "duration"),
    [
        ("15", 15),
        ('"15"', 15),
        ('"15秒"', 15),
        ('"10s"', 10),
        ("10.0", 10),
        ("600", 600),
        ("1", 1),
        ("0", None),
        ("601", None),
        ("-5", None),
        ("10.5", None),
        ("true", None),
        ('"ten"', None),
        ("[10]", None),
        ("null", None),
        ("1e300", None),
    ],
)
def test_echo_duration_only_when_sane(value: str, duration: int | None) -> None:
    assert understood_of(f'{{"prompt": "p", "duration": {value}}}').duration == duration


def test_echo_orientation_only_when_a_short_string() -> None:
    assert understood_of('{"orientation": "portrait"}').orientation == "portrait"
    assert understood_of('{"orientation": " landscape "}').orientation == "landscape"
    assert understood_of('{"mode": "横屏模式"}').orientation == "横屏模式"
    assert understood_of('{"orientation": {"a": 1}, "mode": "竖屏"}').orientation == "竖屏"
    assert understood_of('{"orientation": 1}').orientation is None
    assert understood_of('{"orientation": ""}').orientation is None
    assert understood_of('{"orientation": "' + "x" * 41 + '"}').orientation is None


def test_echo_size() -> None:
    assert (understood_of('{"size": "1280x720"}').width, 720) == (1280, 720)
    u = understood_of('{"size": "720×1280"}')
    assert (u.width, u.height) == (720, 1280)
    u = understood_of('{"width": 1920, "height": 1080}')
    assert (u.width, u.height) == (1920, 1080)
    for body in ('{"size": "large"}', '{"size": "1x1"}', '{"width": 1920}', '{"size": 5}'):
        u = understood_of(body)
        assert (u.width, u.height) == (None, None), body
    assert understood_of('{"width": 99999, "height": 720}').width is None


def test_echo_without_closing_fence_ends_with_its_value() -> None:
    text = f'```json\n{{\n  "prompt": "海浪"\n}}\n> 排队中\n[在线播放]({VIDEO_A})\n'
    assert text_events(text) == [
        Understood(prompt="海浪"),
        Queued("排队中"),
        Line("排队中"),
        VideoReady(VIDEO_A),
        Line("在线播放"),
    ]


def test_oversized_echo_is_dropped_but_the_reply_goes_on() -> None:
    text = '```json\n{"prompt": "' + "x" * 70_000 + f'"}}\n```\n[在线播放]({VIDEO_A})\n'
    assert text_events(text) == [VideoReady(VIDEO_A), Line("在线播放")]


# ── Queue position ────────────────────────────────────────────────────────────────────────────


def test_queue_position_is_read_and_updated() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, "> 排队中，前面还有 3 个任务\n") == [
        Queued("排队中，前面还有 3 个任务", 3),
        Line("排队中，前面还有 3 个任务"),
    ]
    assert feed_pieces(parser, "> 排队中，前面还有 3 个任务\n") == [
        Line("排队中，前面还有 3 个任务")
    ]
    assert feed_pieces(parser, "> 前面还有 1 个任务\n")[0] == Queued("前面还有 1 个任务", 1)
    assert feed_pieces(parser, "> 排队中\n") == [Line("排队中")]  # no position: no news
    assert feed_pieces(parser, "> 生成中\n")[0] == Generating("生成中")


@pytest.mark.parametrize(
    ("line", "position"),
    [
        ("Your position in queue: 3", 3),
        ("queue position #12", 12),
        ("Position in the queue: 7 (pending)", 7),
        ("队列位置：4", 4),
        ("您排在第 2 位", 2),
        ("排队中", None),
    ],
)
def test_queue_position_wordings(line: str, position: int | None) -> None:
    queued = [e for e in text_events(line + "\n") if isinstance(e, Queued)]
    assert [q.position for q in queued] == [position]


def test_queue_position_in_a_growing_line() -> None:
    parser = RelayStreamParser()
    assert feed_pieces(parser, "> 排队中，前面还有 ", "5", " 个任务") == []
    assert feed_pieces(parser, ".") == [Queued("排队中，前面还有 5 个任务", 5)]
    assert feed_pieces(parser, ".", ".") == []


# ── Bounds ────────────────────────────────────────────────────────────────────────────────────


def test_answer_is_capped() -> None:
    parser = RelayStreamParser()
    for _ in range(100):
        parser.feed(content_chunk("x" * 10_000))
    assert len(parser.outcome.answer) == 256 * 1024
    parser.feed(content_chunk(f"\n[在线播放]({VIDEO_A})\n"))
    assert parser.outcome.video_url == VIDEO_A  # the video is still read


def test_an_endless_line_is_cut_and_reading_goes_on() -> None:
    parser = RelayStreamParser()
    events = feed_pieces(parser, *(["." * 1000] * 200))  # 200 kB of heartbeat dots
    assert events == []
    events = feed_pieces(parser, f"\n> ✅ 生成完成 [在线播放]({VIDEO_A})\n")
    assert VideoReady(VIDEO_A) in events


def test_status_links_are_capped() -> None:
    text = "".join(f"[数据预览](https://asyncdata.net/web/task_{i:012d})\n" for i in range(50))
    _, outcome = parse_completion({"choices": [{"message": {"content": text}}]})
    assert len(outcome.links) == 8


# ── Linear time (ratio of N and 4N; no absolute times) ────────────────────────────────────────


def parse_time(chunks: list[str], repeat: int = 3) -> float:
    encoded = [content_chunk(c) for c in chunks]
    best = float("inf")
    for _ in range(repeat):
        parser = RelayStreamParser()
        start = time.perf_counter()
        for payload in encoded:
            parser.feed(payload)
        parser.finish()
        best = min(best, time.perf_counter() - start)
    return best


def assert_linear(make: Callable[[int], list[str]], n: int) -> None:
    small, large = parse_time(make(n)), parse_time(make(4 * n))
    assert large / small < 6, (small, large)


def test_a_growing_progress_line_costs_linear_time() -> None:
    def chunks(n: int) -> list[str]:
        pieces = [">🏃 进度 "]
        for i in range(n):
            pieces.append(f"{i % 100}.." if i % 3 == 0 else ".")
        return pieces

    assert_linear(chunks, 8_000)


def test_a_growing_queue_line_costs_linear_time() -> None:
    assert_linear(lambda n: ["> 排队中", *["."] * n], 8_000)


def test_small_chunks_of_one_word_line_cost_linear_time() -> None:
    assert_linear(lambda n: ["ab"] * n, 8_000)


def test_a_megabyte_of_dots_costs_linear_time() -> None:
    assert_linear(lambda n: ["." * 1024] * n, 256)  # 256 kB and 1 MB


@pytest.mark.parametrize(
    ("unit", "end"),
    [
        ("[", ""),
        ("![a](", ""),
        ("<video ", ""),
        ("1.", ""),
        ("1 ", ""),
        ("ID: ", ""),
        ("](", ""),
        ("task_0123456789ab ", ""),
        (".", "x"),  # a trailing-dots regex would retry the whole run from every dot
        (". ", "x"),
        ("进度 ", "x"),
    ],
)
def test_pathological_lines_cost_linear_time(unit: str, end: str) -> None:
    def line(n: int) -> list[str]:
        return [unit * (n // len(unit)) + end + "\n"]

    small, large = parse_time(line(15_000)), parse_time(line(60_000))
    assert large / small < 6, (unit, small, large)


# ── Fuzz: mutated transcripts in random chunkings never break the parser ──────────────────────

ODD_VALUES: list[object] = [
    None,
    True,
    5,
    -1,
    1e308,
    "",
    "\ud83d",
    "\x00",
    "进度 50%",
    "```json\n{",
    "> ❌ 错误",
    [],
    {},
    [[[[]]]],
    {"delta": 5},
]


def mutate_value(value: object, rng: random.Random) -> object:
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        return {**value, key: mutate_value(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        return [*value[:i], mutate_value(value[i], rng), *value[i + 1 :]]
    if isinstance(value, str) and value and rng.random() < 0.5:
        i = rng.randrange(len(value))
        return value[:i] + rng.choice(["\ud83d", "\n", "```", "<think>", "..", "%", ""]) + value[i:]
    return rng.choice(ODD_VALUES)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data) + 1)
        action = rng.randrange(5)
        if action == 0 and data:
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif action == 1:
            data[i:i] = rng.choice([b"\x00", b"\xff", b'"', b"{", b"]", b"\\ud83d", b"\n\n", b"\r"])
        elif action == 2:
            del data[i : i + rng.randint(1, 40)]
        elif action == 3:
            data[i:i] = data[max(0, i - 60) : i]
        else:
            del data[i:]
    return bytes(data)


def fuzz_payloads(data: bytes, rng: random.Random) -> list[str]:
    if rng.random() < 0.5:
        data = mutate_bytes(data, rng)
    inside = range(1, len(data))
    cuts = sorted(rng.sample(inside, min(len(inside), rng.randint(0, 50))))
    decoder = SSEDecoder()
    out: list[str] = []
    for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
        out += decoder.feed(data[a:b])
    out += decoder.close()
    for i, payload in enumerate(out):
        if rng.random() < 0.05:
            chunk = loads_json(payload, max_bytes=1 << 20)
            if chunk is not None:
                out[i] = json.dumps(mutate_value(chunk, rng))
    return out


def test_fuzzed_transcripts_never_break_the_parser() -> None:
    rng = random.Random(20251014)
    sources = [read(name) for name in sorted(EXPECTED)]
    videos = failures = 0
    for _ in range(2000):
        parser = RelayStreamParser()
        events: list[Event] = []
        for payload in fuzz_payloads(rng.choice(sources), rng):
            events += parser.feed(payload)
        tail = parser.finish(Failed("closed", Kind.DROPPED) if rng.random() < 0.3 else None)
        ready = [e for e in events if isinstance(e, VideoReady)]
        assert len(ready) <= 1
        assert not any(isinstance(e, Failed) for e in events)  # only finish() ends a stream
        terminal = [e for e in tail if isinstance(e, VideoReady | Failed)]
        if ready:
            assert terminal == []
        else:
            assert len(terminal) == 1
            # A Failed ends the list; a VideoReady may be followed by its own line's text.
            assert isinstance(tail[-1], Failed) or isinstance(terminal[0], VideoReady)
        failures += isinstance(tail[-1] if tail else None, Failed)
        videos += bool(ready) or any(isinstance(e, VideoReady) for e in tail)
        for event in [*events, *tail]:
            assert_clean(event)
        parser.outcome.answer.encode("utf-8")
        assert parser.finish() == []
    assert videos > 500 and failures > 500  # both outcomes were exercised
