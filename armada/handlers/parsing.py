"""Reading requests: JSON bodies and query strings through marshmallow schemas."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web
from marshmallow import Schema

from armada.errors import InvalidJson, ValidationFailed
from armada.jsonutil import encode


async def load_body(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The body as UTF-8 JSON, validated by `schema` (ValidationError becomes a 422)."""
    raw = await request.read()
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


def json_response(data: Any, status: int = 200) -> web.Response:
    """As `web.json_response`, from bytes: the body is not made text and then bytes again."""
    return web.Response(body=encode(data), status=status, content_type="application/json",
                        charset="utf-8")
