"""The simulated relay in its own process, playing a benchmark's script, with a log of when
things happened on its side (``bench/procs.py`` starts it; it prints ``READY <url>``). From the
repository's root:

    python -m bench.relay_proc --chat progress --seconds 20 --every 1
    python -m bench.relay_proc --chat silent --seconds 150
    python -m bench.relay_proc --task-seconds 600 --log-requests [--close]
    python -m bench.relay_proc --file big.mp4=/tmp/big.bin --video /files/big.mp4

Log lines (stdout): ``STAMP <unix time> <tag> <percent>`` for every progress line sent (the
tag is the ``#n`` at the end of the prompt), ``REQ <unix time> <method> <path> <task id>`` for
every request when ``--log-requests`` is given. Answers with a length keep the connection open,
as a relay behind a proxy does, unless ``--close`` is given.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from bench.relay_scripts import long_task, progress_script, silent_script
from suxi.simrelay import RecordedRequest, Script, SimRelay, Stamp, user_prompt

TAG = re.compile(r"#(\d+)\s*$")
PERCENT = re.compile(r"进度：([\d.]+)%")


class LoggedTemplate(str):
    """A Stamp template that writes ``STAMP <send time> <tag> <percent>`` when the relay
    formats it, i.e. at the moment the line is sent."""

    tag = "-"
    percent = "-"

    def format(self, *args: object, **kwargs: object) -> str:
        text = super().format(*args, **kwargs)
        print(f"STAMP {kwargs.get('now', time.time()):.6f} {self.tag} {self.percent}", flush=True)
        return text


def logged(factory):
    def play(request: RecordedRequest, base_url: str) -> Script:
        match = TAG.search(user_prompt(request) or "")
        tag = match.group(1) if match else "-"
        steps = []
        for step in factory(request, base_url):
            if isinstance(step, Stamp):
                template = LoggedTemplate(step.template)
                template.tag = tag
                found = PERCENT.search(step.template)
                template.percent = found.group(1) if found else "-"
                step = Stamp(template, step.field)
            steps.append(step)
        return steps

    return play


class LoggingRelay(SimRelay):
    async def _route(self, conn, req: RecordedRequest) -> None:
        task = req.params.get("id") or req.path.rsplit("/", 1)[-1]
        print(f"REQ {time.time():.6f} {req.method} {req.path} {task}", flush=True)
        await super()._route(conn, req)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chat", choices=("progress", "silent"), default="progress")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of a chat job")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between lines")
    parser.add_argument("--task-seconds", type=float, default=0.0, help="length of a task")
    parser.add_argument("--video", default="", help="the video URL path sent (/files/…)")
    parser.add_argument("--file", action="append", default=[], help="NAME=PATH at /files/")
    parser.add_argument("--log-requests", action="store_true")
    parser.add_argument(
        "--close", action="store_true", help="close every connection after its answer"
    )
    args = parser.parse_args()

    relay = (LoggingRelay if args.log_requests else SimRelay)(
        port=args.port, keep_alive=not args.close
    )
    # Hours of polls: keep nothing the benchmark does not read (the log has the times).
    relay.requests = _Forgetful()
    relay.book.polls = _ForgetfulPolls()
    for spec in args.file:
        name, _, path = spec.partition("=")
        relay.add_file(name, Path(path))
    if args.task_seconds:
        relay.set_default_task(long_task(args.task_seconds))

    def ready(relay: SimRelay) -> None:
        video = f"{relay.base_url}{args.video}" if args.video else None
        if args.chat == "silent":
            relay.set_default(silent_script(args.seconds, video_url=video))
        else:
            relay.set_default(logged(progress_script(args.seconds, args.every, video_url=video)))
        print(f"READY {relay.base_url}", flush=True)

    relay.run_forever(ready)


class _Forgetful(list):
    def append(self, item: object) -> None:
        pass


class _ForgetfulPolls(dict):
    def setdefault(self, key: object, default: object = None) -> list:
        return _Forgetful()


if __name__ == "__main__":
    main()
