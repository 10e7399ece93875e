"""JSON encoding shared by responses and broadcasts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson

from armada.datetimes import format_datetime

# Datetimes go through _default (the service's one wire form), not orjson's own format.
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, *, ensure_ascii: bool = False) -> str:
    """Compact JSON text. orjson (ten times faster) writes the same text as the standard
    library here; what orjson refuses (non-string keys, integers beyond 64 bits, unpaired
    surrogates) and ASCII-only output go through the standard library, as before."""
    if not ensure_ascii:
        try:
            return orjson.dumps(value, default=_default, option=ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:
            pass
    return _standard(value, ensure_ascii)


def encode(value: Any) -> bytes:
    """`dumps(value)` as UTF-8, without text in between when orjson writes it."""
    try:
        return orjson.dumps(value, default=_default, option=ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _standard(value, False).encode("utf-8")


def _standard(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, default=_default, ensure_ascii=ensure_ascii, separators=(",", ":"))
