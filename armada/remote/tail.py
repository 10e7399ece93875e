"""The live stream of a running service in a terminal (`armada tail`, armada/cli/tail.py).

One readable line per message on stdout; connection news on stderr. After a disconnect
it reconnects with backoff and resumes from the last `seq` (with its epoch), so nothing
is skipped; when the server cannot replay, it prints the `resync` line and goes on live.

The token (for a service with read tokens) is sent as `Authorization: Bearer`, not in the
URL (URLs end up in proxy logs), and never printed. A refusal that retrying cannot fix (a
wrong token, a bad `--run`: any 4xx but 408 and 429) prints the server's reason and ends
it, with 2.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp

from armada.remote.service import (
    TOKEN_PARAMETER,
    TOKEN_VARIABLE,
    bearer_headers,
    describe,
    unreachable,
)

STREAM_PATH = "ws/events/"
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
HEARTBEAT_SECONDS = 20.0
CONTENT_WIDTH = 80
# A 4xx that a later attempt may get past (timeout, too many requests); any other ends tail.
RETRYABLE_REFUSALS = frozenset({408, 429})
REASON_TIMEOUT_SECONDS = 5.0


def stream_url(url: str, run_uuid: str | None, cursor: tuple[str, int] | None) -> str:
    """The WebSocket URL of the stream under `url` (http(s) or ws(s), with or without the
    stream path, e.g. behind nginx's `/tracking/`), with the filter and resume cursor.
    The query of `url` is kept, but for `token` and what the filter or cursor sets."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if not path.rstrip("/").endswith(STREAM_PATH.rstrip("/")):
        path = path.rstrip("/") + "/" + STREAM_PATH
    ours: dict[str, Any] = {}
    if run_uuid is not None:
        ours["run_uuid"] = run_uuid
    if cursor is not None:
        ours["epoch"], ours["since"] = cursor
    kept = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name != TOKEN_PARAMETER and name not in ours]
    return urlunsplit((scheme, parts.netloc, path, urlencode(kept + list(ours.items())), ""))


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


async def refusal_reason(session: aiohttp.ClientSession, address: str,
                         error: aiohttp.WSServerHandshakeError) -> str:
    """The server's JSON reason for refusing the handshake. aiohttp's error does not carry
    the answer's body, so the same URL is asked again by a plain GET, refused alike."""
    parts = urlsplit(address)
    http_address = urlunsplit(parts._replace(
        scheme={"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)))
    body = None
    try:
        async with session.get(http_address, allow_redirects=False, timeout=aiohttp.ClientTimeout(
                total=REASON_TIMEOUT_SECONDS)) as response:
            if response.status == error.status:
                body = await response.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        pass
    reason = describe(error.status, body, error.message)
    if isinstance(body, dict) and body.get("detail") and body.get("fields"):
        reason += f" {json.dumps(body['fields'], ensure_ascii=False)}"
    return reason


async def tail(url: str, run_uuid: str | None, out: TextIO, err: TextIO,
               token: str | None = None) -> int:
    """Print the stream until interrupted; 2 when the server refuses the request."""
    cursor: tuple[str, int] | None = None
    delay = RETRY_FIRST_SECONDS
    async with aiohttp.ClientSession(headers=bearer_headers(token)) as session:
        while True:
            address = stream_url(url, run_uuid, cursor)
            try:
                async with session.ws_connect(address, heartbeat=HEARTBEAT_SECONDS) as ws:
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
                if 400 <= error.status < 500 and error.status not in RETRYABLE_REFUSALS:
                    reason = await refusal_reason(session, address, error)
                    if error.status == 401 and token is None:
                        reason += f" (give --token or set {TOKEN_VARIABLE})"
                    print(f"armada tail: the server refused: {reason}", file=err, flush=True)
                    return 2
                why = f"{error.status} {error.message}"
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                why = unreachable(url, error)
            print(f"-- disconnected ({why}); reconnecting in {delay:.1f} s", file=err, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
