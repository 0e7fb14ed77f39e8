"""Server-sent events: bytes in, the ``data`` payload of each frame out.

Pure and incremental: feed network reads of any size, get complete payloads back. Follows the
WHATWG event-stream rules that matter for relays (docs/hostile-input.md, "SSE"), and holds up
against a relay that never ends a line or an event: memory is bounded by ``max_line`` and
``max_event``, and the work is linear in the bytes read, whatever their chunking.
"""

from __future__ import annotations

import re

MAX_LINE = 1024 * 1024
MAX_EVENT = 4 * 1024 * 1024

# Only these three end a line; U+2028, NEL and friends inside JSON do not. Read on bytes: the
# bytes \r and \n never occur inside a multi-byte UTF-8 character, so a character split across
# two reads is simply decoded with the rest of its line.
_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class StreamOverflow(ValueError):
    """The stream broke one of the decoder's bounds (a broken or hostile upstream). The
    decoder must not be fed again after it raised this."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} exceeded {limit} bytes (reached {size})")
        self.size = size
        self.limit = limit


class LineTooLong(StreamOverflow):
    """One line grew past ``max_line`` bytes without a line break."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__("an event line", size, limit)


class EventTooLarge(StreamOverflow):
    """The ``data`` of one event grew past ``max_event`` bytes without a blank line."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__("the data of one event", size, limit)


class SSEDecoder:
    """Split a byte stream into SSE ``data`` payloads.

    - Lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (a ``\\r`` at the end of one read may be the first
      half of ``\\r\\n``). Only these three are line breaks; U+2028 inside JSON is not.
    - ``data:`` with or without the space; comments (``: PING``), ``id:``, ``event:`` and
      ``retry:`` lines are dropped; several ``data`` lines of one frame are joined with ``\\n``.
    - Invalid UTF-8 becomes U+FFFD; a byte-order mark at the start of the stream is skipped.
    - ``max_line``: bytes of one line (without its line break); ``max_event``: bytes of the
      joined data of one event. One byte more raises :class:`LineTooLong` /
      :class:`EventTooLarge`, both :class:`StreamOverflow`.
    """

    def __init__(self, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self._max_line = max_line
        self._max_event = max_event
        self._line = bytearray()  # a line not yet ended: only appended to, never re-read
        self._data: list[str] = []
        self._data_size = 0
        self._cr_pending = False
        self._started = False

    def feed(self, chunk: bytes) -> list[str]:
        out: list[str] = []
        if not chunk:
            return out  # an empty read must not forget a \r that may be half of \r\n
        start = 0
        if self._cr_pending:
            self._cr_pending = False
            if chunk[:1] == b"\n":
                start = 1  # the second half of a \r\n split across reads
        for match in _EOL.finditer(chunk, start):
            piece = chunk[start : match.start()]
            if self._line:
                self._grow(piece)
                line = bytes(self._line)
                self._line.clear()
            elif len(piece) > self._max_line:
                raise LineTooLong(len(piece), self._max_line)
            else:
                line = piece
            self._take(line, out)
            start = match.end()
            if start == len(chunk) and match.group() == b"\r":
                self._cr_pending = True
        if start < len(chunk):
            self._grow(chunk[start:])
        return out

    def close(self) -> list[str]:
        """End of stream: dispatch what a missing final blank line left behind."""
        out: list[str] = []
        self._cr_pending = False
        if self._line:
            line = bytes(self._line)
            self._line.clear()
            self._take(line, out)
        self._dispatch(out)
        return out

    def _grow(self, piece: bytes) -> None:
        size = len(self._line) + len(piece)
        if size > self._max_line:
            raise LineTooLong(size, self._max_line)
        self._line += piece

    def _take(self, line: bytes, out: list[str]) -> None:
        if not self._started:
            self._started = True
            line = line.removeprefix(_BOM)
        if not line:
            self._dispatch(out)
            return
        if line[0] == 0x3A:  # ":" starts a comment (heartbeats)
            return
        name, _, value = line.partition(b":")
        if name != b"data":
            return  # id, event, retry and unknown fields carry nothing the app reads
        if value[:1] == b" ":
            value = value[1:]
        size = self._data_size + len(value) + (1 if self._data else 0)
        if size > self._max_event:
            raise EventTooLarge(size, self._max_event)
        self._data.append(value.decode("utf-8", "replace"))
        self._data_size = size

    def _dispatch(self, out: list[str]) -> None:
        if self._data:
            out.append("\n".join(self._data))
            self._data = []
            self._data_size = 0
