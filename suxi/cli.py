"""Videos from the command line.

    python -m suxi "a prompt" [--image FILE_OR_HTTPS_URL] [--out DIR] [--model NAME]
                              [--format auto|chat|unified|openai] [--duration S]
                              [--orientation landscape|portrait|square] [--size SIZE]
                              [--no-stream] [--max-tokens N]
    python -m suxi --batch prompts.txt --out DIR [same options]

Configuration comes from the environment and ``.env`` in the current directory, like the app
(``SUXI_API_KEY``, ``SUXI_BASE_URL``, ``SUXI_MODEL``, ``SUXI_FORMAT``, timeouts). Without a key
the built-in simulated relay plays an offline demo.

One prompt: only the saved video's path goes to stdout (``video=$(python -m suxi "…")``).
A batch (a .txt with one prompt per line, or a .csv's first column under an optional "prompt"
header; UTF-8, UTF-16 or GBK): one tab-separated line per prompt on stdout, in order
(``ok<TAB>path<TAB>prompt`` or ``failed<TAB>reason<TAB>prompt``; line breaks inside a field become
spaces), then a summary on stderr ("11 of 12 made, 1 failed").
Progress and every message go to stderr: one updating line on a terminal, plain lines when piped;
the key is masked everywhere. A failure names the relay's task id when it gave one.

Exit codes: 0 every video was saved; 1 the relay or the connection failed for at least one
(nothing saved for it); 2 bad input (arguments, prompt, picture, configuration; nothing was
sent); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import conversation, images
from .cli_report import HIDDEN, Reporter
from .errors import InputError, SuxiError
from .events import Event, Failed, Generating, Progress, Queued, TaskInfo, Understood, VideoReady
from .generation import GenerationOptions, GenerationRequest, StartImage, check_prompt, options_from
from .kinds import Kind
from .pipeline import make_video
from .relay import routes_for
from .relay.fetch import Download
from .relay.http import check_key
from .runtime import DEMO_KEY, Runtime
from .settings import Settings, SettingsError, load_settings
from .texts import explain
from .ui.batchfile import prompts_from

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
SLUG_CHARS = 40
LINE_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # tab + splitlines breaks
__all__ = ["DEMO_KEY", "HIDDEN", "Reporter", "describe", "main", "slug"]


def describe(kind: str, relay_text: str = "", **values: object) -> str:
    """The English sentence for a kind, with the relay's own words."""
    return explain(kind, "en", relay_text, **values)


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
        if not path.exists() and not _part(path).exists():
            return path


class TerminalSink:
    """The pipeline's sink for one prompt: progress to the reporter, the video to ``dest``."""

    def __init__(self, reporter: Reporter, dest: Path) -> None:
        self.reporter = reporter
        self.dest = dest
        self.failure: Failed | None = None
        self.task_id: str | None = None
        self.saved: Download | None = None

    async def on_event(self, event: Event, route: str) -> None:
        r = self.reporter
        match event:
            case Queued(position=position):
                r.update("queued" if position is None else f"queued (#{position})")
            case Generating():
                r.update("generating")
            case Progress(percent=percent):
                r.update("generating", percent)
            case TaskInfo(task_id=task_id, sid=sid):
                if task_id and task_id != self.task_id:
                    self.task_id = task_id
                    r.note(f"task id: {task_id} ({route})")
                if sid:
                    r.note(f"sid (to change this video later): {sid}")
            case Understood():
                r.note(understood_text(event))
            case VideoReady(url=url):
                r.note(f"video ready: {url}")
                r.update("downloading")
            case Failed():
                self.failure = event

    def video_path(self) -> Path:
        return self.dest

    def thumbnail_path(self) -> Path:
        return self.dest.with_suffix(".thumbnail")

    async def on_video(self, video: Download, thumbnail: Path | None) -> None:
        self.saved = video
        if thumbnail is not None:
            thumbnail.unlink(missing_ok=True)  # the command line keeps the video only

    def clean_up(self) -> None:
        """Remove what an unfinished or interrupted download left: only a saved video stays."""
        thumbnail = self.thumbnail_path()
        for leftover in (_part(self.dest), thumbnail, _part(thumbnail)):
            leftover.unlink(missing_ok=True)


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")  # where fetch_file writes until the file is whole


