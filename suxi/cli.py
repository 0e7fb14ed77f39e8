"""One generation from the command line.

    python -m suxi "a prompt" [--image FILE_OR_HTTPS_URL] [--no-stream] [--out DIR]
                              [--max-tokens N] [--model NAME]

Configuration comes from the environment and ``.env`` in the current directory, like the app
(``SUXI_API_KEY``, ``SUXI_BASE_URL``, ``SUXI_MODEL``, timeouts). Without a key the built-in
simulated relay plays an offline demo.

Only the saved video's path goes to stdout; progress, what the relay understood and every
message go to stderr, so ``video=$(python -m suxi "…")`` works. On a terminal progress is one
updating line; when stderr is piped it is plain lines, one per change.

Exit codes: 0 a video was saved; 1 the relay or the connection failed (nothing saved); 2 bad
input (arguments, prompt, picture, configuration; nothing was sent); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import images, messages
from .client import RelayClient, check_key, user_message
from .errors import InputError, RateLimitError, SuxiError
from .events import (
    FAIL_NO_VIDEO,
    Failed,
    Generating,
    Progress,
    Queued,
    TaskInfo,
    Understood,
    VideoReady,
)
from .jobs import validate
from .parse import RelayStreamParser
from .runtime import DEMO_KEY
from .settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_MAX_TOKENS = 1000
SLUG_CHARS = 40
BAR_WIDTH = 20
TICK = 0.5  # seconds between redraws of the terminal line (the elapsed time moves)
HIDDEN = "[key hidden]"


# ------------------------------------------------------------------------------ vocabulary


def describe(kind: str, relay_text: str = "", **values: object) -> str:
    """The English sentence for an error kind, with the relay's own words."""
    return messages.explain(kind, "en", relay_text, **values)


def slug(prompt: str, limit: int = SLUG_CHARS) -> str:
    """A file-name-safe piece of the prompt: letters and digits of any script, joined by '-'."""
    text = unicodedata.normalize("NFKC", prompt).lower()
    text = re.sub(r"[\W_]+", "-", text).strip("-")[:limit].rstrip("-")
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)  # the path is printed on stdout: keep it printable there
    except (UnicodeEncodeError, LookupError):
        text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text or "video"


def destination(out_dir: Path, prompt: str) -> Path:
    base = slug(prompt)
    while True:
        path = out_dir / f"{base}-{secrets.token_hex(3)}.mp4"
        if not path.exists() and not path.with_name(path.name + ".part").exists():
            return path


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def understood_text(event: Understood) -> str:
    parts = []
    if event.prompt:
        parts.append(f"prompt “{event.prompt}”")
    if event.orientation:
        parts.append(f"orientation {event.orientation}")
    if event.duration:
        parts.append(f"duration {event.duration} s")
    for key, value in event.raw.items():
        if key not in ("prompt", "orientation", "mode", "duration") and value not in (None, ""):
            parts.append(f"{key} {value}")
    return "the relay understood: " + (", ".join(parts) or "(nothing)")


# --------------------------------------------------------------------------------- display


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


# ---------------------------------------------------------------------------------- running


@dataclass
class Request:
    prompt: str
    max_tokens: int
    stream: bool
    model: str | None
    image: str | None
    out_dir: Path


@dataclass
class Status:
    sent: bool = False  # the request may have reached the relay (it may charge)
    part: Path | None = None  # a partial download to remove if we stop early


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m suxi",
        description="Make one video with the relay and save it. Only the saved file's path is "
        "printed on stdout; progress and messages go to stderr.",
        epilog="Settings come from the environment or .env (SUXI_API_KEY, SUXI_BASE_URL, "
        "SUXI_MODEL, …); without SUXI_API_KEY an offline demo runs. Exit codes: 0 saved, "
        "1 relay or connection failure, 2 bad input, 130 interrupted.",
    )
    parser.add_argument("prompt", help="the description of the video")
    parser.add_argument(
        "--image",
        metavar="FILE_OR_HTTPS_URL",
        help="a starting frame: a JPEG, PNG, WebP, GIF or BMP file (sent inline, made smaller "
        "if needed) or an https:// address the relay fetches",
    )
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="ask for one reply at the end (no progress; proxies often cut such requests)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder to save the video in (default: the current folder)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"max_tokens sent to the relay (default {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--model", metavar="NAME", help="model name (default: SUXI_MODEL or sora-2)"
    )
    return parser


def _image(value: str | None) -> str | None:
    if value is None:
        return None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        return images.check_image_url(value)  # a URL (but not a Windows drive letter)
    return images.prepare_image(Path(value).expanduser())


def _out_dir(path: Path) -> Path:
    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _Usage(f"cannot use --out {path}: {err.strerror or err}") from err
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise _Usage(f"cannot write to --out {path}")
    return path


class _Usage(Exception):
    """A bad argument found after argparse: printed as it is, exit code 2."""


def _request(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings):
    prompt, max_tokens = validate(settings, args.prompt, args.max_tokens)
    model = args.model
    if model is not None and (
        not model or len(model) > 200 or not model.isprintable() or " " in model
    ):
        parser.error("--model must be a model name without spaces")
    image = _image(args.image)
    out_dir = _out_dir(args.out)  # created only once everything else is known to be good
    return Request(prompt, max_tokens, not args.no_stream, model, image, out_dir)


def main(argv: list[str] | None = None) -> int:
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.reconfigure(errors="replace")  # a relay's Chinese on a non-UTF-8 console
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or --help)
        return exit_.code if isinstance(exit_.code, int) else EXIT_INPUT
    err = sys.stderr
    status = Status()
    relay = None
    try:
        try:
            settings = load_settings()
        except ValueError as error:
            print(f"error: {error}", file=err)
            return EXIT_INPUT
        reporter = Reporter(err, tty=_isatty(err), secret=settings.api_key)
        try:
            if settings.api_key:
                check_key(settings.api_key)
            request = _request(parser, args, settings)
        except InputError as error:
            detail = f" ({args.image})" if error.kind.startswith("image") else ""
            reporter.note(f"error: {describe(error.kind, **error.values)}{detail}")
            return EXIT_INPUT
        except _Usage as error:
            reporter.note(f"error: {error}")
            return EXIT_INPUT
        except SystemExit as exit_:  # parser.error() above
            return exit_.code if isinstance(exit_.code, int) else EXIT_INPUT
        api_key = settings.api_key
        if settings.demo:
            from .simrelay import SimRelay

            relay = SimRelay(speed=settings.demo_speed).start()
            settings = settings.with_(base_url=relay.base_url)
            api_key = DEMO_KEY
            reporter.note("offline demo: no SUXI_API_KEY is set, so a simulated relay answers")
        if request.image and request.image.startswith("data:"):
            mime = request.image[5 : request.image.index(";")]
            size = (len(request.image) - request.image.index(",") - 1) * 3 // 4
            reporter.note(f"starting frame: {mime}, {size / 1000:.0f} kB")
        return asyncio.run(_generate(settings, api_key, request, reporter, status))
    except KeyboardInterrupt:
        if status.part is not None:
            status.part.unlink(missing_ok=True)
        note = (
            "interrupted. The relay may still charge for a generation it had already started."
            if status.sent
            else "interrupted; nothing was sent."
        )
        with contextlib.suppress(OSError, ValueError):
            err.write(f"\n{note}\n")
            err.flush()
        return EXIT_INTERRUPTED
    finally:
        if relay is not None:
            relay.stop()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


