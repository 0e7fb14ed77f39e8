"""What the command line shows on standard error: one live line on a terminal, plain lines
when piped, the key always masked."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from typing import TextIO

BAR_WIDTH = 20
TICK = 0.5  # seconds between redraws of the terminal line (the elapsed time moves)
HIDDEN = "[key hidden]"


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class Reporter:
    """Everything but the saved path goes through here, to stderr, with the key masked.

    On a terminal the state is one line redrawn in place with ``\\r``; piped, each change is a
    plain line of its own.
    """

    def __init__(self, stream: TextIO, *, tty: bool, secret: str = "", clock=time.monotonic):
        self.stream = stream
        self.tty = tty
        self.secret = secret
        self.clock = clock
        self.started = clock()
        self.state = "sending"
        self.percent: float | None = None
        self._shown = 0  # characters of the live line currently on screen
        self._live = False  # a live line exists once the first state was shown, until stop()
        self._last_plain: tuple[str, float | None] | None = None

    def begin(self) -> None:
        """A new generation: its clock starts now and nothing of the previous one is kept."""
        self.started = self.clock()
        self.state = "sending"
        self.percent = None
        self._last_plain = None

    def mask(self, text: str) -> str:
        return text.replace(self.secret, HIDDEN) if len(self.secret) >= 4 else text

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(self.mask(text))
            self.stream.flush()

    def line(self) -> str:
        time_text = elapsed(self.clock() - self.started)
        if self.percent is None:
            return f"[{'.' * BAR_WIDTH}]  --%  {self.state}  {time_text}"
        filled = round(BAR_WIDTH * min(max(self.percent, 0.0), 100.0) / 100)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"[{bar}] {self.percent:3.0f}%  {self.state}  {time_text}"

    def redraw(self) -> None:
        if not self.tty or not self._live:
            return
        width = max(shutil.get_terminal_size((80, 24)).columns - 1, 20)
        text = self.line()[:width]  # a wrapped line could not be redrawn with \r
        self._write("\r" + text + " " * max(self._shown - len(text), 0))
        self._shown = len(text)

    def _clear(self) -> None:
        if self.tty and self._shown:
            self._write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def update(self, state: str, percent: float | None = None) -> None:
        self._live = True
        self.state = state
        if percent is not None:
            self.percent = percent
        if self.tty:
            self.redraw()
            return
        key = (self.state, self.percent)
        if key != self._last_plain:
            self._last_plain = key
            shown = self.percent is not None and self.state in ("generating", "done")
            pct = f" {self.percent:.0f}%" if shown else ""
            self._write(f"[{elapsed(self.clock() - self.started)}] {self.state}{pct}\n")

    def note(self, text: str) -> None:
        """A message line; on a terminal the live line is cleared first and drawn again after."""
        self._clear()
        self._write(text + "\n")
        self.redraw()

    def stop(self) -> None:
        """Leave the live line on screen and move below it."""
        if self.tty and self._shown:
            self.redraw()
            self._write("\n")
            self._shown = 0
        self._live = False

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.redraw()