def understood_text(event: Understood) -> str:
    parts = []
    if event.prompt:
        parts.append(f"prompt “{event.prompt}”")
    if event.orientation:
        parts.append(f"orientation {event.orientation}")
    if event.duration:
        parts.append(f"duration {event.duration} s")
    if event.width and event.height:
        parts.append(f"size {event.width}×{event.height}")
    return "the relay understood: " + (", ".join(parts) or "(nothing)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m suxi",
        description="Make videos with the relay and save them. Only saved paths go to stdout; "
        "progress and messages go to stderr.",
        epilog="Settings come from the environment or .env (SUXI_API_KEY, SUXI_BASE_URL, "
        "SUXI_MODEL, SUXI_FORMAT, …); without SUXI_API_KEY an offline demo runs. Exit codes: "
        "0 saved, 1 relay or connection failure, 2 bad input, 130 interrupted.",
    )
    p.add_argument("prompt", nargs="?", help="the description of the video")
    p.add_argument(
        "--batch", type=Path, metavar="FILE", help="a .txt (one prompt per line) or .csv"
    )
    p.add_argument("--image", metavar="FILE_OR_HTTPS_URL", help="a starting picture")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="where to save")
    p.add_argument("--model", metavar="NAME", help="model name (default: SUXI_MODEL)")
    p.add_argument("--format", choices=("auto", "chat", "unified", "openai"), help="how to ask")
    p.add_argument("--duration", metavar="S", default="auto", help="seconds, as the model takes")
    p.add_argument("--orientation", default="auto", help="landscape, portrait or square")
    p.add_argument("--size", default="auto", help="a size the model takes (small, large, 720p…)")
    p.add_argument("--no-stream", action="store_true", help="chat format: one reply at the end")
    p.add_argument("--max-tokens", type=int, default=1000, metavar="N", help="chat format only")
    return p


