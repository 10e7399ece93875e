"""Marshmallow schemas: what the API accepts (load) and the JSON shape of every record (dump).

Records go out through `RecordDumper`, built once from a schema's own fields: the same
output as `schema.dump`, without marshmallow's per-field machinery on every record. Runs,
jobs and events go out as the stream shapes them (`armada.stream.records`), checked
against these schemas by tests/test_schemas.py. Valid
bodies come in through `armada.private_api.marshmallow_plan`, the one module here that reaches
below marshmallow's public API.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    missing,
    post_load,
    validate,
    validates,
    validates_schema,
)

from armada import const
from armada.datetimes import (
    EARLIEST,
    OutOfRange,
    format_datetime,
    parse_datetime,
    plus_read_as_space,
)
from armada.private_api.marshmallow_plan import PlannedLoad, ValidatorsOnce
from armada.stream import records
from armada.stream.messages import MESSAGE_TYPES
from armada.stream.records import RecordShape


def storable(value: str) -> None:
    """Refuse what a database cannot store (SQL Server's TDS engines refuse code point 0),
    on every database alike, so the contract does not depend on the one behind it."""
    if "\x00" in value:
        raise ValidationError("Contains code point 0 (NUL), which cannot be stored.")
    if not _encodable(value):
        raise ValidationError("Contains an unpaired UTF-16 surrogate.")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank (white space only).")


class Text(ValidatorsOnce, fields.String):
    """A string that can be stored (`storable`), optionally bounded, optionally not blank:
    every text of a body, a query or a path that reaches the database is one."""

    def __init__(self, *, min_length: int | None = None, max_length: int | None = None,
                 blank: bool = True, **kwargs: Any) -> None:
        validators = [storable]
        if min_length is not None or max_length is not None:
            validators.append(validate.Length(min=min_length, max=max_length))
        if not blank:
            validators.append(_not_blank)
        super().__init__(validate=validators, **kwargs)
        self._shortest = min_length or 0
        self._longest = sys.maxsize if max_length is None else max_length
        self._blank = blank

    def load_usual(self, value: Any) -> str | None:
        """`value` when it is text that the validators above accept, else None (then they
        judge it): the load plan's shortcut (`marshmallow_plan`), one call for them all."""
        if (type(value) is str and self._shortest <= len(value) <= self._longest
                and "\x00" not in value and (value.isascii() or _encodable(value))
                and (self._blank or value.strip())):
            return value
        return None


def Identifier(**kwargs: Any) -> Text:
    """An opaque id: 1 to 255 characters, not all white space."""
    return Text(min_length=1, max_length=const.MAX_ID_LENGTH, blank=False, **kwargs)


CANONICAL_STATUS = {status.lower(): status for status in const.STATUSES}


class Status(Text):
    """One of const.STATUSES in any letter case, loaded in its canonical case."""

    default_error_messages = {
        "unknown_status": f"Must be one of {', '.join(const.STATUSES)} (in any letter case).",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The canonical statuses the validators accept, by their lower case: the usual values.
        self._usual = {lower: status for lower, status in CANONICAL_STATUS.items()
                       if Text.load_usual(self, status) is not None}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        canonical = CANONICAL_STATUS.get(text.lower()) if text.isascii() else None
        if canonical is None:
            raise self.make_error("unknown_status")
        return canonical

    def load_usual(self, value: Any) -> str | None:
        if type(value) is str and value.isascii():
            return self._usual.get(value.lower())
        return None


class UtcDateTime(ValidatorsOnce):
    """ISO 8601 in (no zone means UTC); `YYYY-MM-DDTHH:MM:SS.mmmZ` out."""

    default_error_messages = {
        "invalid": "Not a valid ISO 8601 datetime.",
        "range": f"Out of range: accepted from {format_datetime(EARLIEST)} (the earliest a "
                 f"SQL Server DATETIME holds) to {format_datetime(datetime.max)}.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_datetime(value)
        except OutOfRange:
            raise self.make_error("range") from None
        except ValueError:
            raise self.make_error("invalid") from None

    def load_usual(self, value: Any) -> datetime | None:
        """The datetime of ISO 8601 text this field accepts, else None (then `_deserialize`
        judges it): the load plan's shortcut (`marshmallow_plan`)."""
        if type(value) is not str or self.validators:
            return None
        try:
            return parse_datetime(value)
        except ValueError:
            return None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime):
            return format_datetime(value)
        return value


class QueryDateTime(UtcDateTime):
    """A datetime in a URL query, where an unescaped `+` arrives as a space: the error says so."""

    default_error_messages = {
        "plus_as_space": "Not a valid ISO 8601 datetime: a '+' in a URL reads as a space; "
                         "write it as %2B (2026-02-24T10:00:00%2B01:00).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            if isinstance(value, str) and plus_read_as_space(value):
                raise self.make_error("plus_as_space") from None
            raise


def encode_cursor(position: tuple[datetime, str] | None) -> str | None:
    """A keyset position `(datetime, uuid)` as an opaque URL-safe string (base64 of JSON)."""
    if position is None:
        return None
    when, uuid_ = position
    raw = json.dumps([when.isoformat(timespec="microseconds"), uuid_], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


class PageCursor(fields.Field):
    """A page position, as `encode_cursor` writes it."""

    default_error_messages = {"invalid": "Not a valid cursor: pass the `next` of a page."}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return encode_cursor(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> tuple[datetime, str]:
        if not isinstance(value, str) or not 0 < len(value) <= const.MAX_CURSOR_LENGTH:
            raise self.make_error("invalid")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            position = json.loads(raw.decode("utf-8"))
            when_text, uuid_ = position
            when = datetime.fromisoformat(when_text)
            storable(uuid_)
        except (ValueError, TypeError, AttributeError, RecursionError):
            raise self.make_error("invalid") from None
        if not isinstance(position, list) or when.tzinfo is not None \
                or not 0 < len(uuid_) <= const.MAX_ID_LENGTH:
            raise self.make_error("invalid")
        return when, uuid_


class StrictSchema(PlannedLoad):
    """Unknown fields are refused. A valid body loads through a plan (`marshmallow_plan`);
    anything else, and every error, through marshmallow's own `load`."""

    class Meta:
        unknown = RAISE

    error_messages = {"type": "Must be a JSON object."}

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # Records are plain dicts: a dict lookup, not marshmallow's generic one (lists dump faster).
        if type(obj) is dict:
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)


class NullsNotSent(StrictSchema):
    """Optional fields sent as `null` count as not sent, as the previous service took them;
    an id not sent is generated. The store gives the others their defaults, so that a
    repeated create compares only what its client sent (operations.JOB_DEFAULTS)."""

    generated_id = ""

    @post_load
    def drop_nulls(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if None in data.values():
            data = {name: value for name, value in data.items() if value is not None}
        if self.generated_id not in data:
            data[self.generated_id] = new_uuid()
        return data


def new_uuid() -> str:
    return str(uuid.uuid4())


class RunSchema(StrictSchema):
    run_uuid = Identifier(required=True)
    run_datetime = UtcDateTime(required=True)


class JobSchema(NullsNotSent):
    generated_id = "job_uuid"

    job_uuid = Identifier(allow_none=True)
    run_uuid = Identifier(required=True)
    job_datetime = UtcDateTime(required=True)
    job_associated_agent = Text(max_length=const.MAX_ID_LENGTH, allow_none=True)
    job_status = Status(allow_none=True)


class EventSchema(NullsNotSent):
    generated_id = "event_uuid"

    event_uuid = Identifier(allow_none=True)
    event_content = Text(required=True)
    job_uuid = Identifier(required=True)
    event_datetime = UtcDateTime(required=True)
    event_status = Status(allow_none=True)


class JobStatusSchema(StrictSchema):
    job_uuid = Identifier(required=True)
    job_status = Status(required=True)


class EventBatchSchema(StrictSchema):
    events = fields.List(
        fields.Nested(EventSchema), required=True,
        validate=validate.Length(min=1, max=const.MAX_BATCH_EVENTS),
    )


class EventStatusSchema(StrictSchema):
    event_uuid = Identifier(required=True)
    event_status = Status(required=True)


class PageQuery(StrictSchema):
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=const.MAX_PAGE)
    )
    page_size = fields.Integer(
        load_default=const.DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=const.MAX_PAGE_SIZE),
    )


class Between(StrictSchema):
    """`since` (inclusive) and `until` (exclusive) on a record's datetime, parsed as bodies are."""

    since = QueryDateTime()
    until = QueryDateTime()


class RunStatus(Text):
    """One of const.RUN_STATUSES in any letter case, loaded in its canonical case."""

    default_error_messages = {
        "unknown_status": f"Must be one of {', '.join(const.RUN_STATUSES)} (in any letter "
                          "case).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        canonical = CANONICAL_RUN_STATUS.get(text.lower()) if text.isascii() else None
        if canonical is None:
            raise self.make_error("unknown_status")
        return canonical


CANONICAL_RUN_STATUS = {status.lower(): status for status in const.RUN_STATUSES}


class RunsQuery(PageQuery, Between):
    # A piece of the run's uuid (LIKE).
    q = Text(min_length=1, max_length=const.MAX_ID_LENGTH)
    # The run's status, derived from its jobs' (docs/api.md "Run state"); not with q (runs.py).
    run_status = RunStatus()


class JobsQuery(PageQuery, Between):
    run_uuid = Text()
    status = Status()
    agent = Text()
    # A piece of the job's uuid or of its agent (LIKE).
    q = Text(min_length=1, max_length=const.MAX_ID_LENGTH)


class EventsQuery(Between):
    # Optional, as in the platform's API: without it, the events of every job.
    job_uuid = Text()
    # Words (or pieces of them) that the event's content contains, every one.
    q = Text(max_length=const.MAX_SEARCH_LENGTH)
    status = Status()
    limit = fields.Integer(validate=validate.Range(min=1, max=const.MAX_EVENTS_LIMIT))
    before = PageCursor()

    @validates("q")
    def _search_words(self, value: str, **kwargs: Any) -> None:
        if not 1 <= len(value.split()) <= const.MAX_SEARCH_TERMS:
            raise ValidationError(f"1 to {const.MAX_SEARCH_TERMS} words, separated by spaces.")

    @validates_schema
    def before_needs_limit(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "before" in data and "limit" not in data:
            raise ValidationError("Only with limit (the size of the page).", "before")


class RunPath(StrictSchema):
    run_uuid = Identifier(required=True)


class JobPath(StrictSchema):
    job_uuid = Identifier(required=True)


class EventPath(StrictSchema):
    event_uuid = Identifier(required=True)


class RunSummarySchema(RunSchema):
    """A run with the counts of its jobs, in total and per status (dump only)."""

    jobs_total = fields.Integer()
    jobs_running = fields.Integer()
    jobs_success = fields.Integer()
    jobs_failed = fields.Integer()
    jobs_pending = fields.Integer()
    jobs_cancelled = fields.Integer()
    jobs_lost = fields.Integer()
    run_status = fields.String()
    first_report_datetime = UtcDateTime()
    last_report_datetime = UtcDateTime()


class EventsPageSchema(Schema):
    """One page of events, newest first, and the cursor of the next (null after the last)."""

    events = fields.List(fields.Nested(EventSchema))
    next = PageCursor(allow_none=True)


class RecordDumper(RecordShape):
    """`schema.dump` for the store's records (flat dicts), planned once from the schema.

    Each declared field becomes (output key, record key, conversion); a record then dumps
    in one dict comprehension. Profiled, marshmallow's generic dump was the largest cost
    of a list page. Only the field kinds records use are planned; another is a TypeError
    at import, so a new field type cannot silently dump differently.
    """

    def __init__(self, schema: Schema) -> None:
        super().__init__([(field.data_key or name, field.attribute or name, _conversion(field))
                          for name, field in schema.dump_fields.items()])


def _conversion(field: fields.Field) -> Callable[[Any], Any]:
    if field.dump_default is not missing:
        raise TypeError("RecordDumper does not fill dump defaults")
    # UtcDateTime first: the most specific; Status and Text are Strings.
    if isinstance(field, UtcDateTime):
        return records.datetime_out
    if isinstance(field, fields.String):
        return records.text_out
    if isinstance(field, fields.Integer) and not field.as_string:
        return records.integer_out
    raise TypeError(f"RecordDumper has no plan for {type(field).__name__} fields")


run_schema = RunSchema()
job_schema = JobSchema()
event_schema = EventSchema()
event_batch_schema = EventBatchSchema()
job_status_schema = JobStatusSchema()
event_status_schema = EventStatusSchema()
runs_query = RunsQuery()
jobs_query = JobsQuery()
events_query = EventsQuery()
run_path = RunPath()
job_path = JobPath()
event_path = EventPath()
run_summary_schema = RunSummarySchema()
# The records themselves as the stream shapes them (tests/test_schemas.py: as these dump).
run_out = records.RUN
run_summary_out = RecordDumper(run_summary_schema)
job_out = records.JOB
event_out = records.EVENT


class StreamQuery(StrictSchema):
    """The query string of `/ws/events/`; refused with a 422 before the upgrade."""

    since = fields.Integer(strict=False, validate=validate.Range(min=0, max=2**63 - 1))
    epoch = Text(min_length=1, max_length=64)
    run_uuid = Identifier()
    job_uuid = Identifier()
    types = fields.String(validate=validate.Length(min=1, max=1000))
    # Each frame a JSON array of the messages that leave together (one or more).
    grouped = fields.Boolean(load_default=False)

    @validates("types")
    def _known_types(self, value: str, **kwargs: Any) -> None:
        unknown = sorted(set(value.split(",")) - set(MESSAGE_TYPES))
        if unknown:
            raise ValidationError(
                f"Unknown message type(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(MESSAGE_TYPES)}."
            )

    @validates_schema
    def _cursor_is_whole(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("since" in data) != ("epoch" in data):
            missing = "epoch" if "since" in data else "since"
            raise ValidationError("since and epoch are given together.", missing)


stream_query = StreamQuery()


class ExportQuery(StrictSchema):
    """`GET /api/runs/{run_uuid}/export`: the file's format."""

    format = fields.String(load_default="ndjson", validate=validate.OneOf(("ndjson", "csv")))


export_query = ExportQuery()


# Triage (armada/http/triage.py): the reads of the live page, added beside the lists above.


class TriageRunsQuery(PageQuery, Between):
    run_status = RunStatus()


class TriageRunQuery(StrictSchema):
    """A run's jobs, up to MAX_TRIAGE_JOBS at a time; `page_size=0`: the run alone."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=const.MAX_PAGE))
    page_size = fields.Integer(load_default=const.MAX_TRIAGE_JOBS,
                               validate=validate.Range(min=0, max=const.MAX_TRIAGE_JOBS))


class FailuresQuery(Between):
    limit = fields.Integer(load_default=const.DEFAULT_TRIAGE_LIMIT,
                           validate=validate.Range(min=1, max=const.MAX_EVENTS_LIMIT))
    before = PageCursor()


class TriageSearchQuery(StrictSchema):
    q = Text(required=True, max_length=const.MAX_SEARCH_LENGTH)
    run_uuid = Identifier()
    job_uuid = Identifier()
    limit = fields.Integer(load_default=const.DEFAULT_TRIAGE_LIMIT,
                           validate=validate.Range(min=1, max=const.MAX_EVENTS_LIMIT))
    before = PageCursor()

    @validates("q")
    def _search_words(self, value: str, **kwargs: Any) -> None:
        if not 1 <= len(value.split()) <= const.MAX_SEARCH_TERMS:
            raise ValidationError(f"1 to {const.MAX_SEARCH_TERMS} words, separated by spaces.")


class TriageRunSchema(RunSummarySchema):
    """A run summary with its newest Failed or Lost job and that job's failure line."""

    failure_job_uuid = fields.String(allow_none=True)
    failure_agent = fields.String(allow_none=True)
    failure = fields.String(allow_none=True)


class JobReportSchema(JobSchema):
    """A job with its first and last report, the first line of its newest event and, when it
    is Failed or Lost, its failure line (its newest Failed event's, else its newest event's)."""

    first_report_datetime = UtcDateTime()
    last_report_datetime = UtcDateTime()
    last_message = fields.String(allow_none=True)
    failure = fields.String(allow_none=True)


class SearchHitSchema(EventSchema):
    """An event found by a search, with its job's run, agent and status."""

    run_uuid = fields.String(allow_none=True)
    job_associated_agent = fields.String(allow_none=True)
    job_status = fields.String(allow_none=True)


class TriageRunsPageSchema(Schema):
    runs = fields.List(fields.Nested(TriageRunSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class RunJobsSchema(Schema):
    run = fields.Nested(TriageRunSchema, required=True)
    jobs = fields.List(fields.Nested(JobReportSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class FailuresPageSchema(Schema):
    failures = fields.List(fields.Nested(JobReportSchema), required=True)
    next = PageCursor(allow_none=True)


class SearchHitsPageSchema(Schema):
    events = fields.List(fields.Nested(SearchHitSchema), required=True)
    next = PageCursor(allow_none=True)


triage_runs_query = TriageRunsQuery()
triage_run_query = TriageRunQuery()
failures_query = FailuresQuery()
triage_search_query = TriageSearchQuery()
triage_run_out = RecordDumper(TriageRunSchema())
job_report_out = RecordDumper(JobReportSchema())
search_hit_out = RecordDumper(SearchHitSchema())
