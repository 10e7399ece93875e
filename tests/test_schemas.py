"""The record dumpers and load plans give exactly what marshmallow's own dump and load of
the same schema give, and so does the load plan (`armada.private_api.marshmallow_plan`, below
marshmallow's public API)."""

from __future__ import annotations

import functools
import inspect
import uuid
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from helpers import DERANDOMIZE
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validates,
    validates_schema,
)

from armada import const
from armada.http import schemas
from armada.private_api.marshmallow_plan import LoadPlan, ValidatorsOnce, usual_loader

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


@pytest.mark.slow
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


# Every schema the API loads requests with; a plan must not change one answer of any.
LOADED = [schema for schema in (*vars(schemas).values(), schemas.StreamQuery())
          if isinstance(schema, schemas.StrictSchema)]
OFFSETS = [timezone(timedelta(minutes=minutes)) for minutes in (-720, -90, 0, 330, 840)]
DATETIMES = st.builds(
    lambda when, timespec, zulu: when.isoformat(timespec=timespec).replace("+00:00", zulu),
    st.one_of(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.none() | st.sampled_from(OFFSETS)),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                     timezones=st.none() | st.sampled_from(OFFSETS)),
    ),
    st.sampled_from(["auto", "milliseconds", "seconds", "minutes"]),
    st.sampled_from(["+00:00", "Z"]),
)
STATUSES = st.sampled_from(const.STATUSES).flatmap(
    lambda status: st.sampled_from([status, status.upper(), status.lower()])) | st.sampled_from(
    ["\u017fuccess", "Succe\u00df", "success ", "Lost\x00", "Lo\u0455t"])
# Text at the edges the fields judge: lengths, blanks, NUL, a lone surrogate, beyond ASCII.
TEXTS = st.text(min_size=1, max_size=12) | st.sampled_from(
    ["x" * 255, "x" * 256, "\u00e9" * 255, "\u00e9" * 256, " ", "\t\u3000", "a\x00", "a\ud800",
     "\u00e9t\u00e9", "\U0001f680", ""])
NUMBERS = st.integers(min_value=-5, max_value=2**64)
# What else a JSON body or a query string can bring: any kind of value, and the edges the
# fields judge (a lone surrogate, text over the 255 limit, message types known or not).
ANY = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), NUMBERS, NUMBERS.map(str),
    st.text(max_size=12), TEXTS, DATETIMES, STATUSES, st.lists(st.none(), max_size=1),
    st.sampled_from(["\ud800", "x" * 256, "new_job,delete_run", "new_job,bogus", ""]),
)


def valid_value(field: fields.Field) -> st.SearchStrategy[object]:
    """Values the field mostly accepts."""
    if isinstance(field, schemas.UtcDateTime):
        return DATETIMES
    if isinstance(field, schemas.Status):
        return STATUSES
    if isinstance(field, fields.Integer):
        return NUMBERS | NUMBERS.map(str)
    if isinstance(field, fields.List):
        return st.lists(valid_body(schemas.event_schema), max_size=3)
    return TEXTS


def valid_body(schema: Schema) -> st.SearchStrategy[dict[str, object]]:
    """Each required field with a value, some of the others (maybe null)."""
    return st.fixed_dictionaries(
        {name: valid_value(field) for name, field in schema.load_fields.items()
         if field.required},
        optional={name: valid_value(field) | st.none()
                  for name, field in schema.load_fields.items() if not field.required},
    )


@st.composite
def bodies_for(draw: st.DrawFn, schema: Schema) -> object:
    """A body that is mostly valid, one that is spoilt in one place, or anything at all."""
    body = draw(valid_body(schema))
    spoil = draw(st.sampled_from(["none", "none", "none", "value", "drop", "unknown", "replace"]))
    key = draw(st.sampled_from([*schema.load_fields, "extra"]))
    if spoil == "value":
        body[key] = draw(ANY)
    elif spoil == "drop":
        body.pop(key, None)
    elif spoil == "unknown":
        body["extra"] = draw(ANY)
    elif spoil == "replace":
        return draw(ANY)
    return body


@pytest.mark.slow
@pytest.mark.parametrize("schema", LOADED, ids=[type(schema).__name__ for schema in LOADED])
@settings(max_examples=400, deadline=None, database=None, derandomize=DERANDOMIZE)
@given(data=st.data())
def test_a_body_loads_as_marshmallow_loads_it(schema: Schema, data: st.DataObject) -> None:
    body = data.draw(bodies_for(schema))
    # A default id is new on every load: the same one for both loads here.
    with mock.patch.object(schemas.uuid, "uuid4", return_value=uuid.UUID(int=7)):
        try:
            expected = Schema.load(schema, body)
        except ValidationError as error:
            with pytest.raises(ValidationError) as planned:
                schema.load(body)
            assert planned.value.messages == error.messages
            return
        loaded = schema.load(body)
    assert loaded == expected
    assert list(loaded) == list(expected)  # same key order


