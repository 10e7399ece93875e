"""How runs, jobs and events look to clients, in the stream's messages and the API's answers
alike: one shape per record kind, and a written record's JSON made once for both.

A create is shaped and encoded once: the stream's message takes the JSON first (on the event
loop, right after the commit), and the write's answer reuses it (`written_json`).
`armada.http.schemas` checks these shapes against the API's schemas (tests/test_schemas.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from armada.changes import Change, Written
from armada.datetimes import format_datetime
from armada.jsonutil import dumps

Convert = Callable[[Any], Any]


def text_out(value: Any) -> Any:
    """A text field's value as marshmallow's String dumps it (bytes decoded, others str)."""
    if value is None or type(value) is str:
        return value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def integer_out(value: Any) -> Any:
    return value if value is None or type(value) is int else int(value)


def datetime_out(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


class RecordShape:
    """A record (a flat dict from the store) as clients see it: each field becomes (output
    key, record key, conversion), planned once; a record then shapes in one comprehension.
    A key the record lacks is left out."""

    def __init__(self, plan: list[tuple[str, str, Convert]]) -> None:
        self._plan = plan

    def one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {key: convert(record[attribute]) for key, attribute, convert in self._plan
                if attribute in record}

    def many(self, records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.one(record) for record in records]


def _shape(*fields: str) -> RecordShape:
    return RecordShape([(name, name, datetime_out if name.endswith("_datetime") else text_out)
                        for name in fields])


RUN = _shape("run_uuid", "run_datetime")
JOB = _shape("job_uuid", "run_uuid", "job_datetime", "job_associated_agent", "job_status")
EVENT = _shape("event_uuid", "event_content", "job_uuid", "event_datetime", "event_status")

# The record of each kind of change as a message carries it; the others' records as they are.
SHAPES = {"new_run": RUN, "new_job": JOB, "new_event": EVENT}


def data_json(change: Change) -> str:
    """The JSON of a change's data (its record shaped, for new_*), made once per change."""
    if change.data_json is None:
        shape = SHAPES.get(change.type)
        change.data_json = dumps(change.record if shape is None else shape.one(change.record))
    return change.data_json


def written_json(written: Written, shape: RecordShape) -> str:
    """The JSON of a write's record: the one its message carries when the write created it,
    else shaped now (a repeated create announces nothing)."""
    for change in written.changes:
        if change.record is written.record:
            return data_json(change)
    return dumps(shape.one(written.record))
