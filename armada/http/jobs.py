"""Jobs: list (filtered, optionally of one run), read one, create (registering its run if
needed), set status. What a write changed reaches the stream from the store (see runs.py)."""

from __future__ import annotations

from aiohttp import web

from armada.http import search
from armada.http.parsing import (
    created_response,
    json_response,
    load_body,
    load_match,
    load_query,
    refuse_far_future,
)
from armada.http.schemas import (
    job_out,
    job_path,
    job_schema,
    job_status_schema,
    jobs_query,
)
from armada.keys import store_key


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
    refuse_far_future(request, {"job_datetime": job["job_datetime"]})
    written = await request.app[store_key].create_job(job)
    return created_response(job_out, written)


async def update_job_status(request: web.Request) -> web.Response:
    change = await load_body(request, job_status_schema)
    await request.app[store_key].update_job_status(change["job_uuid"], change["job_status"])
    return json_response({"ok": True})