# Every kind of field the API loads, once each.
FIELDS = list({type(field): field for schema in LOADED
               for field in schema.load_fields.values()}.values())


@pytest.mark.slow
@pytest.mark.parametrize("field", FIELDS, ids=[type(field).__name__ for field in FIELDS])
@settings(max_examples=300, deadline=None, database=None, derandomize=DERANDOMIZE)
@given(value=st.one_of(ANY, TEXTS, DATETIMES, STATUSES))
def test_a_fields_shortcut_answers_only_values_its_own_load_accepts_and_as_it_loads_them(
        field: fields.Field, value: object) -> None:
    usual = usual_loader(field)
    as_usual = usual(value) if usual is not None and value is not None else None
    if as_usual is not None:
        assert as_usual == field.deserialize(value)
        assert type(as_usual) is type(field.deserialize(value))


def test_a_field_kind_that_deserializes_its_own_way_has_no_shortcut_of_its_parent() -> None:
    with_one = {type(field).__name__ for field in FIELDS if usual_loader(field) is not None}
    assert with_one == {"Text", "Status", "UtcDateTime"}

    class Stripped(schemas.Text):
        def _deserialize(self, value: object, attr: object, data: object,
                         **kwargs: object) -> str:
            return super()._deserialize(value, attr, data, **kwargs).strip()

    class SchemaWithIt(schemas.StrictSchema):
        name = Stripped()

    assert usual_loader(Stripped()) is None
    assert SchemaWithIt().load({"name": " a "}) == {"name": "a"}


def test_the_api_schemas_load_through_a_plan_where_they_can() -> None:
    planned = {type(schema).__name__ for schema in LOADED if schema._load_plan is not None}
    assert planned == {type(schema).__name__ for schema in LOADED} - {
        "EventsQuery", "StreamQuery", "TriageSearchQuery"}  # validators see the query (or a field)


def test_a_schema_with_what_a_plan_does_not_do_has_none() -> None:
    class Before(schemas.StrictSchema):
        name = fields.String()

        @pre_load
        def strip(self, data: dict[str, str], **kwargs: object) -> dict[str, str]:
            return data

    class AfterMany(schemas.StrictSchema):
        name = fields.String()

        @post_load(pass_collection=True)
        def count(self, data: list[dict[str, str]], **kwargs: object) -> list[dict[str, str]]:
            return data

    class Dotted(schemas.StrictSchema):
        name = fields.String(attribute="owner.name")

    class FieldHook(schemas.StrictSchema):
        name = fields.String(pre_load=[str.strip])

    for schema in (Before(), AfterMany(), Dotted(), FieldHook(), schemas.RunSchema(many=True),
                   schemas.RunSchema(partial=True), schemas.RunSchema(unknown="exclude")):
        assert LoadPlan.of(schema) is None, schema
    # Loads still work, through marshmallow.
    assert FieldHook().load({"name": " a "}) == {"name": "a"}
    assert Dotted().load({"name": "a"}) == {"owner": {"name": "a"}}


def test_every_kind_of_load_hook_is_in_the_private_hooks_the_plan_reads() -> None:
    # A hook kept elsewhere would be skipped by a plan that believes the schema has none.
    class Hooked(Schema):
        name = fields.String()

        @pre_load
        def before(self, data: object, **kwargs: object) -> object:
            return data

        @post_load
        def after(self, data: object, **kwargs: object) -> object:
            return data

        @validates("name")
        def name_ok(self, value: str, **kwargs: object) -> None:
            pass

        @validates_schema
        def whole_ok(self, data: object, **kwargs: object) -> None:
            pass

    schema = Hooked()
    assert set(schema._hooks) == {"pre_load", "post_load", "validates", "validates_schema"}
    for hooks in schema._hooks.values():
        [(name, pass_collection, options)] = hooks
        assert callable(getattr(schema, name))
        assert pass_collection is False and isinstance(options, dict)
    assert LoadPlan.of(schema) is None


def test_the_private_field_api_the_plan_calls_is_the_one_marshmallow_deserializes_with(
        ) -> None:
    assert list(inspect.signature(fields.Field._deserialize).parameters) == [
        "self", "value", "attr", "data", "kwargs"]
    assert isinstance(inspect.getattr_static(fields.Field, "_validate_all"), property)

    class Recording(ValidatorsOnce, fields.String):
        seen: list[object] = []

        @functools.cached_property
        def _validate_all(self) -> object:  # type: ignore[override]
            return self.seen.append

    assert Recording().deserialize("checked") == "checked"
    assert Recording.seen == ["checked"]  # deserialize validates through _validate_all
    field = schemas.Text(max_length=1)
    assert field._validate_all is field._validate_all  # built once

    for name in ("data_key", "attribute", "required", "allow_none", "load_default",
                 "validators", "pre_load", "post_load"):
        assert hasattr(field, name), name
    for name in ("load_fields", "many", "partial", "unknown"):
        assert hasattr(schemas.event_schema, name), name
