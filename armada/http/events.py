"""Events: the list of one job or of every job (whole and streamed, or a page), read one,
create (its job must exist), set status. Writes broadcast from the store's `then` (see
runs.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from armada import const
from armada.http.created import Created
from armada.http import search
from armada.http.parsing import (
    json_list_response,
    json_response,
    load_body,
    load_match,
    load_query,
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
from armada.keys import store_key, stream_key
from armada.store import Store


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
    throughout comes exactly once, in order, whatever is written meanwhile."""
    position = None
    while True:
        events, position = await store.list_events_page(
            job_uuid, const.EVENTS_LIST_CHUNK, position, **filters)
        yield event_out.many(events)
        if position is None:
            return


async def get_event(request: web.Request) -> web.Response:
    event_uuid = load_match(request, event_path)["event_uuid"]
    return json_response(event_out.one(await request.app[store_key].get_event(event_uuid)))


async def create_event(request: web.Request) -> web.Response:
    event = await load_body(request, event_schema)
    store, stream = request.app[store_key], request.app[stream_key]
    # The run, for the stream's run filters (a job never changes run).
    run_uuid = await stream.owners.of_job(store, event["job_uuid"])
    created = Created(event_out, lambda data: stream.broadcast("new_event", data,
                                                                    run_uuid=run_uuid))
    return created.response(await store.create_event(event, then=created))


async def update_event_status(request: web.Request) -> web.Response:
    change = await load_body(request, event_status_schema)
    store, stream = request.app[store_key], request.app[stream_key]
    job_uuid, run_uuid = await stream.owners.of_event(store, change["event_uuid"])
    await store.update_event_status(
        change["event_uuid"], change["event_status"],
        then=lambda _: stream.broadcast("update_event_status", change, run_uuid=run_uuid,
                                             job_uuid=job_uuid))
    return json_response({"ok": True})


async def create_events(request: web.Request) -> web.Response:
    """Up to MAX_BATCH_EVENTS events in one transaction: all are stored, or none."""
    batch = await load_body(request, event_batch_schema)
    store, stream = request.app[store_key], request.app[stream_key]
    # Runs looked up before the write, as in create_event (for the stream's run filters).
    run_of_job = {job_uuid: await stream.owners.of_job(store, job_uuid)
                  for job_uuid in {event["job_uuid"] for event in batch["events"]}}
    records: list[dict[str, Any]] = []

    def announce(outcomes: list[tuple[dict[str, Any], bool]]) -> None:
        for stored, created in outcomes:
            record = event_out.one(stored)
            records.append(record)
            if created:
                stream.broadcast("new_event", record,
                                      run_uuid=run_of_job.get(record["job_uuid"]))

    results = await store.create_events(batch["events"], then=announce)
    created_uuids = [stored["event_uuid"] for stored, created in results if created]
    return json_response(
        {
            "created": created_uuids,
            "existing": [stored["event_uuid"] for stored, created in results if not created],
            "events": records,
        },
        status=201 if created_uuids else 200,
    )
