"""Relay replies → typed events. Pure: no I/O, no clock.

The relay never sends structured fields for progress or the video: everything is free text in
``choices[0].delta.content`` (or ``reasoning_content`` / ``reasoning``), in one of several
families described in ``shared/relay-protocol.md``. :class:`RelayStreamParser` reads that text
line by line and recognises each family by its wording, so a new variant that is *shaped like*
a known one still parses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .events import (
    FAIL_NO_VIDEO,
    FAIL_OVERLOADED,
    FAIL_POLICY,
    FAIL_RELAY,
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

# ── Patterns ──────────────────────────────────────────────────────────────────────────────────

# A percentage is only read once it is complete: "36.0%" / "47%" (families B, C) or "36.."
# (family A writes bare numbers followed by two dots). "3" of a "36" still in flight never counts.
PERCENT = re.compile(r"(?<![0-9A-Za-z_])(?<!\d\.)(\d{1,3}(?:\.\d+)?)\s*(?:%|\.\.)")
PROGRESS_WORDS = re.compile(r"进度|progress", re.IGNORECASE)
QUEUED_WORDS = re.compile(r"排队|队列|queued|pending|in queue|Generation Process Begins", re.I)
GENERATING_WORDS = re.compile(r"生成中|正在生成|running|processing|in_progress|generating", re.I)
FAILURE_WORDS = re.compile(r"❌|错误|生成失败|failed|Content Policy Violation", re.IGNORECASE)
POLICY_WORDS = re.compile(
    r"content policy|policy violation|sentinel_block|moderation_blocked|违规|审核", re.I
)
OVERLOADED_WORDS = re.compile(r"under heavy load", re.IGNORECASE)

TASK_ID = re.compile(r"\bID\s*[:：]\s*`?([A-Za-z0-9][\w:-]{5,})`?", re.IGNORECASE)
BARE_TASK = re.compile(r"\b(task_[0-9a-z]{10,})\b")
SID = re.compile(r"\bsid\s*[:：]\s*`?(s_[0-9A-Za-z]+)`?", re.IGNORECASE)

MD_IMAGE = re.compile(r"!\[[^\]]*\]\((\S+?)\)")
MD_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\((\S+?)\)")
VIDEO_SRC = re.compile(r"<video\b[^>]*?\bsrc\s*=\s*['\"]([^'\"]+)['\"]", re.IGNORECASE)
BARE_URL = re.compile(r"https?://[^\s<>'\"()\[\]`]+")
PLAY_LABEL = re.compile(r"播放|观看|下载|查看视频|play|watch|download|video", re.IGNORECASE)
SUCCESS_WORDS = re.compile(r"✅|成功|完成|ready|success|completed", re.IGNORECASE)
STATUS_PAGE = re.compile(r"/(?:web|source)/task_", re.IGNORECASE)
IMAGE_EXT = re.compile(r"\.(?:webp|png|jpe?g|gif|avif|bmp)(?:[?#]|$)", re.IGNORECASE)
VIDEO_EXT = re.compile(r"\.(?:mp4|webm|mov|m4v|mkv)(?:[?#]|$)", re.IGNORECASE)
THINK_TAG = re.compile(r"</?think>")
JSON_FENCE_OPEN = re.compile(r"^\s*```\s*json\s*$", re.IGNORECASE)
FENCE = re.compile(r"^\s*```")
DOTS_ONLY = re.compile(r"^[\s.。·…>]*$")


STATUS_EVENTS = (Queued, Generating, Progress, TaskInfo, Understood, VideoReady)


def _clean(line: str) -> str:
    """A relay line as a person should read it: no quote marks, bold stars, backticks, link
    targets or trailing dots (the page shows the video itself, not its link)."""
    text = line.strip()
    text = re.sub(r"^(?:>\s*)+", "", text)
    text = MD_IMAGE.sub("", text)
    text = MD_LINK.sub(lambda m: m.group(1), text)
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"(?:\s*\.){3,}$|\.\.$", "", text).strip()
    return text


def _is_video_candidate(url: str) -> bool:
    return not STATUS_PAGE.search(url) and not IMAGE_EXT.search(url)


# ── The parser ────────────────────────────────────────────────────────────────────────────────


@dataclass
class _Channel:
    """Text of one delta field (content or reasoning), cut into lines as it arrives."""

    pending: str = ""

    def add(self, text: str) -> list[str]:
        self.pending += text
        *done, self.pending = self.pending.split("\n")
        return done


@dataclass
class Outcome:
    """What the parser knows when the stream ends (kept by the job record)."""

    task_id: str | None = None
    sid: str | None = None
    links: list[str] = field(default_factory=list)
    percent: float | None = None
    video_url: str | None = None
    thumbnail: str | None = None
    failure: Failed | None = None
    answer: str = ""  # the assistant's content verbatim (needed to modify the video later)


class RelayStreamParser:
    """Feed it SSE payloads (``feed``) or a whole reply (``feed_text``); it returns events.

    ``finish()`` must be called once at the end; it returns the terminal event, exactly one of
    :class:`VideoReady` (if not sent already) or :class:`Failed`.
    """

    def __init__(self) -> None:
        self.outcome = Outcome()
        self._channels = {"content": _Channel(), "reasoning": _Channel()}
        self._fence: list[str] | None = None  # lines of a ```json block being read
        self._state: str | None = None
        self._weak_videos: list[str] = []  # video-file links, used only if nothing better comes
        self._last_line: str = ""
        self._video_sent = False
        self._done = False
        self._finished = False

    # — input —

    def feed(self, payload: str) -> list[Event]:
        """One SSE ``data`` payload (a JSON chunk, ``[DONE]`` or junk)."""
        if payload.startswith("[DONE]"):  # one relay glues a literal "\n\n" behind it
            self._done = True
            return []
        try:
            chunk = json.loads(payload)
        except ValueError:
            # Some upstreams put several data lines in one frame; read them one by one.
            if "\n" in payload:
                return [e for part in payload.split("\n") if part for e in self.feed(part)]
            return []  # a malformed line among good ones is skipped, not fatal
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: object) -> list[Event]:
        if not isinstance(chunk, dict):
            return []
        events: list[Event] = []
        error = chunk.get("error")
        if error:
            events += self._fail(error_text(error), kind_of_error(error))
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            part = choice.get("delta") or choice.get("message") or {}
            if not isinstance(part, dict):
                continue
            reasoning = part.get("reasoning_content") or part.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events += self._text("reasoning", reasoning)
            content = part.get("content")
            if isinstance(content, str) and content:
                self.outcome.answer += content
                events += self._text("content", content)
        return events

    def feed_text(self, text: str) -> list[Event]:
        """A whole non-streaming answer (``choices[0].message.content``)."""
        self.outcome.answer += text
        return self._text("content", text)

    def finish(self, transport_failure: Failed | None = None) -> list[Event]:
        """End of input. ``transport_failure`` says why the transport stopped, if it did."""
        if self._finished:
            return []
        self._finished = True
        events: list[Event] = []
        for channel in self._channels.values():
            if channel.pending:
                rest, channel.pending = channel.pending, ""
                events += self._lines([rest])
        if self._fence is not None:
            events += self._close_fence()
        if self._video_sent:
            return events
        if self.outcome.failure is None:
            url = self._weak_videos[-1] if self._weak_videos else self._bare_final_url()
            if url:
                return events + self._video(url)
        failure = self.outcome.failure or transport_failure
        if failure is None:
            failure = Failed(self._last_line, FAIL_NO_VIDEO)
        self.outcome.failure = failure
        return [*events, failure]

    @property
    def saw_done(self) -> bool:
        return self._done

    # — text handling —

    def _text(self, channel: str, text: str) -> list[Event]:
        ch = self._channels[channel]
        events = self._lines(ch.add(text))
        pending = THINK_TAG.sub("", ch.pending)
        if not pending or self._fence is not None:
            return events  # the JSON echo quotes the prompt, which may say "进度 50%"
        # Family A grows one line for minutes ("进度 36..44..61..", "> 排队中......"): read it
        # as it grows. The first heartbeat dot means the words before it are complete.
        if PROGRESS_WORDS.search(pending):
            events += self._progress(pending)
        elif pending.endswith(".") and not FAILURE_WORDS.search(pending):
            events += self._state_words(pending)
        return events

    def _lines(self, lines: Iterable[str]) -> list[Event]:
        events: list[Event] = []
        for line in lines:
            # <think> tags can be cut across chunks, so they are only visible in whole lines.
            for raw in THINK_TAG.sub("\n", line).split("\n"):
                events += self._one_line(raw)
        return events

    def _one_line(self, raw: str) -> list[Event]:
        if self._fence is not None:
            if FENCE.match(raw):
                return self._close_fence()
            self._fence.append(raw)
            return []
        if JSON_FENCE_OPEN.match(raw):
            self._fence = []
            return []
        if FENCE.match(raw) or DOTS_ONLY.match(raw):
            return []  # ```html fences and queue heartbeat dots carry nothing to read
        text = _clean(raw)
        events = self._ids(raw)
        failure = self.outcome.failure
        overloaded = OVERLOADED_WORDS.search(raw)
        if (overloaded or FAILURE_WORDS.search(raw)) and not SUCCESS_WORDS.search(raw):
            kind = (
                FAIL_OVERLOADED
                if overloaded
                else FAIL_POLICY
                if POLICY_WORDS.search(raw)
                else FAIL_RELAY
            )
            events += self._fail(text, kind)
        elif failure is not None and failure.kind == FAIL_POLICY:
            # "**Content Policy Violation**\n\n<reason>": the reason comes on a later line.
            if text and text not in failure.message:
                self.outcome.failure = Failed(f"{failure.message}: {text}", FAIL_POLICY)
        else:
            events += self._video_links(raw)
            if PROGRESS_WORDS.search(raw):
                events += self._progress(raw)
            else:
                events += self._state_words(raw)
        if text and not BARE_URL.fullmatch(text):
            events.append(Line(text))
        status = any(isinstance(e, STATUS_EVENTS) for e in events) or any(
            words.search(raw) for words in (PROGRESS_WORDS, QUEUED_WORDS, GENERATING_WORDS)
        )
        if text and not status:
            self._last_line = text  # a possible reason, never a progress or state line
        return events

    def _state_words(self, raw: str) -> list[Event]:
        # Without its heartbeat dots, so that "排队中." and "排队中......" read the same.
        text = _clean(raw.rstrip().rstrip("."))
        if QUEUED_WORDS.search(raw):
            return self._set_state("queued", text)
        if GENERATING_WORDS.search(raw):
            return self._set_state("generating", text)
        return []

    def _set_state(self, state: str, text: str) -> list[Event]:
        if self._state == state:
            return []
        self._state = state
        return [Queued(text) if state == "queued" else Generating(text)]

    def _progress(self, text: str) -> list[Event]:
        matches = list(PERCENT.finditer(text))
        if not matches:
            return []
        last = matches[-1]
        percent = min(float(last.group(1)), 100.0)
        if percent == self.outcome.percent:
            return []
        self.outcome.percent = percent
        events: list[Event] = []
        if self._state != "generating" and percent > 0:
            events += self._set_state("generating", "")
        # The text ends at the number, so it does not depend on where the chunks were cut.
        return [*events, Progress(percent, _clean(text[: last.end()]))]

    def _ids(self, raw: str) -> list[Event]:
        o = self.outcome
        before = (o.task_id, o.sid, len(o.links))
        if o.task_id is None:
            m = TASK_ID.search(raw) or BARE_TASK.search(raw)
            if m and not m.group(1).startswith("s_"):
                o.task_id = m.group(1)
        if o.sid is None and (m := SID.search(raw)):
            o.sid = m.group(1)
        for _label, url in MD_LINK.findall(raw):
            if STATUS_PAGE.search(url) and url not in o.links:
                o.links.append(url)
                if o.task_id is None and (m := BARE_TASK.search(url)):
                    o.task_id = m.group(1)
        if (o.task_id, o.sid, len(o.links)) == before:
            return []
        return [TaskInfo(o.task_id, o.sid, tuple(o.links))]

    def _video_links(self, raw: str) -> list[Event]:
        if self._video_sent:
            return []
        for url in MD_IMAGE.findall(raw):
            self.outcome.thumbnail = url
        m = VIDEO_SRC.search(raw)
        if m:
            return self._video(m.group(1))
        strong = None
        for label, url in MD_LINK.findall(raw):
            if not _is_video_candidate(url):
                continue
            if PLAY_LABEL.search(label) or SUCCESS_WORDS.search(raw):
                strong = url
            elif VIDEO_EXT.search(url):
                self._weak_videos.append(url)
        if strong:
            return self._video(strong)
        for url in BARE_URL.findall(MD_LINK.sub("", MD_IMAGE.sub("", raw))):
            if VIDEO_EXT.search(url) and _is_video_candidate(url):
                self._weak_videos.append(url)
        return []

    def _bare_final_url(self) -> str | None:
        """Last resort: the final message is nothing but a URL."""
        tail = self.outcome.answer.strip().splitlines()
        last = tail[-1].strip().strip("<>`") if tail else ""
        if BARE_URL.fullmatch(last) and _is_video_candidate(last):
            return last
        return None

    def _video(self, url: str) -> list[Event]:
        self._video_sent = True
        self.outcome.video_url = url
        self._state = "done"
        return [VideoReady(url, self.outcome.thumbnail)]

    def _close_fence(self) -> list[Event]:
        body, self._fence = "\n".join(self._fence or []), None
        try:
            data = json.loads(body)
        except ValueError:
            return []
        if not isinstance(data, dict):
            return []
        events: list[Event] = []
        duration = data.get("duration")
        try:
            duration = int(duration) if duration is not None else None
        except (TypeError, ValueError):
            duration = None
        orientation = data.get("orientation") or data.get("mode")
        events.append(
            Understood(
                prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
                orientation=str(orientation) if orientation else None,
                duration=duration,
                raw=data,
            )
        )
        if isinstance(data.get("sid"), str) and self.outcome.sid is None:
            self.outcome.sid = data["sid"]
            events.append(
                TaskInfo(self.outcome.task_id, self.outcome.sid, tuple(self.outcome.links))
            )
        return events

    def _fail(self, message: str, kind: str) -> list[Event]:
        if self.outcome.failure is None:
            self.outcome.failure = Failed(message, kind)
        self._state = "failed"
        return []  # the single terminal Failed comes from finish()


# ── Error bodies ──────────────────────────────────────────────────────────────────────────────


def error_text(error: object) -> str:
    """The relay's own words from an ``{"error": …}`` value (string or object)."""
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        for key in ("message", "message_zh", "msg", "detail"):
            if isinstance(error.get(key), str) and error[key].strip():
                return error[key].strip()
        return json.dumps(error, ensure_ascii=False)[:500]
    return str(error)[:500]


def kind_of_error(error: object) -> str:
    text = json.dumps(error, ensure_ascii=False) if not isinstance(error, str) else error
    if POLICY_WORDS.search(text):
        return FAIL_POLICY
    if OVERLOADED_WORDS.search(text):
        return FAIL_OVERLOADED
    return FAIL_RELAY


def parse_completion(
    body: object, parser: RelayStreamParser | None = None
) -> tuple[list[Event], Outcome]:
    """A whole ``chat.completion`` JSON reply (non-streaming, or JSON sent to a stream request).
    ``parser`` lets the caller keep what was learnt (the answer, the task id)."""
    parser = parser or RelayStreamParser()
    events: list[Event] = []
    if isinstance(body, dict):
        if body.get("error"):
            events += parser.feed_chunk({"error": body["error"]})
        for choice in body.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") or choice.get("delta") or {}
            if isinstance(message, dict):
                events += parser.feed_chunk({"choices": [{"delta": message}]})
    events += parser.finish()
    return events, parser.outcome
