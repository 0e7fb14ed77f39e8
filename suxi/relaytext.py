"""Reading the relay's free text: the patterns, one line made readable, the unfinished line,
and the fenced JSON echo. Pure and stateless apart from the two small readers; the state machine
that turns all this into events is :mod:`suxi.parse`.

Every pattern here is bounded or cannot backtrack, so no line costs more than linear time, and
the unfinished line is searched only where it grew (docs/hostile-input.md, "Chat stream").
"""

from __future__ import annotations

import re

from .events import Understood
from .textsafe import clean_text, loads_json

MAX_PENDING = 64 * 1024  # one unfinished line: beyond it the line is cut
MAX_FENCE = 64 * 1024  # the fenced JSON echo
MAX_TEXT = 2000  # a Line, a failure message
MAX_PROMPT = 8000
WINDOW = 64  # characters of the unfinished line kept to find a number cut across chunks
WORD_OVERLAP = 24  # the longest word searched, minus one ("Generation Process Begins")
HEAD = 256  # characters of the unfinished line kept for the texts of state events

# ── Patterns ──────────────────────────────────────────────────────────────────────────────────

# A percentage is only read once it is complete: "36.0%" / "47%" (families B, C) or "36.."
# (family A writes bare numbers followed by two dots). "3" of a "36" still in flight never counts.
PERCENT = re.compile(r"(?<![0-9A-Za-z_])(?<!\d\.)(\d{1,3}(?:\.\d{1,4})?)[ \t]{0,3}(?:%|\.\.)")
PROGRESS_WORDS = re.compile(r"进度|progress", re.IGNORECASE)
STATE_WORDS = re.compile(
    r"(?P<queued>排队|队列|queued|pending|in queue|Generation Process Begins)"
    r"|(?P<generating>生成中|正在生成|running|processing|in_progress|generating)",
    re.IGNORECASE,
)
POSITION = re.compile(
    r"(?:前面还有|前方还有|前面有|排在第)\s{0,3}(\d{1,6})"
    r"|(?:position in (?:the )?queue|queue position|队列位置|排队位置)"
    r"\s{0,3}[:：#]?\s{0,3}(\d{1,6})",
    re.IGNORECASE,
)
FAILURE_WORDS = re.compile(r"❌|错误|生成失败|failed|Content Policy Violation", re.IGNORECASE)
POLICY_WORDS = re.compile(
    r"content policy|policy violation|sentinel_block|moderation_blocked|违规|审核", re.I
)
OVERLOADED_WORDS = re.compile(r"under heavy load", re.IGNORECASE)

TASK_ID = re.compile(r"\bID[ \t]{0,3}[:：][ \t]{0,3}`?([A-Za-z0-9][A-Za-z0-9_:-]{5,200})`?", re.I)
BARE_TASK = re.compile(r"\b(task_[0-9a-z]{10,200})\b")
SID = re.compile(r"\bsid[ \t]{0,3}[:：][ \t]{0,3}`?(s_[0-9A-Za-z]{1,200})`?", re.IGNORECASE)

MD_IMAGE = re.compile(r"!\[[^\[\]\n]{0,512}\]\(([^\s()]{1,4096})\)")
MD_LINK = re.compile(r"(?<!!)\[([^\[\]\n]{0,512})\]\(([^\s()]{1,4096})\)")
VIDEO_SRC = re.compile(
    r"<video\b[^<>]{0,1024}?\bsrc\s{0,3}=\s{0,3}['\"]([^'\"<>]{1,4096})['\"]", re.IGNORECASE
)
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
QUOTE_MARKS = re.compile(r"^(?:>\s*)+")
JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')  # JSON strings never span lines
SIZE = re.compile(r"\s*(\d{2,5})\s*[x×X*]\s*(\d{2,5})\s*")
SECONDS = re.compile(r"\s*(\d{1,4})\s*(?:s|sec|secs|seconds|秒)?\s*", re.IGNORECASE)


def clean_line(line: str) -> str:
    """A relay line as a person should read it: no quote marks, bold stars, backticks, link
    targets or trailing dots (the page shows the video itself, not its link)."""
    text = QUOTE_MARKS.sub("", line.strip())
    text = MD_IMAGE.sub("", text)
    text = MD_LINK.sub(lambda m: m.group(1), text)
    text = text.replace("**", "").replace("`", "")
    return clean_text(strip_dots(text).strip(), MAX_TEXT)


def strip_dots(text: str) -> str:
    """Drop a trailing run of 3+ dots (spaces allowed between) or a final "..". A loop, not a
    regex: ``(?:\\s*\\.){3,}$`` is quadratic on a long run of dots that does not end the line."""
    end = len(text)
    while end and (text[end - 1] == "." or text[end - 1].isspace()):
        end -= 1
    if text.count(".", end) >= 3:
        return text[:end]
    return text[:-2] if text.endswith("..") else text


def is_video_candidate(url: str) -> bool:
    return not STATUS_PAGE.search(url) and not IMAGE_EXT.search(url)


def progress_text(head: str, end: int, token: str) -> str:
    """The line up to the number, so that it does not depend on where the chunks were cut; a
    long line keeps its start and the number."""
    if end <= HEAD:
        return clean_line(THINK_TAG.sub("", head[:end]))
    return clean_line(f"{THINK_TAG.sub('', head[: HEAD // 4])} … {token}")


def queue_position(text: str) -> int | None:
    match = POSITION.search(text)
    return int(match.group(1) or match.group(2)) if match else None


