"""Events: the full list of one job, create (its job must exist), set status."""

from __future__ import annotations

from aiohttp import web

from armada.handlers.parsing import json_response, load_body, load_query
from armada.keys import broadcaster_key, store_key
from armada.schemas import event_schema, event_status_schema, events_query


async def list_events(request: web.Request) -> web.Response:
    query = load_query(request, events_query)
    events = await request.app[store_key].list_events(query["job_uuid"])
    return json_response(event_schema.dump(events, many=True))


async def create_event(request: web.Request) -> web.Response:
    event = await load_body(request, event_schema)
    stored, created = await request.app[store_key].create_event(event)
    data = event_schema.dump(stored)
    if created:
        request.app[broadcaster_key].broadcast("new_event", data)
    return json_response(data, status=201 if created else 200)


async def update_event_status(request: web.Request) -> web.Response:
    change = await load_body(request, event_status_schema)
    await request.app[store_key].update_event_status(
        change["event_uuid"], change["event_status"]
    )
    request.app[broadcaster_key].broadcast("update_event_status", change)
    return json_response({"ok": True})
