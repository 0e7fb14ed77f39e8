"""A light caller in its own process, so that its timings do not include the load generator's
own queueing: ``/my_videos`` through Gradio's queue (a new session per call, as a fresh API
client makes) and ``POST /suxi/library`` (My videos' first page), one after another, until it is
stopped (SIGTERM) or ``--seconds`` have passed; then it writes every timing to ``--out``.

    python -m bench.probe --url http://127.0.0.1:7860/ --out /tmp/probe.json --every 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path

from bench.visitors import GradioApp, my_videos, new_http, new_visitor


async def probe(url: str, every: float, seconds: float, stop: asyncio.Event) -> dict:
    app = GradioApp(url)
    timings: dict[str, list] = {"my_videos": [], "library": []}
    visitor = new_visitor()
    end = time.time() + seconds
    async with new_http(timeout=120) as http:
        while not stop.is_set() and time.time() < end:
            call = await my_videos(http, app)
            timings["my_videos"].append((call.joined, call.latency, call.error))
            t = time.time()
            error = None
            try:
                reply = await http.post(f"{app.url}suxi/library", json={"visitor": visitor})
                if reply.status_code != 200:
                    error = f"HTTP {reply.status_code}"
            except Exception as err:
                error = f"{type(err).__name__}: {err}"[:200]
            timings["library"].append((t, time.time() - t, error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=float, default=0.25, help="pause between two rounds")
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args()

    async def run() -> dict:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        return await probe(args.url, args.every, args.seconds, stop)

    timings = asyncio.run(run())
    args.out.write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
