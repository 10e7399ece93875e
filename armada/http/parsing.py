"""Reading requests (JSON bodies and query strings through marshmallow schemas) and
writing JSON answers, whole or streamed."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import hdrs, web
from marshmallow import Schema

from armada.changes import Written
from armada.datetimes import ClockBound, format_datetime
from armada.errors import InvalidJson, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from armada.http.deadlines import answer_started
from armada.http.request_log import request_id_of
from armada.jsonutil import encode
from armada.keys import config_key
from armada.stream.records import RecordShape, written_json

log = logging.getLogger(__name__)

JSON_MEDIA_TYPE = "application/json"


async def load_body(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The body as UTF-8 JSON, validated by `schema` (ValidationError becomes a 422).

    Only a body declared `application/json` (with any parameters) is read: a page of another
    site can send `text/plain` or a form without a CORS preflight, never JSON.
    """
    # The media type without parsing the header into a dict, as security.py does.
    declared = request.headers.get(hdrs.CONTENT_TYPE, "")
    if declared != JSON_MEDIA_TYPE and (
            declared.partition(";")[0].strip().lower() != JSON_MEDIA_TYPE):
        raise UnsupportedMediaType(
            f"the body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE}, not "
            + (repr(declared[:100]) if declared else "without a Content-Type"))
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"the body is larger than {request.client_max_size} bytes, the "
                              "limit ARMADA_MAX_BODY sets") from None
    try:
        # orjson is four times faster. What it refuses (lone surrogates, NaN, bad UTF-8)
        # is decided by the standard library, as before. It reads an integer beyond 64
        # bits as a float: no body field takes a number, so either is refused alike.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = _standard_json(raw)
    return schema.load(data)


def _standard_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJson(f"body is not valid UTF-8 (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidJson(f"body is not valid JSON: {error.msg} at line {error.lineno} "
                          f"column {error.colno}") from None
    except (ValueError, RecursionError):
        raise InvalidJson("body is not JSON this service accepts (too deeply nested or "
                          "a number too long)") from None


def refuse_far_future(request: web.Request, datetimes: Mapping[str, datetime]) -> None:
    """A 422 naming each datetime later than the service's clock plus ARMADA_MAX_CLOCK_SKEW:
    stored, it would be its run's last report for years."""
    skew = request.app[config_key].max_clock_skew
    clock = _clock_plus(skew)
    if clock.surely_within(max(datetimes.values())):
        return
    latest = clock.latest()
    late = [name for name, when in datetimes.items() if when > latest]
    if late:
        bound = (f"later than {format_datetime(latest)}, the service's clock plus "
                 f"ARMADA_MAX_CLOCK_SKEW ({skew:g} s)")
        more = f" (and {len(late) - 1} more)" if len(late) > 1 else ""
        raise ValidationFailed(f"{late[0]} is {bound}{more}",
                               {name: [f"In the future: {bound}."] for name in late})


@functools.lru_cache(maxsize=4)
def _clock_plus(skew: float) -> ClockBound:
    return ClockBound(skew)


def load_query(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Query parameters validated by `schema`; a parameter given twice is refused."""
    repeated = sorted({key for key in request.query if len(request.query.getall(key)) > 1})
    if repeated:
        raise ValidationFailed(
            "query parameter given more than once",
            {key: ["Given more than once."] for key in repeated},
        )
    return schema.load(dict(request.query))


def load_match(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Path parameters validated by `schema`."""
    return schema.load(dict(request.match_info))


async def keyset_pages(read: Callable[[Any], Awaitable[tuple[list[Any], Any]]]
                       ) -> AsyncGenerator[list[Any], None]:
    """Every page `read(position)` answers, from position None until the next one is None:
    the chunks of a streamed list, each read in its own short transaction."""
    position = None
    while True:
        rows, position = await read(position)
        yield rows
        if position is None:
            return


def created_response(shape: RecordShape, written: Written) -> web.Response:
    """A create's answer: the stored record (in the JSON its message carries), 201 when this
    request created it, else 200."""
    return json_text_response(written_json(written, shape), 201 if written.created else 200)


def json_response(data: Any, status: int = 200) -> web.Response:
    """As `web.json_response`, from bytes: the body is not made text and then bytes again."""
    return web.Response(body=encode(data), status=status, content_type="application/json",
                        charset="utf-8")


def json_text_response(text: str, status: int = 200) -> web.Response:
    """An answer of JSON already encoded (a record's, shared with its message)."""
    return web.Response(body=text.encode(), status=status, content_type="application/json",
                        charset="utf-8")


async def json_list_response(request: web.Request, chunks: AsyncGenerator[list[Any], None]
                             ) -> web.StreamResponse:
    """A JSON list whose items come in order, a chunk (a list) at a time: pages of the store.

    The first two chunks are read before anything is sent, so that their errors are
    ordinary error answers and a list of one chunk is an ordinary answer (with its length).
    A longer list is streamed (chunked transfer encoding) with the headers of any JSON
    answer, one chunk in memory at a time. Once the answer has begun, an error can no
    longer become an error answer: the connection is cut, so that the client sees an
    incomplete answer rather than a shorter list that parses, and the cut is logged.
    """
    try:
        read = [await anext(chunks), await anext(chunks, None)]
        if read[1] is None:
            return json_response(read[0])
        answer_started(request)
        response = web.StreamResponse()
        response.content_type = "application/json"
        response.charset = "utf-8"
        await response.prepare(request)
        await _stream_list(request, response, read, chunks)
        return response
    finally:
        await chunks.aclose()


async def _stream_list(request: web.Request, response: web.StreamResponse,
                       read: list[list[Any] | None], chunks: AsyncGenerator[list[Any], None]
                       ) -> None:
    """Write `read`, then the rest of `chunks`, as one JSON list into a begun answer."""
    opened = False

    def items(chunk: list[Any]) -> bytes:
        # A list's JSON without its brackets: its items, comma-separated.
        nonlocal opened
        body = encode(chunk)[1:-1]
        if not body:
            return b""
        separator, opened = (b"," if opened else b"["), True
        return separator + body

    if not await write_chunks(request, response, _after(read, chunks), items):
        return
    try:
        await response.write_eof(b"]" if opened else b"[]")
    except ConnectionError:
        log.debug("%s %s: the client left before the end", request.method, request.path)


async def _after(read: list[list[Any] | None], chunks: AsyncGenerator[list[Any], None]
                 ) -> AsyncGenerator[list[Any], None]:
    for chunk in read:
        if chunk is not None:
            yield chunk
    async for chunk in chunks:
        yield chunk


async def write_chunks(request: web.Request, response: web.StreamResponse,
                       chunks: AsyncIterator[list[Any]], encode_chunk: Callable[[list[Any]], bytes],
                       sent: int = 0, what: str = "answer", unit: str = "items") -> bool:
    """Write each chunk of `chunks` as `encode_chunk` makes it into a begun answer; True when
    every one was written. One that cannot be read (or encoded) cuts the connection, logged,
    so that the client sees an incomplete answer; a client that left ends it quietly."""
    while True:
        try:
            chunk = await anext(chunks, None)
            if chunk is None:
                return True
            data = encode_chunk(chunk)
        except Exception as error:
            log.error("%s %s: %s cut after %d %s, the rest could not be read: %s id=%s",
                      request.method, request.path, what, sent, unit, error,
                      request_id_of(request))
            if request.transport is not None:
                request.transport.abort()
            return False
        try:
            if data:
                await response.write(data)
        except ConnectionError:
            log.debug("%s %s: the client left after %d %s", request.method, request.path,
                      sent, unit)
            return False
        sent += len(chunk)
