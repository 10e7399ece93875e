"""Runs: list and read one (with the counts of their jobs), register (idempotent), delete."""

from __future__ import annotations

from aiohttp import web

from armada.handlers.parsing import json_response, load_body, load_match, load_query
from armada.keys import broadcaster_key, store_key
from armada.schemas import run_out, run_path, run_schema, run_summary_out, runs_query


async def list_runs(request: web.Request) -> web.Response:
    query = load_query(request, runs_query)
    runs, total = await request.app[store_key].list_runs(
        query["page"], query["page_size"], query.get("since"), query.get("until")
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
    stored, created = await request.app[store_key].create_run(run)
    data = run_out.one(stored)
    if created:
        request.app[broadcaster_key].broadcast("new_run", data)
    return json_response(data, status=201 if created else 200)


async def delete_run(request: web.Request) -> web.Response:
    run_uuid = load_match(request, run_path)["run_uuid"]
    await request.app[store_key].delete_run(run_uuid)
    request.app[broadcaster_key].broadcast("delete_run", {"run_uuid": run_uuid})
    return json_response({"ok": True})
