"""The API description: OpenAPI 3 built from the marshmallow schemas and the routes table.

Each route of `routes.ROUTES` is described once, in `DESCRIPTIONS` below: its query, path
and body schemas and what it answers. A route without a description still appears (with
the error answer only) and `tests/test_openapi.py` fails until it gets one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import INCLUDE, Schema, fields

from armada import const
from armada.http import alerts, export, schemas
from armada.http.routes import ROUTES

TITLE = "Armada Backend"
VERSION = "0.1.0"
DESCRIPTION = """\
Tracking service of the Armada automation platform: runs, jobs and events.

Every path also answers without its trailing slash. Every committed change is sent to
the clients of the WebSocket `/ws/events/` (not described here: OpenAPI has no WebSocket)
as `{"type": T, "data": D}`. With tokens configured, requests need
`Authorization: Bearer <token>` (the WebSocket takes `?token=`).
"""


class ErrorSchema(Schema):
    """Every error: a stable code, a sentence, and for validation the fields at fault."""

    class Meta:
        unknown = INCLUDE

    error = fields.String(required=True)
    detail = fields.String(required=True)
    # Field name -> messages; nested (e.g. per item of a batch) for nested input.
    fields_ = fields.Dict(data_key="fields", keys=fields.String())


class OkSchema(Schema):
    ok = fields.Boolean(required=True)


class StatusSchema(Schema):
    status = fields.String(required=True)


def _page(name: str, item: type[Schema]) -> type[Schema]:
    return Schema.from_dict({
        name: fields.List(fields.Nested(item), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "page_size": fields.Integer(required=True),
    }, name=f"{name.capitalize()}Page")


RunsPage = _page("runs", schemas.RunSummarySchema)
JobsPage = _page("jobs", schemas.JobSchema)
BatchResult = Schema.from_dict({
    "created": fields.List(fields.String(), required=True),
    "existing": fields.List(fields.String(), required=True),
    "events": fields.List(fields.Nested(schemas.EventSchema), required=True),
}, name="BatchResult")

# A response: a schema, or a raw OpenAPI schema dict.
Answer = type[Schema] | dict[str, Any]


@dataclass(frozen=True)
class Description:
    summary: str
    responses: dict[int, Answer]
    query: type[Schema] | None = None
    path: type[Schema] | None = None
    body: type[Schema] | None = None
    tags: tuple[str, ...] = field(default=())
    # What a success is sent as.
    media_types: tuple[str, ...] = ("application/json",)


EVENTS_LIST = {"oneOf": [
    {"type": "array", "items": schemas.EventSchema},
    schemas.EventsPageSchema,
]}

DESCRIPTIONS: dict[tuple[str, str], Description] = {
    ("GET", "/api/runs/"): Description(
        "Runs, newest first, with the counts of their jobs", {200: RunsPage},
        query=schemas.RunsQuery),
    ("POST", "/api/runs/"): Description(
        "Register a run (idempotent: 200 with the stored run when it exists)",
        {201: schemas.RunSchema, 200: schemas.RunSchema}, body=schemas.RunSchema),
    ("GET", "/api/runs/{run_uuid}"): Description(
        "One run with the counts of its jobs", {200: schemas.RunSummarySchema},
        path=schemas.RunPath),
    ("DELETE", "/api/runs/{run_uuid}"): Description(
        "Delete a run with its jobs and events, in one transaction", {200: OkSchema},
        path=schemas.RunPath),
    ("GET", "/api/runs/{run_uuid}/export"): Description(
        "A run, its jobs and all their events as one file, streamed: NDJSON (its last "
        "line, kind end, counts the records) or CSV",
        {200: {"type": "string"}}, path=schemas.RunPath, query=schemas.ExportQuery,
        media_types=tuple(export.MEDIA_TYPES.values())),
    ("GET", "/api/jobs/"): Description(
        "Jobs, newest first, optionally of one run", {200: JobsPage}, query=schemas.JobsQuery),
    ("POST", "/api/jobs/"): Description(
        "Create a job (registers its run when that is not known yet)",
        {201: schemas.JobSchema, 200: schemas.JobSchema}, body=schemas.JobSchema),
    ("PATCH", "/api/jobs/status"): Description(
        "Set a job's status", {200: OkSchema}, body=schemas.JobStatusSchema),
    ("GET", "/api/jobs/{job_uuid}"): Description(
        "One job", {200: schemas.JobSchema}, path=schemas.JobPath),
    ("GET", "/api/events/"): Description(
        "Events of a job, or of every job without `job_uuid`, newest first: all of them "
        "(streamed), or with `limit` one page and the cursor of the next", {200: EVENTS_LIST},
        query=schemas.EventsQuery),
    ("POST", "/api/events/"): Description(
        "Create an event of an existing job", {201: schemas.EventSchema, 200: schemas.EventSchema},
        body=schemas.EventSchema),
    ("POST", "/api/events/batch"): Description(
        "Create up to 1000 events in one transaction: all are stored, or none",
        {201: BatchResult, 200: BatchResult}, body=schemas.EventBatchSchema),
    ("PATCH", "/api/events/status"): Description(
        "Set an event's status", {200: OkSchema}, body=schemas.EventStatusSchema),
    ("GET", "/api/events/{event_uuid}"): Description(
        "One event", {200: schemas.EventSchema}, path=schemas.EventPath),
    ("GET", "/api/triage/runs/"): Description(
        "Runs as GET /api/runs/, each with its newest Failed or Lost job and its failure line",
        {200: schemas.TriageRunsPageSchema}, query=schemas.TriageRunsQuery),
    ("GET", "/api/triage/runs/{run_uuid}"): Description(
        "A run and up to 1000 of its jobs, newest first, each with its first and last report, "
        "last message and failure line", {200: schemas.RunJobsSchema}, path=schemas.RunPath,
        query=schemas.TriageRunQuery),
    ("GET", "/api/triage/failures/"): Description(
        "The Failed and Lost jobs of every run, newest first, with their failure lines",
        {200: schemas.FailuresPageSchema}, query=schemas.FailuresQuery),
    ("GET", "/api/triage/search/"): Description(
        "Events whose content contains every word of `q` (all, a run's or a job's), newest "
        "first, each with its job's run, agent and status", {200: schemas.SearchHitsPageSchema},
        query=schemas.TriageSearchQuery),
    ("GET", "/api/alerts/deliveries"): Description(
        "The newest alert deliveries (every instance's), with their attempts and last error",
        {200: alerts.DeliveriesSchema}, query=alerts.DeliveriesQuery, tags=("alerts",)),
    ("GET", const.HEALTH_PATH): Description(
        "Liveness: the process answers (no I/O)", {200: StatusSchema}, tags=("operations",)),
    ("GET", const.READY_PATH): Description(
        "Readiness: the database answered in time (503 with the reason when not)",
        {200: StatusSchema}, tags=("operations",)),
}
# Routes outside the REST surface: the WebSocket, the description itself and its page.
UNDESCRIBED_PREFIXES = (const.WEBSOCKET_PREFIX, const.DOCS_PATH, const.OPENAPI_PATH,
                        const.METRICS_PATH)
OPERATIONS_PATHS = (const.HEALTH_PATH, const.READY_PATH)


def described_routes() -> list[tuple[str, str]]:
    routes = [(method, path) for method, path, _handler in ROUTES]
    routes += [("GET", path) for path in OPERATIONS_PATHS]
    return [(method, path) for method, path in routes if not path.startswith(UNDESCRIBED_PREFIXES)]


def build_openapi() -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title=TITLE, version=VERSION, openapi_version="3.0.3", plugins=[plugin],
        info={"description": DESCRIPTION},
        # Relative to this document: right behind a proxy that adds a path prefix too.
        servers=[{"url": "..", "description": "this service"}],
        security=[{}, {"bearer": []}],
    )
    plugin.map_to_openapi_type(schemas.UtcDateTime, "string", "date-time")
    plugin.map_to_openapi_type(schemas.PageCursor, "string", None)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in described_routes():
        description = DESCRIPTIONS.get((method, path))
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, description)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(method: str, path: str, description: Description | None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}{path.replace('/', '_').replace('{', '').replace('}', '')}"
                       .rstrip("_"),
        "summary": description.summary if description else f"{method} {path}",
        "tags": list(description.tags if description and description.tags
                     else (path.split("/")[2],)),
        "responses": {"default": {"description": "An error, in the one JSON error shape",
                                  "content": {"application/json": {"schema": "Error"}}}},
    }
    if description is None:
        return operation
    parameters = [{"in": "path", "schema": description.path}] if description.path else []
    if description.query is not None:
        parameters.append({"in": "query", "schema": description.query})
    if parameters:
        operation["parameters"] = parameters
    if description.body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": description.body}},
        }
    for status, answer in description.responses.items():
        operation["responses"][str(status)] = {
            "description": {200: "OK", 201: "Created"}.get(status, "Answer"),
            "content": {media_type: {"schema": answer}
                        for media_type in description.media_types},
        }
    return operation


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema") or cls.__name__