class _Usage(Exception):
    """A bad argument found after argparse: printed as it is (after the usage line when
    ``usage``), exit code 2."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Inputs:
    """Everything the arguments asked for, checked before anything is sent."""

    options: GenerationOptions
    prompts: tuple[str, ...]
    image: StartImage | None
    out_dir: Path
    batch: bool


def _picture(value: str | None) -> StartImage | None:
    if value is None:
        return None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        return StartImage(link=images.check_image_url(value))  # a URL, not a Windows drive
    return StartImage(data_url=images.prepare_image(Path(value).expanduser()))


def _out_dir(path: Path) -> Path:
    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _Usage(f"cannot use --out {path}: {err.strerror or err}") from err
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise _Usage(f"cannot write to --out {path}")
    return path


def _prompts(args: argparse.Namespace, settings: Settings) -> list[str]:
    if args.batch is None:
        return [args.prompt]
    if not args.batch.is_file():
        raise _Usage(f"no such file: {args.batch}")
    if not os.access(args.batch, os.R_OK):
        raise _Usage(f"cannot read {args.batch}")
    return prompts_from(
        "", str(args.batch), settings.max_batch, prompt_limit=settings.max_prompt_chars
    )


def _inputs(args: argparse.Namespace, settings: Settings) -> Inputs:
    if (args.prompt is None) == (args.batch is None):
        raise _Usage("give one prompt, or --batch FILE (not both)", usage=True)
    options = options_from(
        model=args.model or "",
        default_model=settings.model,
        format=args.format or settings.format,
        orientation=args.orientation,
        duration=args.duration,
        size=args.size,
        max_tokens=args.max_tokens,
        stream=not args.no_stream,
    )
    prompts = tuple(check_prompt(p, settings.max_prompt_chars) for p in _prompts(args, settings))
    image = _picture(args.image)
    return Inputs(options, prompts, image, _out_dir(args.out), args.batch is not None)


def _input_sentence(error: InputError, image: str | None) -> str:
    values = dict(error.values)
    if error.kind == Kind.IMAGE_TOO_LARGE:
        values.setdefault("mb", images.MAX_INPUT_BYTES // (1024 * 1024))
    detail = f" ({image})" if str(error.kind).startswith("image") else ""
    return describe(error.kind, error.relay_text, **values) + detail


def _picture_note(image: StartImage) -> str:
    if image.link:
        return f"starting frame: {image.link}"
    head, _, body = (image.data_url or "").partition(",")
    size = len(body) * 3 // 4  # base64: four characters carry three bytes
    return f"starting frame: {head[5:].split(';')[0]}, {size // 1024} KB"


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # Chinese prompts on a non-UTF-8 console
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or --help)
        return exit_.code if isinstance(exit_.code, int) else EXIT_INPUT
    sent = [False]
    try:
        return _main(parser, args, sent)
    except KeyboardInterrupt:
        note = (
            "interrupted. The relay may still charge for a generation it had already started."
            if sent[0]
            else "interrupted; nothing was sent."
        )
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"\n{note}\n")
            sys.stderr.flush()
        return EXIT_INTERRUPTED


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace, sent: list[bool]) -> int:
    err = sys.stderr
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=err)
        return EXIT_INPUT
    reporter = Reporter(err, tty=_isatty(err), secret=settings.api_key)
    try:
        if settings.api_key:
            check_key(settings.api_key)
        inputs = _inputs(args, settings)
    except InputError as error:
        reporter.note(f"error: {_input_sentence(error, args.image)}")
        return EXIT_INPUT
    except _Usage as error:
        if error.usage:
            parser.print_usage(err)
        reporter.note(f"error: {error}")
        return EXIT_INPUT
    runtime = Runtime(settings).open_relays()
    try:
        if settings.demo:
            reporter.note("offline demo: no SUXI_API_KEY is set, so a simulated relay answers")
        if inputs.image is not None:
            reporter.note(_picture_note(inputs.image))
        return asyncio.run(_run_all(runtime, inputs, reporter, sent))
    finally:
        runtime.close_relays()


def _output_line(*fields: str) -> str:
    """One line of stdout: tab-separated fields with no tab or line break inside one (a CSV
    prompt may span lines)."""
    return "\t".join(LINE_BREAKS.sub(" ", f) for f in fields)


async def _run_all(runtime: Runtime, inputs: Inputs, reporter: Reporter, sent: list[bool]) -> int:
    total, failures, done = len(inputs.prompts), 0, 0
    try:
        for number, prompt in enumerate(inputs.prompts, 1):
            if inputs.batch:
                reporter.note(f"[{number}/{total}] {_output_line(prompt)}")
            sink = TerminalSink(reporter, destination(inputs.out_dir, prompt))
            reason = await _one(runtime, inputs, prompt, sink, reporter, sent)
            if reason is None and sink.saved is not None:
                path = os.path.abspath(sink.saved.path)
                line = _output_line("ok", path, prompt) if inputs.batch else path
            else:
                failures += 1
                line = _output_line("failed", reason or "", prompt) if inputs.batch else ""
            if line:
                print(reporter.mask(line), flush=True)
            done += 1
    except asyncio.CancelledError:  # Ctrl-C: say how far the batch came, then stop
        if inputs.batch:
            made = done - failures
            reporter.note(f"{made} of {total} made, {failures} failed, {total - done} not finished")
        raise
    finally:
        await runtime.aclose_relays()
    if inputs.batch:
        reporter.note(f"{total - failures} of {total} made, {failures} failed")
    return EXIT_OK if failures == 0 else EXIT_FAILED


async def _one(
    runtime: Runtime,
    inputs: Inputs,
    prompt: str,
    sink: TerminalSink,
    reporter: Reporter,
    sent: list[bool],
) -> str | None:
    """Make one video; None when it was saved, else the reason (already reported)."""
    options = inputs.options
    choice = runtime.key_for(None)
    image = inputs.image
    request = GenerationRequest(
        prompt=prompt,
        options=options,
        image=image,
        messages=conversation.first_messages(prompt, options, image.url if image else None),
    )
    routes = routes_for(options)
    reporter.begin()
    ticker = asyncio.create_task(reporter.tick()) if reporter.tty else None
    try:
        reporter.note(
            f"sending to {choice.relay.origin} (model {options.model}, {' → '.join(routes)})"
        )
        reporter.update("sending")
        sent[0] = True
        await make_video(
            choice.relay.backends,
            request,
            choice.key,
            sink,
            routes=routes,
            deadline=time.time() + runtime.configured.total_timeout,
        )
        if sink.saved is None:
            failure = sink.failure or Failed("", Kind.NO_VIDEO)
            return _failed(reporter, sink, describe(failure.kind, failure.message))
        reporter.update("done", 100.0)
        reporter.stop()
        took = reporter.clock() - reporter.started
        reporter.note(
            f"saved {sink.saved.size / 1_000_000:.1f} MB in {int(took) // 60}:{int(took) % 60:02d}"
        )
        return None
    except SuxiError as error:
        values = {"retry_after": error.retry_after or "", **error.values}
        return _failed(reporter, sink, describe(error.kind, error.relay_text, **values))
    finally:
        if ticker is not None:
            ticker.cancel()
        sink.clean_up()


def _failed(reporter: Reporter, sink: TerminalSink, sentence: str) -> str:
    reporter.update("failed")
    reporter.stop()
    reporter.note(f"error: {sentence}")
    if sink.task_id:
        reporter.note(
            f"the relay's task id was {sink.task_id}; quote it if you ask the relay about it"
        )
        return f"{sentence} (task id {sink.task_id})"
    return sentence


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
