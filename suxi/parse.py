"""Relay replies → typed events. Pure: no I/O, no clock.

The relay never sends structured fields for progress or the video: everything is free text in
``choices[0].delta.content`` (or ``reasoning_content`` / ``reasoning``), in one of several
families described in docs/relay-protocol.md. :class:`RelayStreamParser` reads that text line by
line and recognises each family by its wording, so a new variant that is *shaped like* a known
one still parses.

The relay is not trusted (docs/hostile-input.md, "Chat stream"): one odd chunk is skipped, never
fatal; every pattern is bounded so no line costs more than linear time; the unfinished line is
read incrementally and capped; and all text that leaves the parser has been through
:func:`suxi.textsafe.clean_text`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from .events import (
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
from .kinds import Kind
from .relaytext import (
    BARE_TASK,
    BARE_URL,
    DOTS_ONLY,
    FAILURE_WORDS,
    FENCE,
    HEAD,
    JSON_FENCE_OPEN,
    MAX_TEXT,
    MD_IMAGE,
    MD_LINK,
    OVERLOADED_WORDS,
    PERCENT,
    PLAY_LABEL,
    POLICY_WORDS,
    PROGRESS_WORDS,
    SID,
    STATE_WORDS,
    STATUS_PAGE,
    SUCCESS_WORDS,
    TASK_ID,
    THINK_TAG,
    VIDEO_EXT,
    VIDEO_SRC,
    JsonEcho,
    LineReader,
    clean_line,
    is_video_candidate,
    progress_text,
    queue_position,
    read_echo,
    text_of,
)
from .textsafe import clean_text, loads_json

MAX_PAYLOAD = 4 * 1024 * 1024  # one SSE payload (the decoder's max_event)
MAX_ANSWER = 256 * 1024  # the reply kept verbatim for a later modification
MAX_LINKS = 8

STATUS_EVENTS = (Queued, Generating, Progress, TaskInfo, Understood, VideoReady)


# ── The parser ────────────────────────────────────────────────────────────────────────────────


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
    _answer: list[str] = field(default_factory=list, repr=False, compare=False)
    _answer_size: int = field(default=0, repr=False, compare=False)

    @property
    def answer(self) -> str:
        """The assistant's content verbatim (needed to modify the video later), at most
        ``MAX_ANSWER`` characters."""
        if len(self._answer) > 1:
            self._answer[:] = ["".join(self._answer)]
        return self._answer[0] if self._answer else ""

    def add_answer(self, text: str) -> None:
        room = MAX_ANSWER - self._answer_size
        if room > 0 and text:
            self._answer.append(text[:room])
            self._answer_size += min(room, len(text))


class RelayStreamParser:
    """Feed it SSE payloads (``feed``) or a whole reply (``feed_text``); it returns events.

    ``finish()`` must be called once at the end; it returns the terminal event, exactly one of
    :class:`VideoReady` (if not sent already) or :class:`Failed`. No input makes it raise.
    """

    def __init__(self) -> None:
        self.outcome = Outcome()
        self._channels = {"content": LineReader(), "reasoning": LineReader()}
        self._fence: JsonEcho | None = None
        self._state: str | None = None
        self._position: int | None = None
        self._weak_video: str | None = None  # a video-file link, used if nothing better comes
        self._last_line = ""
        self._reason_added = False
        self._video_sent = False
        self._done = False
        self._finished = False

    # — input —

    def feed(self, payload: str) -> list[Event]:
        """One SSE ``data`` payload (a JSON chunk, ``[DONE]`` or junk)."""
        if not isinstance(payload, str):
            return []
        if payload.startswith("[DONE]"):  # one relay glues a literal "\n\n" behind it
            self._done = True
            return []
        chunk = loads_json(payload, max_bytes=MAX_PAYLOAD)
        if chunk is None:
            # Some upstreams put several data lines in one frame; read them one by one.
            if "\n" in payload:
                return [e for part in payload.split("\n") if part for e in self.feed(part)]
            return []  # a malformed line among good ones is skipped, not fatal
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: object) -> list[Event]:
        """One decoded chunk; anything that is not shaped like one is skipped."""
        if not isinstance(chunk, dict):
            return []
        events: list[Event] = []
        error = chunk.get("error")
        if (isinstance(error, str) and error.strip()) or (isinstance(error, dict) and error):
            events += self._fail(error_text(error), kind_of_error(error))
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            part = choice.get("delta")
            if not isinstance(part, dict) or not part:
                part = choice.get("message")
            if not isinstance(part, dict):
                continue
            reasoning = text_of(part, "reasoning_content") or text_of(part, "reasoning")
            if reasoning:
                events += self._text("reasoning", reasoning)
            content = text_of(part, "content")
            if content:
                self.outcome.add_answer(content)
                events += self._text("content", content)
        return events

    def feed_text(self, text: str) -> list[Event]:
        """A whole non-streaming answer (``choices[0].message.content``)."""
        if not isinstance(text, str):
            return []
        text = clean_text(text)
        self.outcome.add_answer(text)
        return self._text("content", text)

    def finish(self, transport_failure: Failed | None = None) -> list[Event]:
        """End of input. ``transport_failure`` says why the transport stopped, if it did."""
        if self._finished:
            return []
        self._finished = True
        events: list[Event] = []
        for channel in self._channels.values():
            rest = channel.flush()
            if rest is not None:
                events += self._lines([rest])
        if self._fence is not None:
            events += self._close_fence()
        if self._video_sent:
            return events
        if self.outcome.failure is None:
            url = self._weak_video or self._bare_final_url()
            if url:
                return events + self._video(url)
        failure = self.outcome.failure or transport_failure
        if failure is None:
            failure = Failed(self._last_line, Kind.NO_VIDEO)
        self.outcome.failure = failure
        return [*events, failure]

    @property
    def saw_done(self) -> bool:
        return self._done

    # — text handling —

    def _text(self, channel: str, text: str) -> list[Event]:
        ch = self._channels[channel]
        events = self._lines(ch.add(text))
        if not ch.window or self._fence is not None:
            return events  # the JSON echo quotes the prompt, which may say "进度 50%"
        # Family A grows one line for minutes ("进度 36..44..61..", "> 排队中......"): read it
        # as it grows. The first heartbeat dot means the words before it are complete.
        if ch.progress_words:
            events += self._pending_progress(ch)
        elif ch.window.endswith(".") and not ch.failure_words and ch.state:
            position = ch.position
            if self._state_changes(ch.state, position):
                text = THINK_TAG.sub("", ch.head).rstrip().rstrip(".")
                events += self._set_state(ch.state, clean_line(text), position)
        return events

    def _pending_progress(self, ch: LineReader) -> list[Event]:
        last = None
        # Matches at the very start of a window lack the characters their lookbehind needs.
        for match in PERCENT.finditer(ch.window, 0 if ch.window_start == 0 else 2):
            if ch.window_start + match.end() > ch.read_to:
                last = match
        if last is None:
            return []
        end = ch.read_to = ch.window_start + last.end()
        return self._percent(last.group(1), progress_text(ch.head, end, last.group(0)))

    def _lines(self, lines: Iterable[str]) -> list[Event]:
        events: list[Event] = []
        for line in lines:
            # <think> tags can be cut across chunks, so they are only visible in whole lines.
            for raw in THINK_TAG.sub("\n", line).split("\n"):
                events += self._one_line(raw)
        return events

    def _one_line(self, raw: str) -> list[Event]:
        if self._fence is not None:
            return self._fence_line(self._fence, raw)
        if JSON_FENCE_OPEN.match(raw):
            self._fence = JsonEcho()
            return []
        if FENCE.match(raw) or DOTS_ONLY.match(raw):
            return []  # ```html fences and queue heartbeat dots carry nothing to read
        text = clean_line(raw)
        events = self._ids(raw)
        failure = self.outcome.failure
        overloaded = OVERLOADED_WORDS.search(raw)
        if (overloaded or FAILURE_WORDS.search(raw)) and not SUCCESS_WORDS.search(raw):
            if overloaded:
                kind = Kind.OVERLOADED
            else:
                kind = Kind.CONTENT_POLICY if POLICY_WORDS.search(raw) else Kind.RELAY
            events += self._fail(text, kind)
        elif failure is not None and failure.kind == Kind.CONTENT_POLICY:
            # "**Content Policy Violation**\n\n<reason>": the reason comes on a later line.
            if text and not self._reason_added and text not in failure.message:
                self._reason_added = True
                message = clean_text(f"{failure.message}: {text}", MAX_TEXT)
                self.outcome.failure = Failed(message, Kind.CONTENT_POLICY)
        else:
            events += self._video_links(raw)
            if PROGRESS_WORDS.search(raw):
                events += self._progress(raw)
            else:
                events += self._state_words(raw)
        if text and not BARE_URL.fullmatch(text):
            events.append(Line(text))
        status = any(isinstance(e, STATUS_EVENTS) for e in events) or any(
            words.search(raw) for words in (PROGRESS_WORDS, STATE_WORDS)
        )
        if text and not status:
            self._last_line = text  # a possible reason, never a progress or state line
        return events

    def _state_words(self, raw: str) -> list[Event]:
        match = STATE_WORDS.search(raw)
        position = queue_position(raw)
        state = "queued" if position is not None else match.lastgroup if match else None
        if state is None or not self._state_changes(state, position):
            return []
        # Without its heartbeat dots, so that "排队中." and "排队中......" read the same.
        return self._set_state(state, clean_line(raw.rstrip().rstrip(".")), position)

    def _state_changes(self, state: str, position: int | None) -> bool:
        if self._state != state:
            return True
        return state == "queued" and position is not None and position != self._position

    def _set_state(self, state: str, text: str, position: int | None = None) -> list[Event]:
        self._state = state
        if state == "queued":
            self._position = position
            return [Queued(text, position)]
        return [Generating(text)]

    def _progress(self, raw: str) -> list[Event]:
        matches = list(PERCENT.finditer(raw))
        if not matches:
            return []
        last = matches[-1]  # only the last number counts
        return self._percent(last.group(1), progress_text(raw[:HEAD], last.end(), last[0]))

    def _percent(self, number: str, text: str) -> list[Event]:
        percent = min(float(number), 100.0)
        if percent == self.outcome.percent:
            return []
        self.outcome.percent = percent
        events: list[Event] = []
        if self._state != "generating" and percent > 0:
            events += self._set_state("generating", "")
        return [*events, Progress(percent, text)]

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
            if STATUS_PAGE.search(url) and url not in o.links and len(o.links) < MAX_LINKS:
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
        if m and m.group(1).strip():
            return self._video(m.group(1).strip())
        strong = None
        for label, url in MD_LINK.findall(raw):
            if not is_video_candidate(url):
                continue
            if PLAY_LABEL.search(label) or SUCCESS_WORDS.search(raw):
                strong = url
            elif VIDEO_EXT.search(url):
                self._weak_video = url
        if strong:
            return self._video(strong)
        for url in BARE_URL.findall(MD_LINK.sub("", MD_IMAGE.sub("", raw))):
            if VIDEO_EXT.search(url) and is_video_candidate(url):
                self._weak_video = url
        return []

    def _bare_final_url(self) -> str | None:
        """Last resort: the final message is nothing but a URL."""
        last = self._channels["content"].last_line.strip().strip("<>`")
        if BARE_URL.fullmatch(last) and is_video_candidate(last):
            return last
        return None

    def _video(self, url: str) -> list[Event]:
        self._video_sent = True
        self.outcome.video_url = url
        self._state = "done"
        return [VideoReady(url, self.outcome.thumbnail)]

    # — the fenced JSON echo —

    def _fence_line(self, fence: JsonEcho, raw: str) -> list[Event]:
        if FENCE.match(raw):
            return self._close_fence()
        if fence.complete and raw.strip():
            # A whole JSON value, then more text: the closing fence never came. Read on, so
            # that a relay that forgets it cannot hide the rest of the reply.
            return self._close_fence() + self._one_line(raw)
        fence.add(raw)
        return []

    def _close_fence(self) -> list[Event]:
        data = self._fence.value() if self._fence else None
        self._fence = None
        if data is None:
            return []
        understood, sid = read_echo(data)
        events: list[Event] = [understood]
        if sid and self.outcome.sid is None:
            self.outcome.sid = sid
            events.append(
                TaskInfo(self.outcome.task_id, self.outcome.sid, tuple(self.outcome.links))
            )
        return events

    def _fail(self, message: str, kind: Kind) -> list[Event]:
        if self.outcome.failure is None:
            self.outcome.failure = Failed(message, kind)
        self._state = "failed"
        return []  # the single terminal Failed comes from finish()


# ── Error bodies ──────────────────────────────────────────────────────────────────────────────


def error_text(error: object) -> str:
    """The relay's own words from an ``{"error": …}`` value (string or object), clean and at
    most ``MAX_TEXT`` characters."""
    if isinstance(error, str):
        return clean_text(error, MAX_TEXT)
    if isinstance(error, dict):
        for key in ("message", "message_zh", "msg", "detail"):
            if isinstance(error.get(key), str) and error[key].strip():
                return clean_text(error[key].strip(), MAX_TEXT)
        return clean_text(_as_text(error), 500)
    return clean_text(_as_text(error, as_json=False), 500)


def kind_of_error(error: object) -> Kind:
    text = error if isinstance(error, str) else _as_text(error)
    if POLICY_WORDS.search(text):
        return Kind.CONTENT_POLICY
    if OVERLOADED_WORDS.search(text):
        return Kind.OVERLOADED
    return Kind.RELAY


def _as_text(value: object, *, as_json: bool = True) -> str:
    try:
        return json.dumps(value, ensure_ascii=False) if as_json else str(value)
    except (TypeError, ValueError, RecursionError):  # not JSON-shaped: a caller's own object
        return "" if as_json is False else _as_text(value, as_json=False)


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
        choices = body.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") or choice.get("delta") or {}
            if isinstance(message, dict):
                events += parser.feed_chunk({"choices": [{"delta": message}]})
    events += parser.finish()
    return events, parser.outcome