async def _generate(
    settings: Settings, api_key: str, request: Request, reporter: Reporter, status: Status
) -> int:
    client = RelayClient(settings)
    parser = RelayStreamParser()
    dest = destination(request.out_dir, request.prompt)
    status.part = dest.with_name(dest.name + ".part")
    ticker = asyncio.create_task(reporter.tick()) if reporter.tty else None
    download: asyncio.Task | None = None
    failure: Failed | None = None
    task_id: str | None = None
    sid: str | None = None
    try:
        model = request.model or settings.model
        reporter.note(f"sending to {settings.relay_host or settings.base_url} (model {model})")
        if not request.stream:
            reporter.note("no streaming: nothing to show until the relay answers (minutes)")
        reporter.update("sending")
        status.sent = True
        events = client.generate(
            [user_message(request.prompt, request.image)],
            api_key=api_key,
            max_tokens=request.max_tokens,
            stream=request.stream,
            model=request.model,
            parser=parser,
        )
        try:
            async for event in events:
                match event:
                    case Queued():
                        reporter.update("queued")
                    case Generating():
                        reporter.update("generating")
                    case Progress(percent=percent):
                        reporter.update("generating", percent)
                    case TaskInfo():
                        if event.task_id and event.task_id != task_id:
                            task_id = event.task_id
                            reporter.note(f"task id: {task_id}")
                        if event.sid and event.sid != sid:
                            sid = event.sid
                            reporter.note(f"sid (to modify this video later): {sid}")
                    case Understood():
                        reporter.note(understood_text(event))
                    case VideoReady(url=url) if download is None:
                        reporter.note(f"video ready: {url}")
                        reporter.update("downloading")
                        download = asyncio.create_task(client.download(url, dest))
                    case Failed():
                        failure = failure or event
        except SuxiError:
            if download is None:
                raise
            # The video URL is known: the download decides, whatever broke afterwards.
        if download is None:
            failure = failure or Failed("", FAIL_NO_VIDEO)
            reporter.update("failed")
            reporter.stop()
            reporter.note(f"error: {describe(failure.kind, failure.message)}")
            _hint(reporter, task_id or parser.outcome.task_id)
            return EXIT_FAILED
        result = await download
        status.part = None
        reporter.update("done", 100.0)
        reporter.stop()
        took = elapsed(reporter.clock() - reporter.started)
        reporter.note(f"saved {result.size / 1_000_000:.1f} MB in {took}")
        print(os.path.abspath(result.path), flush=True)
        return EXIT_OK
    except InputError as error:
        reporter.stop()
        reporter.note(f"error: {describe(error.kind, error.relay_text, **error.values)}")
        return EXIT_INPUT
    except SuxiError as error:
        reporter.update("failed")
        reporter.stop()
        values = {"retry_after": error.retry_after} if isinstance(error, RateLimitError) else {}
        reporter.note(f"error: {describe(error.kind, error.relay_text, **values)}")
        _hint(reporter, task_id or parser.outcome.task_id)
        return EXIT_FAILED
    finally:
        if ticker is not None:
            ticker.cancel()
        if download is not None and not download.done():
            download.cancel()
            with contextlib.suppress(BaseException):
                await download
        await client.aclose()
        if status.part is not None:
            status.part.unlink(missing_ok=True)


def _hint(reporter: Reporter, task_id: str | None) -> None:
    if task_id:
        reporter.note(f"the relay's task id was {task_id}; quote it if you ask the relay about it")
