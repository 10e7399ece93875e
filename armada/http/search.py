"""`q=` of the lists: the events whose content contains words, the runs and jobs whose ids
(and agents) contain a piece of text. Called by the list handlers when `q` is given; the
other filters and the paging are theirs."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from armada import const
from armada.http.parsing import json_list_response, json_response, keyset_pages
from armada.http.schemas import encode_cursor, event_out, job_out, run_summary_out
from armada.keys import store_key
from armada.store import Store


async def search_events(request: web.Request, query: dict[str, Any]) -> web.StreamResponse:
    """Like the events list (whole and streamed, or a page with `limit`), of the events
    whose content contains every word of `q`."""
    store = request.app[store_key]
    terms = query["q"].split()
    job_uuid = query.get("job_uuid")
    filters = {name: query.get(name) for name in ("status", "since", "until")}
    if "limit" in query:
        events, position = await store.search_events_page(
            terms, job_uuid, query["limit"], query.get("before"), **filters)
        return json_response({"events": event_out.many(events), "next": encode_cursor(position)})
    return await json_list_response(request, _whole_search(store, terms, job_uuid, filters))


async def _whole_search(store: Store, terms: list[str], job_uuid: str | None,
                        filters: dict[str, Any]) -> AsyncGenerator[list[dict[str, Any]], None]:
    async for events in keyset_pages(lambda position: store.search_events_page(
            terms, job_uuid, const.EVENTS_LIST_CHUNK, position, **filters)):
        yield event_out.many(events)


async def search_runs(request: web.Request, query: dict[str, Any]) -> web.Response:
    runs, total = await request.app[store_key].search_runs(
        query["q"], query["page"], query["page_size"], query.get("since"), query.get("until"))
    return json_response({"runs": run_summary_out.many(runs), "total": total,
                          "page": query["page"], "page_size": query["page_size"]})


async def search_jobs(request: web.Request, query: dict[str, Any]) -> web.Response:
    jobs, total = await request.app[store_key].search_jobs(
        query["q"], query.get("run_uuid"), query["page"], query["page_size"],
        status=query.get("status"), agent=query.get("agent"), since=query.get("since"),
        until=query.get("until"))
    return json_response({"jobs": job_out.many(jobs), "total": total,
                          "page": query["page"], "page_size": query["page_size"]})
