"""`armada tail [--run RUN] [--url URL] [--token TOKEN]`: the live stream in a terminal
(armada.remote.tail), one line a message, until interrupted.

The token (for a service with read tokens) is `--token`, else a `?token=` in `--url`, else
`ARMADA_TOKEN`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from armada.cli.service_options import add_url_and_token, url_and_token
from armada.remote.service import DEFAULT_URL, TOKEN_VARIABLE
from armada.remote.tail import tail


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="armada tail", description="Print the live stream, one line a message.")
    parser.add_argument("--run", metavar="RUN", help="only what concerns this run")
    add_url_and_token(
        parser, f"the service (or its WebSocket) URL; default {DEFAULT_URL}",
        f"bearer token, for a service with read tokens; default: a ?token= in --url, else"
        f" {TOKEN_VARIABLE} (which, unlike an argument, other users cannot see in ps)")
    args = parser.parse_args(argv)
    url, token = url_and_token(parser, args)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(tail(url, args.run, sys.stdout, sys.stderr, token))
    return 0
