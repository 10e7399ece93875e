"""Jobs: list (filtered, optionally of one run), read one, create (registering its run if
needed), set status. Writes broadcast from the store's `then` (see runs.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from armada.http.created import Created
from armada.http import search
from armada.http.parsing import json_response, load_body, load_match, load_query
from armada.http.schemas import (
    job_out,
    job_path,
    job_schema,
    job_status_schema,
    jobs_query,
    run_out,
)
from armada.keys import store_key, stream_key


async def list_jobs(request: web.Request) -> web.Response:
    query = load_query(request, jobs_query)
    if "q" in query:
        return await search.search_jobs(request, query)
    jobs, total = await request.app[store_key].list_jobs(
        query.get("run_uuid"), query["page"], query["page_size"], status=query.get("status"),
        agent=query.get("agent"), since=query.get("since"), until=query.get("until"),
    )
    return json_response({
        "jobs": job_out.many(jobs),
        "total": total,
        "page": query["page"],
        "page_size": query["page_size"],
    })


async def get_job(request: web.Request) -> web.Response:
    job_uuid = load_match(request, job_path)["job_uuid"]
    return json_response(job_out.one(await request.app[store_key].get_job(job_uuid)))


async def create_job(request: web.Request) -> web.Response:
    job = await load_body(request, job_schema)
    stream = request.app[stream_key]
    created = Created(job_out, lambda data: stream.broadcast("new_job", data))

    def announce(outcome: tuple[dict[str, Any], bool, dict[str, Any] | None]) -> None:
        new_run = outcome[2]
        if new_run is not None:  # the run first: the job's message refers to it
            stream.broadcast("new_run", run_out.one(new_run))
        created(outcome)

    return created.response(await request.app[store_key].create_job(job, then=announce))


async def update_job_status(request: web.Request) -> web.Response:
    change = await load_body(request, job_status_schema)
    store, stream = request.app[store_key], request.app[stream_key]
    run_uuid = await stream.owners.of_job(store, change["job_uuid"])
    await store.update_job_status(
        change["job_uuid"], change["job_status"],
        then=lambda _: stream.broadcast("update_job_status", change, run_uuid=run_uuid))
    return json_response({"ok": True})
