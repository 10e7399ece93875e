"""Events: the list of one job or of every job (whole and streamed, or a page), read one,
create (its job must exist), set status. What a write changed reaches the stream from the
store (see runs.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from armada import const
from armada.http import search
from armada.http.parsing import (
    created_response,
    json_list_response,
    json_response,
    json_text_response,
    keyset_pages,
    load_body,
    load_match,
    load_query,
    refuse_far_future,
)
from armada.http.schemas import (
    encode_cursor,
    event_batch_schema,
    event_out,
    event_path,
    event_schema,
    event_status_schema,
    events_query,
)
from armada.jsonutil import dumps
from armada.keys import store_key
from armada.store import Store
from armada.stream.records import written_json


async def list_events(request: web.Request) -> web.StreamResponse:
    """The events of a job, or of every job: the whole list, streamed; with `limit`, one page
    of it and the next cursor."""
    query = load_query(request, events_query)
    if "q" in query:
        return await search.search_events(request, query)
    store = request.app[store_key]
    job_uuid = query.get("job_uuid")
    filters = {name: query.get(name) for name in ("status", "since", "until")}
    if "limit" in query:
        events, position = await store.list_events_page(
            job_uuid, query["limit"], query.get("before"), **filters)
        return json_response({"events": event_out.many(events), "next": encode_cursor(position)})
    return await json_list_response(request, _whole_list(store, job_uuid, filters))


async def _whole_list(store: Store, job_uuid: str | None, filters: dict[str, Any]
                      ) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The list as pages of EVENTS_LIST_CHUNK events, each read in its own short transaction.
    Each page starts strictly after the last event of the one before: an event present
    throughout comes exactly once, in order, whatever is written meanwhile. Legacy events
    without a datetime come last, as they always did, unless a time range leaves them out."""
    async for events in keyset_pages(lambda position: store.list_events_page(
            job_uuid, const.EVENTS_LIST_CHUNK, position, **filters)):
        yield event_out.many(events)
    if filters["since"] is not None or filters["until"] is not None:
        return
    after: str | None = ""
    while after is not None:
        events, after = await store.list_undated_events_page(
            job_uuid, const.EVENTS_LIST_CHUNK, after, status=filters["status"])
        if events:
            yield event_out.many(events)


async def get_event(request: web.Request) -> web.Response:
    event_uuid = load_match(request, event_path)["event_uuid"]
    return json_response(event_out.one(await request.app[store_key].get_event(event_uuid)))


async def create_event(request: web.Request) -> web.Response:
    event = await load_body(request, event_schema)
    refuse_far_future(request, {"event_datetime": event["event_datetime"]})
    written = await request.app[store_key].create_event(event)
    return created_response(event_out, written)


async def update_event_status(request: web.Request) -> web.Response:
    change = await load_body(request, event_status_schema)
    await request.app[store_key].update_event_status(change["event_uuid"],
                                                     change["event_status"])
    return json_response({"ok": True})


async def create_events(request: web.Request) -> web.Response:
    """Up to MAX_BATCH_EVENTS events in one transaction: all are stored, or none."""
    batch = await load_body(request, event_batch_schema)
    refuse_far_future(request, {f"events.{index}.event_datetime": event["event_datetime"]
                                for index, event in enumerate(batch["events"])})
    results = await request.app[store_key].create_events(batch["events"])
    created = [written.record["event_uuid"] for written in results if written.created]
    existing = [written.record["event_uuid"] for written in results if not written.created]
    # The events in the JSON their messages carry, spliced rather than encoded again.
    events = ",".join(written_json(written, event_out) for written in results)
    body = f'{{"created":{dumps(created)},"existing":{dumps(existing)},"events":[{events}]}}'
    return json_text_response(body, 201 if created else 200)
