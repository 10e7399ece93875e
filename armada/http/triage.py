"""Failure triage: what the live page shows, one read per view, added beside the lists
(whose shapes stay as they are). Runs with their newest failure; a run with its jobs and
their reports and last messages; the Failed and Lost jobs of every run; a search whose hits
name their job's run and agent."""

from __future__ import annotations

from aiohttp import web

from armada.http.parsing import json_response, load_match, load_query
from armada.http.schemas import (
    encode_cursor,
    failures_query,
    job_report_out,
    run_path,
    search_hit_out,
    triage_run_out,
    triage_run_query,
    triage_runs_query,
    triage_search_query,
)
from armada.keys import store_key


async def list_runs(request: web.Request) -> web.Response:
    query = load_query(request, triage_runs_query)
    runs, total = await request.app[store_key].list_runs_with_failures(
        query["page"], query["page_size"], query.get("since"), query.get("until"),
        query.get("run_status"))
    return json_response({"runs": triage_run_out.many(runs), "total": total,
                          "page": query["page"], "page_size": query["page_size"]})


async def get_run(request: web.Request) -> web.Response:
    run_uuid = load_match(request, run_path)["run_uuid"]
    query = load_query(request, triage_run_query)
    run, jobs, total = await request.app[store_key].get_run_with_jobs(
        run_uuid, query["page"], query["page_size"])
    return json_response({"run": triage_run_out.one(run), "jobs": job_report_out.many(jobs),
                          "total": total, "page": query["page"],
                          "page_size": query["page_size"]})


async def list_failures(request: web.Request) -> web.Response:
    query = load_query(request, failures_query)
    jobs, position = await request.app[store_key].list_failures_page(
        query["limit"], query.get("before"), query.get("since"), query.get("until"))
    return json_response({"failures": job_report_out.many(jobs),
                          "next": encode_cursor(position)})


async def search_events(request: web.Request) -> web.Response:
    query = load_query(request, triage_search_query)
    events, position = await request.app[store_key].search_events_with_jobs(
        query["q"].split(), query.get("run_uuid"), query.get("job_uuid"), query["limit"],
        query.get("before"))
    return json_response({"events": search_hit_out.many(events),
                          "next": encode_cursor(position)})
