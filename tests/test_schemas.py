"""The record dumpers give exactly what marshmallow's own dump of the same schema gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import DERANDOMIZE
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields

from armada import schemas

DUMPERS = [
    (schemas.run_schema, schemas.run_out),
    (schemas.run_summary_schema, schemas.run_summary_out),
    (schemas.job_schema, schemas.job_out),
    (schemas.event_schema, schemas.event_out),
]

# What a column can hold: the usual values, and what a legacy SQLite row may hold instead
# (SQLite keeps any type in any column; unparsed datetime text is passed through).
VALUES = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    st.binary(max_size=10).filter(lambda raw: _utf8(raw)),
    st.datetimes(min_value=datetime(1753, 1, 1), max_value=datetime(9998, 12, 31)),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30),
                 timezones=st.just(UTC)),
)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def records_for(schema: Schema) -> st.SearchStrategy[dict[str, object]]:
    """Dicts with some of the schema's keys (any value) and some keys it does not know."""
    keys = st.sampled_from([*schema.dump_fields, "extra", "run"])
    return st.dictionaries(keys, VALUES, max_size=12)


@pytest.mark.parametrize(("schema", "dumper"), DUMPERS,
                         ids=[type(schema).__name__ for schema, _ in DUMPERS])
@settings(max_examples=300, deadline=None, database=None, derandomize=DERANDOMIZE)
@given(data=st.data())
def test_a_record_dumps_as_marshmallow_dumps_it(schema: Schema, dumper: schemas.RecordDumper,
                                                data: st.DataObject) -> None:
    records = data.draw(st.lists(records_for(schema), max_size=4))
    for record in records:
        try:
            expected = schema.dump(record)
        except (TypeError, ValueError) as error:
            with pytest.raises(type(error)):
                dumper.one(record)
            return
        assert dumper.one(record) == expected
        assert list(dumper.one(record)) == list(expected)  # same key order
    assert dumper.many(records) == schema.dump(records, many=True)


def test_an_events_page_dumps_as_its_schema_says() -> None:
    events = [{"event_uuid": f"event-{n}", "event_content": "step", "job_uuid": "job-1",
               "event_datetime": datetime(2026, 1, 1) + timedelta(milliseconds=n),
               "event_status": "Success"} for n in range(3)]
    position = (events[-1]["event_datetime"], events[-1]["event_uuid"])
    for next_position in (position, None):
        assert schemas.EventsPageSchema().dump({"events": events, "next": next_position}) == {
            "events": schemas.event_out.many(events),
            "next": schemas.encode_cursor(next_position),
        }


def test_a_field_kind_without_a_plan_is_refused_when_the_dumper_is_built() -> None:
    class WithFloat(Schema):
        share = fields.Float()

    class WithDumpDefault(Schema):
        name = fields.String(dump_default="anonymous")

    for schema in (WithFloat(), WithDumpDefault()):
        with pytest.raises(TypeError):
            schemas.RecordDumper(schema)
