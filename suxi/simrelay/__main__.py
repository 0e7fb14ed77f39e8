"""``python -m suxi.simrelay --port 8765 --speed 1``: the simulated relay on its own."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .chat import CHAT_PATH
from .server import SimRelay


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated video relay on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--speed", type=float, default=1.0, help=">1 plays scripts faster")
    parser.add_argument("--video", type=Path, default=None, help="served as /files/sample.mp4")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    relay = SimRelay(speed=args.speed, host=args.host, port=args.port, video=args.video)

    def announce(relay: SimRelay) -> None:
        print(f"simrelay listening on {relay.base_url} (speed {args.speed:g}; Ctrl-C stops)")
        print(
            f"  try: curl -N {relay.base_url}{CHAT_PATH} -H 'Authorization: Bearer sk-demo' "
            "-d '{\"messages\":[]}'",
            flush=True,
        )

    relay.run_forever(announce)


if __name__ == "__main__":
    main()