# ── The unfinished line ───────────────────────────────────────────────────────────────────


class LineReader:
    """Text of one delta field (content or reasoning), cut into lines as it arrives. The
    unfinished line is never re-read: only its newest text plus a small overlap is searched,
    and what was found is kept in flags."""

    def __init__(self) -> None:
        self.last_line = ""  # the last non-empty complete line
        self._reset()

    def _reset(self) -> None:
        self._parts: list[str] = []
        self.size = 0
        self.head = ""
        self.tail = ""
        self.window = ""  # the overlap plus the newest text; "" when no line is unfinished
        self.window_start = 0  # offset of ``window`` in the line
        self.read_to = 0  # end offset of the last percentage already read in this line
        self.progress_words = False
        self.failure_words = False
        self.state: str | None = None
        self._position: int | None = None
        self._position_read = 0

    def add(self, text: str) -> list[str]:
        done: list[str] = []
        start = 0
        while (newline := text.find("\n", start)) >= 0:
            done.append(self._end(text[start:newline]))
            start = newline + 1
        rest = text[start:]
        self.window = ""
        while len(rest) > MAX_PENDING - self.size:  # an endless line is cut into lines
            cut = MAX_PENDING - self.size
            done.append(self._end(rest[:cut]))
            rest = rest[cut:]
        if rest:
            self._grow(rest)
        return done

    def flush(self) -> str | None:
        return self._end("") if self.size else None

    def _end(self, last: str) -> str:
        line = "".join(self._parts) + last
        self._reset()
        if line.strip():
            self.last_line = line
        return line

    def _grow(self, text: str) -> None:
        self.window = self.tail + text
        self.window_start = self.size - len(self.tail)
        self._parts.append(text)
        self.size += len(text)
        if len(self.head) < HEAD:
            self.head = (self.head + text)[:HEAD]
        self.tail = self.window[-WINDOW:]
        # A word completed by this text lies within the text plus the longest word's length.
        words = self.window[-(len(text) + WORD_OVERLAP) :]
        self.progress_words = self.progress_words or bool(PROGRESS_WORDS.search(words))
        self.failure_words = self.failure_words or bool(FAILURE_WORDS.search(words))
        if self.state is None and (match := STATE_WORDS.search(words)):
            self.state = match.lastgroup

    @property
    def position(self) -> int | None:
        """The queue position the line's start names, read again only when the start grew."""
        if self._position_read != len(self.head):
            self._position_read = len(self.head)
            self._position = queue_position(self.head)
        return self._position


# ── The fenced JSON echo ──────────────────────────────────────────────────────────────────────


class JsonEcho:
    """The lines of a fenced json block being read, with the bracket depth outside strings so
    that a block whose closing fence never comes ends with its JSON value."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._size = 0
        self._depth = 0
        self._started = False

    @property
    def complete(self) -> bool:
        return self._started and self._depth <= 0

    def add(self, raw: str) -> None:
        self._size += len(raw) + 1
        if self._size <= MAX_FENCE:  # a bigger echo is dropped whole by value()
            self._lines.append(raw)
        outside = JSON_STRING.sub("", raw)
        self._depth += outside.count("{") + outside.count("[")
        self._depth -= outside.count("}") + outside.count("]")
        self._started = self._started or bool(outside.strip())

    def value(self) -> dict | None:
        if self._size > MAX_FENCE:
            return None
        data = loads_json("\n".join(self._lines), max_bytes=MAX_FENCE)
        return data if isinstance(data, dict) else None


def read_echo(data: dict) -> tuple[Understood, str | None]:
    """What the relay says it made of the prompt, and the sid an echo may carry. Each field is
    taken only when it is sane; an odd one is left out, never fatal."""
    width, height = _size_of(data)
    prompt = data.get("prompt")
    understood = Understood(
        prompt=clean_text(prompt, MAX_PROMPT) if isinstance(prompt, str) else None,
        orientation=_short(data.get("orientation"), 40) or _short(data.get("mode"), 40),
        duration=_sane_int(data.get("duration"), 1, 600),
        width=width,
        height=height,
        raw=data,
    )
    sid = _short(data.get("sid"), 128)
    return understood, sid if sid and not any(c.isspace() for c in sid) else None


def text_of(part: dict, key: str) -> str:
    """A delta's text field: a string, or a list of ``{"type": "text", "text": …}`` parts."""
    value = part.get(key)
    if isinstance(value, list):
        texts = (p.get("text") if isinstance(p, dict) else p for p in value)
        value = "".join(t for t in texts if isinstance(t, str))
    return clean_text(value) if isinstance(value, str) else ""


def _short(value: object, limit: int) -> str | None:
    """A string field that is not empty and not absurdly long; anything else is ignored."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return clean_text(value.strip())


def _sane_int(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and (m := SECONDS.fullmatch(value)):
        value = int(m.group(1))
    return value if isinstance(value, int) and low <= value <= high else None


def _size_of(data: dict) -> tuple[int | None, int | None]:
    size = data.get("size")
    if isinstance(size, str) and (m := SIZE.fullmatch(size)):
        width, height = _pixels(int(m.group(1))), _pixels(int(m.group(2)))
        if width and height:
            return width, height
    width, height = _pixels(data.get("width")), _pixels(data.get("height"))
    return (width, height) if width and height else (None, None)


def _pixels(value: object) -> int | None:
    return _sane_int(value, 16, 8192)
