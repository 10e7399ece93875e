"""A run moved between instances through the HTTP API (`armada export RUN` and `armada import
FILE`, armada/cli/transfer.py).

Export writes the service's `/api/runs/{run_uuid}/export` answer to stdout as it arrives.
Import reads an NDJSON export through once to check that it is whole (its last line, the
end line, counts the records before it: a file cut short is refused, nothing imported), then
sends each record through the API's idempotent creates
(`POST /api/runs/`, `POST /api/jobs/`, events through `POST /api/events/batch`), so that
importing twice changes nothing (a status that moved on in the copy is kept: the creates never
compare statuses). A record the instance holds with other values (a 409, or a
run registered at another instant) is reported on stderr and left as it is; the rest is
still imported, and the exit code is then 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO
from urllib.parse import quote

import aiohttp

from armada import const
from armada.remote.service import bearer_headers, describe

# What one POST /api/events/batch takes.
IMPORT_BATCH = const.MAX_BATCH_EVENTS
REQUEST_TIMEOUT_SECONDS = 60.0
RECORD_FIELDS = {
    "run": ("run_uuid", "run_datetime"),
    "job": ("job_uuid", "run_uuid", "job_datetime", "job_associated_agent", "job_status"),
    "event": ("event_uuid", "event_content", "job_uuid", "event_datetime", "event_status"),
}


class Refused(Exception):
    """The service refused a request in a way no record-by-record retry can fix."""


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_FIELDS, 0))
    existing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_FIELDS, 0))
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(f"{kind}s: {self.created[kind]} created, {self.existing[kind]} existing"
                         for kind in RECORD_FIELDS) + f"; {len(self.conflicts)} conflicts"


def api_url(url: str, path: str) -> str:
    return url.rstrip("/") + "/" + path.lstrip("/")


async def _reason(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        body = None
    return describe(response.status, body, response.reason)


async def export_run(url: str, run_uuid: str, kind: str, out: BinaryIO,
                     token: str | None = None) -> None:
    """Write the run's export to `out` as it arrives; Refused when the service says no."""
    address = api_url(url, f"api/runs/{quote(run_uuid, safe='')}/export")
    timeout = aiohttp.ClientTimeout(total=None, sock_read=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(headers=bearer_headers(token), timeout=timeout) as session:
        async with session.get(address, params={"format": kind}) as response:
            if response.status != 200:
                raise Refused(await _reason(response))
            async for chunk in response.content.iter_chunked(1 << 16):
                out.write(chunk)
    out.flush()


def _lines_of_export(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, kind, object) of each line; ValueError naming a line that is not one."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"line {number}: not JSON ({error.msg})") from None
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in RECORD_FIELDS and kind != const.EXPORT_END:
            raise ValueError(f"line {number}: no kind run, job, event or end")
        yield number, kind, item


def check_export(lines: Iterable[str]) -> None:
    """ValueError unless `lines` are a whole export: records, then the end line counting them."""
    held: Counter[str] = Counter()
    end: dict[str, Any] | None = None
    for number, kind, item in _lines_of_export(lines):
        if end is not None:
            raise ValueError(f"line {number}: a line after the end line")
        if kind == const.EXPORT_END:
            end = item
        else:
            held[kind] += 1
    if end is None:
        raise ValueError("no end line: the export is incomplete (cut short?)")
    said = {kind: end.get(f"{kind}s") for kind in RECORD_FIELDS}
    if said != {kind: held[kind] for kind in RECORD_FIELDS}:
        raise ValueError(f"the end line counts {_counts(said)} but the file holds "
                         f"{_counts(held)}: the export is incomplete")


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{kind}s {counts[kind]}" for kind in RECORD_FIELDS)


def read_export(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, record) of each record line of an NDJSON export (check_export checks the rest)."""
    for _, kind, item in _lines_of_export(lines):
        if kind != const.EXPORT_END:
            yield kind, {name: item[name] for name in RECORD_FIELDS[kind] if name in item}


class Importer:
    def __init__(self, session: aiohttp.ClientSession, url: str, err: TextIO) -> None:
        self.session = session
        self.url = url
        self.err = err
        self.report = ImportReport()
        self.events: list[dict[str, Any]] = []

    async def add(self, kind: str, record: dict[str, Any]) -> None:
        if kind == "event":
            self.events.append(record)
            if len(self.events) >= IMPORT_BATCH:
                await self.flush()
            return
        # Events refer to jobs already sent; a job may refer to the run: keep the file's order.
        await self.flush()
        await self._create(kind, record)

    async def flush(self) -> None:
        batch, self.events = self.events, []
        if not batch:
            return
        status, body = await self._post("api/events/batch", {"events": batch})
        if status in (200, 201):
            self.report.created["event"] += len(body["created"])
            self.report.existing["event"] += len(body["existing"])
            return
        if status not in (404, 409, 422):
            raise Refused(describe(status, body))
        # One event failed the whole batch: send each alone, so only that one is reported.
        for event in batch:
            await self._create("event", event)

    async def _create(self, kind: str, record: dict[str, Any]) -> None:
        status, body = await self._post(f"api/{kind}s/", record)
        if status == 201:
            self.report.created[kind] += 1
        elif status == 200:
            self.report.existing[kind] += 1
            # A run is idempotent on its uuid alone: another instant is not an error to the
            # API, but the imported run is not the one stored.
            if kind == "run" and body.get("run_datetime") != record.get("run_datetime"):
                self._conflict(kind, record, f"stored with run_datetime {body.get('run_datetime')}"
                                             f", the file says {record.get('run_datetime')}")
        elif status in (404, 409, 422):
            self._conflict(kind, record, describe(status, body))
        else:
            raise Refused(describe(status, body))

    def _conflict(self, kind: str, record: dict[str, Any], why: str) -> None:
        line = f"{kind} {record.get(f'{kind}_uuid')}: {why}"
        self.report.conflicts.append(line)
        print(f"armada import: not imported: {line}", file=self.err, flush=True)

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(api_url(self.url, path), json=body) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            return response.status, answer


async def import_file(url: str, lines: TextIO, err: TextIO,
                      token: str | None = None) -> ImportReport:
    """Import the export `lines` (read twice: checked whole first); ValueError, nothing
    imported, when it is not a whole export."""
    check_export(lines)
    lines.seek(0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(headers=bearer_headers(token), timeout=timeout) as session:
        importer = Importer(session, url, err)
        for kind, record in read_export(lines):
            await importer.add(kind, record)
        await importer.flush()
        return importer.report
