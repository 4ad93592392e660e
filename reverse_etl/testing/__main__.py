"""Serve one emulator until killed: `python -m reverse_etl.testing hubspot`.

The token (or webhook signing secret) to expect is read from the environment variable named
by `--token-env`, never from the command line.

Prints one JSON line `{"base_url": ...}` once listening (benchmarks and the demo read it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading

from reverse_etl.testing.server import Faults, start_emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reverse_etl.testing")
    parser.add_argument(
        "kind",
        choices=[
            "hubspot",
            "meta_audience",
            "webhook",
            "salesforce",
            "braze",
            "google_ads",
            "slack",
        ],
    )
    parser.add_argument("--token-env", default="TESSERA_EMULATOR_TOKEN")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per window")
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args(argv)
    faults = Faults(rate_limit_requests=args.rate_limit, rate_limit_window_seconds=args.window)
    token = os.environ.get(args.token_env)
    if not token:
        parser.error(f"set {args.token_env} to the token the emulator should expect")
    handle = start_emulator(args.kind, token=token, faults=faults, port=args.port)
    print(json.dumps({"base_url": handle.base_url}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
