"""Marshmallow schemas: what the API accepts (load) and the JSON shape of every record (dump)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from armada import const
from armada.datetimes import format_datetime, parse_datetime


def _no_lone_surrogates(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Contains an unpaired UTF-16 surrogate.") from None


class Text(fields.String):
    """A string that can be stored: valid Unicode, optionally bounded."""

    def __init__(self, *, min_length: int | None = None, max_length: int | None = None,
                 **kwargs: Any) -> None:
        validators = [_no_lone_surrogates]
        if min_length is not None or max_length is not None:
            validators.append(validate.Length(min=min_length, max=max_length))
        super().__init__(validate=validators, **kwargs)


def Identifier(**kwargs: Any) -> Text:
    """An opaque id: 1 to 255 characters."""
    return Text(min_length=1, max_length=const.MAX_ID_LENGTH, **kwargs)


def Status(**kwargs: Any) -> Text:
    return Text(min_length=1, max_length=const.MAX_ID_LENGTH, **kwargs)


class UtcDateTime(fields.Field):
    """ISO 8601 in (no zone means UTC); `YYYY-MM-DDTHH:MM:SS.mmmZ` out."""

    default_error_messages = {"invalid": "Not a valid ISO 8601 datetime."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_datetime(value)
        except ValueError:
            raise self.make_error("invalid") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime):
            return format_datetime(value)
        return value


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class DefaultsForNulls(StrictSchema):
    """Optional fields sent as `null` take their default, as the previous service did."""

    defaults: dict[str, Any] = {}

    @post_load
    def fill_defaults(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for name, default in self.defaults.items():
            if data.get(name) is None:
                data[name] = default() if callable(default) else default
        return data


def new_uuid() -> str:
    return str(uuid.uuid4())


class RunSchema(StrictSchema):
    run_uuid = Identifier(required=True)
    run_datetime = UtcDateTime(required=True)


class JobSchema(DefaultsForNulls):
    defaults = {"job_uuid": new_uuid, "job_associated_agent": "Unknown", "job_status": "Running"}

    job_uuid = Identifier(allow_none=True)
    run_uuid = Identifier(required=True)
    job_datetime = UtcDateTime(required=True)
    job_associated_agent = Text(max_length=const.MAX_ID_LENGTH, allow_none=True)
    job_status = Status(allow_none=True)


class EventSchema(DefaultsForNulls):
    defaults = {"event_uuid": new_uuid, "event_status": "Running"}

    event_uuid = Identifier(allow_none=True)
    event_content = Text(required=True)
    job_uuid = Identifier(required=True)
    event_datetime = UtcDateTime(required=True)
    event_status = Status(allow_none=True)


class JobStatusSchema(StrictSchema):
    job_uuid = Identifier(required=True)
    job_status = Status(required=True)


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


class JobsQuery(PageQuery):
    run_uuid = Text()


class EventsQuery(StrictSchema):
    job_uuid = Text(required=True)


class RunPath(StrictSchema):
    run_uuid = Identifier(required=True)


run_schema = RunSchema()
job_schema = JobSchema()
event_schema = EventSchema()
job_status_schema = JobStatusSchema()
event_status_schema = EventStatusSchema()
page_query = PageQuery()
jobs_query = JobsQuery()
events_query = EventsQuery()
run_path = RunPath()
