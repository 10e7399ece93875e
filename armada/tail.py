"""`python -m armada tail [--run RUN] [--url URL]`: the live stream in a terminal.

One readable line per message on stdout; connection news on stderr. After a disconnect
it reconnects with backoff and resumes from the last `seq` (with its epoch), so nothing
is skipped; when the server cannot replay, it prints the `resync` line and goes on live.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

DEFAULT_URL = "http://127.0.0.1:8000"
STREAM_PATH = "ws/events/"
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
HEARTBEAT_SECONDS = 20.0
CONTENT_WIDTH = 80


def stream_url(url: str, run_uuid: str | None, cursor: tuple[str, int] | None) -> str:
    """The WebSocket URL of the stream under `url` (http(s) or ws(s), with or without the
    stream path, e.g. behind nginx's `/tracking/`), with the filter and resume cursor."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if not path.rstrip("/").endswith(STREAM_PATH.rstrip("/")):
        path = path.rstrip("/") + "/" + STREAM_PATH
    query: dict[str, Any] = {}
    if run_uuid is not None:
        query["run_uuid"] = run_uuid
    if cursor is not None:
        query["epoch"], query["since"] = cursor
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def format_line(message: dict[str, Any]) -> str:
    """`#seq HH:MM:SS.mmm type  what changed`."""
    data = message.get("data") or {}
    kind = message.get("type", "?")
    clock = str(message.get("ts", ""))[11:23]
    if kind == "new_run":
        what = f"run {data.get('run_uuid')} at {data.get('run_datetime')}"
    elif kind == "new_job":
        what = (f"job {data.get('job_uuid')} in run {data.get('run_uuid')}"
                f" agent {data.get('job_associated_agent')}: {data.get('job_status')}")
    elif kind == "new_event":
        content = " ".join(str(data.get("event_content", "")).split())
        if len(content) > CONTENT_WIDTH:
            content = content[:CONTENT_WIDTH - 1] + "…"
        what = (f"event {data.get('event_uuid')} of job {data.get('job_uuid')}"
                f" {data.get('event_status')}: {content}")
    elif kind == "update_job_status":
        what = f"job {data.get('job_uuid')} -> {data.get('job_status')}"
    elif kind == "update_event_status":
        what = f"event {data.get('event_uuid')} -> {data.get('event_status')}"
    elif kind == "delete_run":
        what = f"run {data.get('run_uuid')} deleted"
    elif kind == "resync":
        what = f"({data.get('reason')}) messages were missed: reload over REST"
    else:
        what = json.dumps(data, ensure_ascii=False)
    return f"#{message.get('seq')} {clock} {kind:<19} {what}"


async def tail(url: str, run_uuid: str | None, out: TextIO, err: TextIO) -> int:
    """Print the stream until interrupted; 2 when the server refuses the request."""
    cursor: tuple[str, int] | None = None
    delay = RETRY_FIRST_SECONDS
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.ws_connect(stream_url(url, run_uuid, cursor),
                                              heartbeat=HEARTBEAT_SECONDS) as ws:
                    print(f"-- connected to {url}", file=err, flush=True)
                    delay = RETRY_FIRST_SECONDS
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            continue
                        message = json.loads(frame.data)
                        print(format_line(message), file=out, flush=True)
                        cursor = (message["epoch"], message["seq"])
                    why = f"closed with {ws.close_code}"
            except aiohttp.WSServerHandshakeError as error:
                if 400 <= error.status < 500:
                    print(f"armada tail: the server refused: {error.status} {error.message}",
                          file=err, flush=True)
                    return 2
                why = f"{error.status} {error.message}"
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                why = str(error) or type(error).__name__
            print(f"-- disconnected ({why}); reconnecting in {delay:.1f} s", file=err, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m armada tail", description="Print the live stream, one line a message.")
    parser.add_argument("--run", metavar="RUN", help="only what concerns this run")
    parser.add_argument("--url", default=DEFAULT_URL,
                        help=f"the service (or its WebSocket) URL; default {DEFAULT_URL}")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(tail(args.url, args.run, sys.stdout, sys.stderr))
    return 0
