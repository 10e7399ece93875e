"""GET /api/alerts/deliveries: the newest deliveries of the outbox (every instance's), with
their attempts and last error; `status` (pending, sent, failed) and `limit` narrow it."""

from __future__ import annotations

from aiohttp import web
from marshmallow import fields, validate

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


deliveries_query = DeliveriesQuery()


async def list_deliveries(request: web.Request) -> web.Response:
    query = load_query(request, deliveries_query)
    rows = await request.app[store_key].read(queue.deliveries, query.get("status"),
                                             query["limit"])
    return json_response({"deliveries": rows})
