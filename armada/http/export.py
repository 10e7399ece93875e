"""`GET /api/runs/{run_uuid}/export?format=ndjson|csv`: a run, its jobs and all their events
as one download, streamed in constant memory.

The run comes first, then each job followed by its events (newest first, as the API lists
them), so that an import can create every record after the one it belongs to. Jobs are read
EXPORT_JOBS_CHUNK at a time and each job's events EVENTS_LIST_CHUNK at a time, each chunk in
its own short read transaction: one chunk of records is in memory at a time.

NDJSON: one object per line, `{"kind": "run"|"job"|"event", ...the record as the API shows
it}`, and a last line `{"kind": "end", "runs": 1, "jobs": J, "events": E}` written only
once everything before it was: a file cut short (an export killed, a connection broken) has
none, or counts that do not match, and `armada import` refuses it. CSV: one table, a `kind`
column then the union of the three records' columns (EXPORT_CSV_COLUMNS); a row fills the
columns of its record and leaves the others empty.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiohttp import web

from armada import const
from armada.http.deadlines import answer_started
from armada.http.parsing import keyset_pages, load_match, load_query, write_chunks
from armada.http.schemas import event_out, export_query, job_out, run_out, run_path
from armada.jsonutil import encode
from armada.keys import store_key
from armada.store import Store

log = logging.getLogger(__name__)

EXPORT_JOBS_CHUNK = 100
EXPORT_CSV_COLUMNS = (
    "kind", "run_uuid", "run_datetime", "job_uuid", "job_datetime", "job_associated_agent",
    "job_status", "event_uuid", "event_content", "event_datetime", "event_status",
)
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}
# A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Item = tuple[str, dict[str, Any]]


async def export_run(request: web.Request) -> web.StreamResponse:
    run_uuid = load_match(request, run_path)["run_uuid"]
    kind = load_query(request, export_query)["format"]
    store = request.app[store_key]
    # Read before the first byte: an unknown run is an ordinary 404 JSON answer.
    run = run_out.one(await store.get_run(run_uuid))
    encoder = _ndjson_lines if kind == "ndjson" else functools.partial(_csv_lines, run_uuid)
    answer_started(request)
    response = web.StreamResponse(headers={
        "Content-Disposition": f'attachment; filename="run-{_file_safe(run_uuid)}.{kind}"'})
    response.content_type = MEDIA_TYPES[kind]
    response.charset = "utf-8"
    await response.prepare(request)
    if kind == "csv":
        await response.write(encoder([("header", {})]))
    await response.write(encoder([("run", run)]))
    written = Counter({"run": 1})
    contents = run_contents(store, run_uuid)
    items = _counted(contents, written)
    try:
        if await write_chunks(request, response, items, encoder, sent=1, what="export",
                              unit="records"):
            if kind == "ndjson":
                await response.write(end_line(written))
            await response.write_eof()
    except ConnectionError:
        log.debug("%s %s: the client left before the end", request.method, request.path)
    finally:
        await items.aclose()
        await contents.aclose()
    return response


async def run_contents(store: Store, run_uuid: str) -> AsyncGenerator[list[Item], None]:
    """The run's jobs, each followed by its events, as chunks of (kind, API record).

    Each page of jobs starts strictly after the last job of the one before, so a job added
    during the export (the newest) shifts nothing: every job present throughout comes
    exactly once. Legacy jobs without a datetime come last, in uuid order."""
    dated = keyset_pages(lambda position: store.list_jobs_of_run_page(
        run_uuid, EXPORT_JOBS_CHUNK, position))
    undated = keyset_pages(lambda after: store.list_undated_jobs_of_run_page(
        run_uuid, EXPORT_JOBS_CHUNK, after or ""))
    for pages in (dated, undated):
        async for jobs in pages:
            for job in jobs:
                yield [("job", job_out.one(job))]
                async for events in keyset_pages(
                        lambda position, job_uuid=job["job_uuid"]: store.list_events_page(
                            job_uuid, const.EVENTS_LIST_CHUNK, position)):
                    yield [("event", event) for event in event_out.many(events)]


async def _counted(chunks: AsyncIterator[list[Item]], counts: Counter[str]
                   ) -> AsyncGenerator[list[Item], None]:
    """The chunks as they come, each record counted by its kind."""
    async for chunk in chunks:
        counts.update(kind for kind, _ in chunk)
        yield chunk


def end_line(counts: Counter[str]) -> bytes:
    """The NDJSON export's last line: how many runs, jobs and events the lines before hold."""
    return encode({"kind": const.EXPORT_END, "runs": counts["run"], "jobs": counts["job"],
                   "events": counts["event"]}) + b"\n"


def _ndjson_lines(items: list[Item]) -> bytes:
    return b"".join(encode({"kind": kind, **record}) + b"\n" for kind, record in items)


def _csv_lines(run_uuid: str, items: list[Item]) -> bytes:
    """CSV rows of `items`; an event's row names its run too (the API's event does not)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    for kind, record in items:
        if kind == "header":
            writer.writerow(EXPORT_CSV_COLUMNS)
        else:
            record = {"run_uuid": run_uuid, **record}
            writer.writerow([kind, *(_cell(record.get(column))
                                     for column in EXPORT_CSV_COLUMNS[1:])])
    return text.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    """The value as text that a spreadsheet shows as text: one that would start a formula
    gets a leading single quote, which spreadsheets read as "text follows"."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _file_safe(run_uuid: str) -> str:
    """The uuid as a file name inside a quoted header value: no quotes, slashes or controls."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_uuid)[:200]
