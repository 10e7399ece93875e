"""Runs: list and read one (with the counts of their jobs), register (idempotent), delete.

Handlers parse, call the store and answer; what a write changed reaches the stream from
the store, after its commit (armada/changes.py).
"""

from __future__ import annotations

from aiohttp import web

from armada.errors import ValidationFailed
from armada.http import search
from armada.http.parsing import (
    created_response,
    json_response,
    load_body,
    load_match,
    load_query,
    refuse_far_future,
)
from armada.http.schemas import run_out, run_path, run_schema, run_summary_out, runs_query
from armada.keys import store_key


async def list_runs(request: web.Request) -> web.Response:
    query = load_query(request, runs_query)
    if "q" in query:
        if "run_status" in query:
            raise ValidationFailed("run_status is not searched", {"run_status": [
                "Not together with q."]})
        return await search.search_runs(request, query)
    runs, total = await request.app[store_key].list_runs(
        query["page"], query["page_size"], query.get("since"), query.get("until"),
        query.get("run_status"),
    )
    return json_response({
        "runs": run_summary_out.many(runs),
        "total": total,
        "page": query["page"],
        "page_size": query["page_size"],
    })


async def get_run(request: web.Request) -> web.Response:
    run_uuid = load_match(request, run_path)["run_uuid"]
    return json_response(run_summary_out.one(await request.app[store_key].get_run(run_uuid)))


async def create_run(request: web.Request) -> web.Response:
    run = await load_body(request, run_schema)
    refuse_far_future(request, {"run_datetime": run["run_datetime"]})
    written = await request.app[store_key].create_run(run)
    return created_response(run_out, written)


async def delete_run(request: web.Request) -> web.Response:
    run_uuid = load_match(request, run_path)["run_uuid"]
    await request.app[store_key].delete_run(run_uuid)
    return json_response({"ok": True})
