"""Answering a create: the stored record dumped once, broadcast when new, sent back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from armada.http.parsing import json_response
from armada.http.schemas import RecordDumper


class Created:
    """The store's `then` for a create, and the answer after it.

    Right after the commit the stored record is dumped once, for the broadcast (only when
    the record is new) and for the response (201 when new, 200 for a repeat). Outcomes
    start with (stored record, whether it is new).
    """

    def __init__(self, out: RecordDumper, announce: Callable[[dict[str, Any]], None]) -> None:
        self._out = out
        self._announce = announce
        self._data: dict[str, Any] = {}

    def __call__(self, outcome: tuple[Any, ...]) -> None:
        stored, created = outcome[0], outcome[1]
        self._data = self._out.one(stored)
        if created:
            self._announce(self._data)

    def response(self, outcome: tuple[Any, ...]) -> web.Response:
        return json_response(self._data, status=201 if outcome[1] else 200)
