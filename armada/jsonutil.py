"""JSON encoding shared by responses and broadcasts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from armada.datetimes import format_datetime


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, *, ensure_ascii: bool = False) -> str:
    return json.dumps(value, default=_default, ensure_ascii=ensure_ascii, separators=(",", ":"))
