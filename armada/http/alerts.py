"""GET /api/alerts/deliveries: the newest deliveries of the outbox (every instance's), with
their attempts and last error; `status` (pending, sent, failed) and `limit` narrow it."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from armada import const
from armada.alerts import queue
from armada.http.parsing import json_response, load_query
from armada.http.schemas import StrictSchema
from armada.keys import store_key

STATUSES = ("pending", "sent", "failed")


class DeliveriesQuery(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=const.DEFAULT_DELIVERIES_LIMIT,
                           validate=validate.Range(min=1, max=const.MAX_DELIVERIES_LIMIT))


class DeliverySchema(Schema):
    """One delivery: what it tells of (event, rule, run, job), where it goes, how it went."""

    delivery_id = fields.String(required=True)  # its webhook-id, the same on every attempt
    rule_name = fields.String(required=True)
    target = fields.String(required=True)
    event = fields.String(required=True)
    run_uuid = fields.String(required=True)
    job_uuid = fields.String(allow_none=True)
    occurrences = fields.Integer(required=True)  # changes it stands for (a rate limit's)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    created_datetime = fields.DateTime(required=True)
    next_attempt_datetime = fields.DateTime(required=True)
    last_attempt_datetime = fields.DateTime(allow_none=True)
    sent_datetime = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class DeliveriesSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)


deliveries_query = DeliveriesQuery()


async def list_deliveries(request: web.Request) -> web.Response:
    query = load_query(request, deliveries_query)
    rows = await request.app[store_key].read(queue.deliveries, query.get("status"),
                                             query["limit"])
    return json_response({"deliveries": rows})
