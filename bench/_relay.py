"""The simulated relay in its own process, playing the benchmark script.

``python -m suxi.simrelay`` always plays the ~45 s demo script; the benchmarks need
:func:`suxi.simrelay.progress_script` (a progress line every ``--every`` s for ``--seconds`` s,
each stamped with the relay's send time) and extra files to download. Used by the other
benchmarks through :func:`bench._common.start_relay`; runnable alone too::

    python bench/_relay.py --port 8765 --seconds 20 --every 1 --file big.mp4=/tmp/big.bin
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.relay_scripts import progress_script  # noqa: E402
from suxi.simrelay import SimRelay  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one job")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between progress lines")
    parser.add_argument("--video", default="", help="video URL path served at the end (/files/…)")
    parser.add_argument("--file", action="append", default=[], help="NAME=PATH served at /files/")
    args = parser.parse_args()

    relay = SimRelay(speed=args.speed, host=args.host, port=args.port)

    for spec in args.file:
        name, _, path = spec.partition("=")
        relay.add_file(name, Path(path))

    def ready(relay: SimRelay) -> None:
        video = f"{relay.base_url}{args.video}" if args.video else None
        relay.set_default(progress_script(args.seconds, args.every, video_url=video))
        print(f"READY {relay.base_url}", flush=True)

    relay.run_forever(ready)


if __name__ == "__main__":
    main()
