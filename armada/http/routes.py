"""The table of contents of the API. Every path answers with and without a trailing slash."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from armada.http import alerts, events, export, jobs, page, runs, triage, websocket

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/runs/", runs.list_runs),
    ("POST", "/api/runs/", runs.create_run),
    ("GET", "/api/runs/{run_uuid}", runs.get_run),
    ("DELETE", "/api/runs/{run_uuid}", runs.delete_run),
    ("GET", "/api/runs/{run_uuid}/export", export.export_run),
    ("GET", "/api/jobs/", jobs.list_jobs),
    ("POST", "/api/jobs/", jobs.create_job),
    ("PATCH", "/api/jobs/status", jobs.update_job_status),
    # Only PATCH is routed to .../status: a GET of it reads the job (or event) named "status".
    ("GET", "/api/jobs/{job_uuid}", jobs.get_job),
    ("GET", "/api/events/", events.list_events),
    ("POST", "/api/events/", events.create_event),
    ("POST", "/api/events/batch", events.create_events),
    ("PATCH", "/api/events/status", events.update_event_status),
    ("GET", "/api/events/{event_uuid}", events.get_event),
    # Read-only views for failure triage (the live page): one read per view.
    ("GET", "/api/triage/runs/", triage.list_runs),
    ("GET", "/api/triage/runs/{run_uuid}", triage.get_run),
    ("GET", "/api/triage/failures/", triage.list_failures),
    ("GET", "/api/triage/search/", triage.search_events),
    ("GET", "/api/alerts/deliveries", alerts.list_deliveries),
    ("GET", "/ws/events/", websocket.events_stream),
]


def setup_routes(app: web.Application) -> list[web.AbstractRoute]:
    """The API's routes (returned, for CORS), and the live page at `/` (page.py)."""
    page.setup_page(app)
    added = []
    for method, path, handler in ROUTES:
        bare = path.rstrip("/")
        for variant in (bare, bare + "/"):
            added.append(app.router.add_route(method, variant, handler))
    return added
