"""Server-sent events: bytes in, the ``data`` payload of each frame out.

Pure and incremental: feed network reads of any size, get complete payloads back. Follows the
WHATWG event-stream rules that matter for relays:
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import codecs


class SSEDecoder:
    """Split a byte stream into SSE ``data`` payloads.

    - A multi-byte UTF-8 character may be split across reads: an incremental decoder holds the
      partial bytes back.
    - Lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (a ``\\r`` at the end of one read may be the first
      half of ``\\r\\n``). Only these three are line breaks; U+2028 inside JSON is not.
    - ``data:`` with or without the space; comments (``: PING``), ``id:``, ``event:`` and
      ``retry:`` lines are dropped; several ``data`` lines of one frame are joined with ``\\n``.
    """

    def __init__(self, max_line: int = 16 * 1024 * 1024) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # text of a line not yet ended
        self._data: list[str] = []
        self._max_line = max_line
        self._cr_pending = False

    def feed(self, chunk: bytes) -> list[str]:
        return self._consume(self._utf8.decode(chunk))

    def close(self) -> list[str]:
        """End of stream: dispatch what a missing final blank line left behind."""
        out = self._consume(self._utf8.decode(b"", final=True))
        if self._pending:
            self._line(self._pending)
            self._pending = ""
        if self._data:
            out.append("\n".join(self._data))
            self._data = []
        return out

    def _consume(self, text: str) -> list[str]:
        out: list[str] = []
        if not text:
            return out  # an empty read must not forget a \r that may be half of \r\n
        if self._cr_pending and text.startswith("\n"):
            text = text[1:]  # the second half of a \r\n split across reads
        self._cr_pending = False
        buf = self._pending + text
        start = 0
        length = len(buf)
        while start < length:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 else cr if lf == -1 else min(cr, lf)
            if end - start > self._max_line:  # also when the line ends in the same read
                raise LineTooLong(end - start)
            line = buf[start:end]
            if buf[end] == "\r":
                if end + 1 < length:
                    start = end + 2 if buf[end + 1] == "\n" else end + 1
                else:
                    start = end + 1
                    self._cr_pending = True
            else:
                start = end + 1
            frame = self._line(line)
            if frame is not None:
                out.append(frame)
        self._pending = buf[start:]
        if len(self._pending) > self._max_line:
            raise LineTooLong(len(self._pending))
        return out

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            frame = "\n".join(self._data)
            self._data = []
            return frame
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


class LineTooLong(ValueError):
    """One SSE line grew past the decoder's bound (a broken or hostile upstream)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"an event line exceeded {size} characters")
        self.size = size
