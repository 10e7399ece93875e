"""Specification of /api/events/: the list of one job or of every job (whole and streamed, or
paged), read one, create (its job must exist), set status."""

import asyncio
import base64
import contextlib
import sqlite3
import uuid
from datetime import datetime, timedelta

import aiohttp
import pytest
from helpers import SLASHES, assert_validation_error, event_body, job_body, next_message, no_message

from armada import const
from armada.config import SqliteSettings

EVENT = {"event_uuid": "event-1", "event_content": "Page loaded", "job_uuid": "job-1",
         "event_datetime": "2026-02-24T10:32:00.000Z", "event_status": "Running"}


@pytest.fixture
async def job(client):
    """A run with one job, `job-1`, that events can belong to."""
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    return "job-1"


async def events_of(client, job_uuid: str = "job-1") -> list:
    response = await client.get("/api/events/", params={"job_uuid": job_uuid})
    assert response.status == 200
    return await response.json()


@SLASHES
async def test_create_event_answers_201_with_the_event_and_broadcasts_it(
        client, subscribe, job, slash):
    ws = await subscribe()
    response = await client.post("/api/events" + slash, json=event_body(event_status="Failed"))
    assert response.status == 201
    event = {**EVENT, "event_status": "Failed"}
    assert await response.json() == event
    assert await next_message(ws) == {"type": "new_event", "data": event}
    assert await events_of(client) == [event]


async def test_create_event_fills_in_the_defaults(client, job):
    body = event_body()
    del body["event_uuid"]
    response = await client.post("/api/events/", json=body)
    assert response.status == 201
    event = await response.json()
    assert uuid.UUID(event.pop("event_uuid")).version == 4
    assert event == {"event_content": "Page loaded", "job_uuid": "job-1",
                     "event_datetime": "2026-02-24T10:32:00.000Z", "event_status": "Running"}


async def test_optional_event_fields_sent_as_null_take_their_defaults(client, job):
    response = await client.post("/api/events/", json=event_body(event_uuid=None,
                                                                 event_status=None))
    assert response.status == 201
    event = await response.json()
    assert uuid.UUID(event["event_uuid"]).version == 4
    assert event["event_status"] == "Running"


async def test_an_event_of_an_unknown_job_is_a_404_naming_the_job_and_stores_nothing(
        client, subscribe):
    ws = await subscribe()
    response = await client.post("/api/events/", json=event_body(job_uuid="no-such-job"))
    assert response.status == 404
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-job" in body["detail"]
    await no_message(ws)
    assert await events_of(client, "no-such-job") == []
    assert (await (await client.get("/api/runs/")).json())["total"] == 0
    assert (await (await client.get("/api/jobs/")).json())["total"] == 0


async def test_an_event_of_a_deleted_run_is_a_404(client, job):
    await client.delete("/api/runs/run-1")
    response = await client.post("/api/events/", json=event_body())
    assert response.status == 404
    assert await events_of(client) == []


async def test_repeating_an_event_with_the_same_body_answers_200_and_broadcasts_nothing(
        client, subscribe, job):
    assert (await client.post("/api/events/", json=event_body())).status == 201
    ws = await subscribe()
    response = await client.post("/api/events/", json=event_body())
    assert response.status == 200
    assert await response.json() == EVENT
    await no_message(ws)
    assert await events_of(client) == [EVENT]


async def test_an_event_repeated_after_its_status_changed_answers_the_stored_event(
        client, subscribe, job):
    assert (await client.post("/api/events/", json=event_body())).status == 201
    await client.patch("/api/events/status", json={"event_uuid": "event-1",
                                                   "event_status": "Failed"})
    ws = await subscribe()
    for repeat in (event_body(), event_body(event_status="Running")):
        response = await client.post("/api/events/", json=repeat)
        assert response.status == 200
        assert await response.json() == {**EVENT, "event_status": "Failed"}
    await no_message(ws)


async def test_reusing_an_event_id_with_another_body_is_a_409(client, subscribe, job):
    await client.post("/api/events/", json=event_body())
    ws = await subscribe()
    response = await client.post("/api/events/", json=event_body(event_content="Other"))
    assert response.status == 409
    assert (await response.json())["error"] == "conflict"
    await no_message(ws)
    assert await events_of(client) == [EVENT]


@SLASHES
async def test_list_events_is_a_list_newest_first(client, job, slash):
    for number in (1, 3, 2):
        await client.post("/api/events/", json=event_body(
            f"event-{number}", event_datetime=f"2026-02-24T10:3{number}:00.000"))
    response = await client.get("/api/events" + slash + "?job_uuid=job-1")
    assert response.status == 200
    events = await response.json()
    assert isinstance(events, list)
    assert [event["event_uuid"] for event in events] == ["event-3", "event-2", "event-1"]


async def test_list_events_holds_only_the_events_of_that_job(client, job):
    await client.post("/api/jobs/", json=job_body("job-2"))
    await client.post("/api/events/", json=event_body("event-1", "job-1"))
    await client.post("/api/events/", json=event_body("event-2", "job-2"))
    assert [event["event_uuid"] for event in await events_of(client, "job-2")] == ["event-2"]


async def test_list_events_is_not_paged(client, job):
    for number in range(25):
        await client.post("/api/events/", json=event_body(f"event-{number:02d}"))
    assert len(await events_of(client)) == 25


@pytest.mark.parametrize("job_uuid", ["no-such-job", ""])
async def test_list_events_of_an_unknown_job_is_an_empty_list(client, job, job_uuid):
    await client.post("/api/events/", json=event_body())
    assert await events_of(client, job_uuid) == []


@pytest.mark.parametrize("query, field", [
    ("?job_uuid=a&job_uuid=b", "job_uuid"),
    ("?job_uuid=job-1&page=1", "page"),
])
async def test_bad_event_list_parameters_are_a_422(client, query, field):
    await assert_validation_error(await client.get("/api/events/" + query), field)


async def test_event_content_of_65535_characters_round_trips_exactly(client, job):
    content = ("Traceback (most recent call last):\n  ü 🚀 \t" * 2000)[:65_535]
    assert len(content) == 65_535
    response = await client.post("/api/events/", json=event_body(event_content=content))
    assert response.status == 201
    assert (await response.json())["event_content"] == content
    assert (await events_of(client))[0]["event_content"] == content


@pytest.mark.parametrize("content", [
    "Ошибка: тайм-аут 🚀 — 错误 ✓ \u00e9\u0301 \U0001f9d1\u200d\U0001f4bb",
    "",
    "   ",
    "line 1\nline 2\r\n\ttabbed \"quoted\" \\ back",
    "\x01 control characters \x1f and \x7f",  # code point 0 is refused: tests/test_errors.py
])
async def test_event_content_round_trips_every_character(client, subscribe, job, content):
    ws = await subscribe()
    response = await client.post("/api/events/", json=event_body(event_content=content))
    assert response.status == 201
    assert (await response.json())["event_content"] == content
    assert (await next_message(ws))["data"]["event_content"] == content
    assert (await events_of(client))[0]["event_content"] == content


@pytest.mark.parametrize("body, field", [
    ({"job_uuid": "job-1", "event_datetime": "2026-02-24T10:32:00"}, "event_content"),
    ({"event_content": "x", "event_datetime": "2026-02-24T10:32:00"}, "job_uuid"),
    ({"event_content": "x", "job_uuid": "job-1"}, "event_datetime"),
    (event_body(event_content=None), "event_content"),
    (event_body(event_content=["a", "b"]), "event_content"),
    (event_body(event_content={"text": "a"}), "event_content"),
    (event_body(event_uuid=""), "event_uuid"),
    (event_body(event_uuid="e" * 256), "event_uuid"),
    (event_body(event_status="s" * 256), "event_status"),
    (event_body(job_uuid=""), "job_uuid"),
    (event_body(level="info"), "level"),
])
async def test_invalid_events_are_a_422_naming_the_field_and_store_nothing(
        client, job, body, field):
    await assert_validation_error(await client.post("/api/events/", json=body), field)
    assert await events_of(client) == []


@SLASHES
async def test_update_event_status_changes_it_and_broadcasts(client, subscribe, job, slash):
    await client.post("/api/events/", json=event_body())
    ws = await subscribe()
    change = {"event_uuid": "event-1", "event_status": "Success"}
    response = await client.patch("/api/events/status" + slash, json=change)
    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert await next_message(ws) == {"type": "update_event_status", "data": change}
    assert (await events_of(client))[0]["event_status"] == "Success"


async def test_update_status_of_an_unknown_event_is_a_404_and_broadcasts_nothing(
        client, subscribe, job):
    ws = await subscribe()
    response = await client.patch("/api/events/status",
                                  json={"event_uuid": "no-such-event", "event_status": "Failed"})
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-event" in body["detail"]
    await no_message(ws)


@pytest.mark.parametrize("body, field", [
    ({"event_uuid": "event-1"}, "event_status"),
    ({"event_status": "Failed"}, "event_uuid"),
    ({"event_uuid": "event-1", "event_status": ""}, "event_status"),
    ({"event_uuid": "event-1", "event_status": 3}, "event_status"),
])
async def test_invalid_event_status_updates_are_a_422_and_change_nothing(
        client, job, body, field):
    await client.post("/api/events/", json=event_body())
    await assert_validation_error(await client.patch("/api/events/status", json=body), field)
    assert await events_of(client) == [EVENT]


# Idempotent creates: conflicts name both versions; simultaneous repeats make one event


async def test_a_conflicting_event_answers_409_with_the_stored_and_the_sent_versions(
        client, job):
    await client.post("/api/events/", json=event_body())
    response = await client.post("/api/events/", json=event_body(event_content="Other"))
    assert response.status == 409
    body = await response.json()
    assert "event_content" in body["detail"]
    assert body["stored"] == EVENT
    assert body["sent"] == {**event_body(event_content="Other"),
                            "event_datetime": EVENT["event_datetime"]}


async def test_twenty_simultaneous_posts_of_one_event_leave_one_row_and_one_broadcast(
        client, subscribe, job):
    ws = await subscribe()
    responses = await asyncio.gather(*(client.post("/api/events/", json=event_body())
                                       for _ in range(20)))
    assert sorted(response.status for response in responses) == [200] * 19 + [201]
    for response in responses:
        assert await response.json() == EVENT
    assert await next_message(ws) == {"type": "new_event", "data": EVENT}
    await no_message(ws)
    assert await events_of(client) == [EVENT]


# One event, read alone


@SLASHES
async def test_get_event_answers_the_event(client, job, slash):
    await client.post("/api/events/", json=event_body())
    response = await client.get("/api/events/event-1" + slash)
    assert response.status == 200
    assert await response.json() == EVENT


@SLASHES
async def test_get_unknown_event_is_a_404_naming_it(client, slash):
    response = await client.get("/api/events/no-such-event" + slash)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-event" in body["detail"]


async def test_get_of_events_status_reads_the_event_named_status_and_patch_still_works(
        client, job):
    assert (await client.get("/api/events/status")).status == 404
    await client.post("/api/events/", json=event_body("status"))
    assert (await (await client.get("/api/events/status")).json())["event_uuid"] == "status"
    response = await client.patch("/api/events/status",
                                  json={"event_uuid": "status", "event_status": "Success"})
    assert response.status == 200
    assert (await (await client.get("/api/events/status/")).json())["event_status"] == "Success"


# Filters: status, since (inclusive) and until (exclusive) on event_datetime


@pytest.fixture
async def timeline(client, job):
    """Six events of job-1, one minute apart (event-0 at 10:30 … event-5 at 10:35), and one
    event of another job."""
    statuses = ["Running", "Success", "Failed", "Running", "Failed", "Success"]
    for number, status in enumerate(statuses):
        response = await client.post("/api/events/", json=event_body(
            f"event-{number}", event_datetime=f"2026-02-24T10:3{number}:00",
            event_status=status))
        assert response.status == 201
    await client.post("/api/jobs/", json=job_body("job-2"))
    await client.post("/api/events/", json=event_body("other", "job-2", event_status="Failed"))


async def event_uuids(client, query: str) -> list[str]:
    response = await client.get("/api/events/?job_uuid=job-1&" + query)
    assert response.status == 200
    events = await response.json()
    assert isinstance(events, list)
    return [event["event_uuid"] for event in events]


@pytest.mark.parametrize("query, expected", [
    ("status=Failed", ["event-4", "event-2"]),
    ("status=SUCCESS", ["event-5", "event-1"]),
    ("status=Cancelled", []),
    ("since=2026-02-24T10:33:00", ["event-5", "event-4", "event-3"]),
    ("until=2026-02-24T10:31:00", ["event-0"]),
    ("since=2026-02-24T10:31:00&until=2026-02-24T10:35:00&status=Running", ["event-3"]),
])
async def test_list_events_filters_by_status_and_datetime(client, timeline, query, expected):
    assert await event_uuids(client, query) == expected


@pytest.mark.parametrize("query, field", [
    ("&status=Done", "status"),
    ("&since=10:30", "since"),
    ("&until=", "until"),
])
async def test_bad_event_filters_are_a_422(client, query, field):
    await assert_validation_error(await client.get("/api/events/?job_uuid=job-1" + query), field)


# Opt-in paging: limit, and the keyset cursor `before` from the previous page's `next`


async def events_page(client, query: str, job_uuid: str | None = "job-1") -> dict:
    of_job = "" if job_uuid is None else f"job_uuid={job_uuid}&"
    response = await client.get("/api/events/?" + of_job + query)
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"events", "next"}
    return body


async def all_pages(client, query: str, job_uuid: str | None = "job-1") -> list[list[str]]:
    """Follow `next` from the first page to the last; the uuids of each page."""
    pages = []
    body = await events_page(client, query, job_uuid)
    while True:
        pages.append([event["event_uuid"] for event in body["events"]])
        if body["next"] is None:
            return pages
        body = await events_page(client, f"{query}&before={body['next']}", job_uuid)


async def test_a_limit_answers_the_newest_events_and_a_cursor_to_the_next_page(client, timeline):
    body = await events_page(client, "limit=2")
    assert [event["event_uuid"] for event in body["events"]] == ["event-5", "event-4"]
    assert body["events"][0] == {**EVENT, "event_uuid": "event-5", "event_status": "Success",
                                 "event_datetime": "2026-02-24T10:35:00.000Z"}
    assert isinstance(body["next"], str)


async def test_following_next_visits_every_event_once_newest_first(client, timeline):
    assert await all_pages(client, "limit=4") == [
        ["event-5", "event-4", "event-3", "event-2"], ["event-1", "event-0"]]
    assert await all_pages(client, "limit=3") == [
        ["event-5", "event-4", "event-3"], ["event-2", "event-1", "event-0"]]
    assert await all_pages(client, "limit=1000") == [
        ["event-5", "event-4", "event-3", "event-2", "event-1", "event-0"]]


async def test_events_at_the_same_instant_are_paged_by_uuid_without_loss(client, job):
    for number in range(7):
        await client.post("/api/events/", json=event_body(f"same-{number}"))
    pages = await all_pages(client, "limit=2")
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [uuid for page in pages for uuid in page] == [
        f"same-{number}" for number in range(6, -1, -1)]


async def test_events_added_while_paging_do_not_shift_the_next_pages(client, timeline):
    first = await events_page(client, "limit=3")
    await client.post("/api/events/", json=event_body(
        "newest", event_datetime="2026-02-24T11:00:00"))
    second = await events_page(client, f"limit=3&before={first['next']}")
    assert [event["event_uuid"] for event in second["events"]] == [
        "event-2", "event-1", "event-0"]
    assert second["next"] is None


async def test_paging_combines_with_the_filters(client, timeline):
    assert await all_pages(client, "limit=1&status=Failed") == [["event-4"], ["event-2"]]
    assert await all_pages(client, "limit=2&since=2026-02-24T10:31:00&until=2026-02-24T10:35:00"
                           ) == [["event-4", "event-3"], ["event-2", "event-1"]]


async def test_a_page_of_an_unknown_job_is_empty(client):
    response = await client.get("/api/events/?job_uuid=no-such-job&limit=10")
    assert await response.json() == {"events": [], "next": None}


async def test_without_a_limit_the_list_stays_a_plain_list(client, timeline):
    assert await event_uuids(client, "") == [f"event-{n}" for n in range(5, -1, -1)]


def cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("limit=ten", "limit"),
    ("limit=", "limit"),
    ("before=" + cursor(b'["2026-02-24T10:33:00.000000","event-3"]'), "before"),
    ("limit=2&before=", "before"),
    ("limit=2&before=not-a-cursor", "before"),
    ("limit=2&before=" + cursor(b"[]"), "before"),
    ("limit=2&before=" + cursor(b'{"a": 1, "b": 2}'), "before"),
    ("limit=2&before=" + cursor(b'["yesterday","event-3"]'), "before"),
    ("limit=2&before=" + cursor(b'["2026-02-24T10:33:00+01:00","event-3"]'), "before"),
    ("limit=2&before=" + cursor(b'["2026-02-24T10:33:00",""]'), "before"),
    ("limit=2&before=" + cursor(b'["2026-02-24T10:33:00",7]'), "before"),
    ("limit=2&before=" + cursor(b'["2026-02-24T10:33:00","\\ud800"]'), "before"),
    ("limit=2&before=" + cursor(b"\xff\xfe"), "before"),
    ("limit=2&before=" + "A" * 5000, "before"),
])
async def test_bad_limits_and_cursors_are_a_422(client, timeline, query, field):
    await assert_validation_error(
        await client.get("/api/events/?job_uuid=job-1&" + query), field)


@pytest.mark.parametrize("limit", [1, 1000])
async def test_limit_bounds_are_accepted(client, timeline, limit):
    body = await events_page(client, f"limit={limit}")
    assert len(body["events"]) == min(limit, 6)


# Every job's events: job_uuid is an optional filter, as in the platform's API


async def uuids_of_every_job(client, query: str = "") -> list[str]:
    response = await client.get("/api/events/?" + query)
    assert response.status == 200
    events = await response.json()
    assert isinstance(events, list)
    return [event["event_uuid"] for event in events]


@SLASHES
async def test_without_job_uuid_the_list_holds_every_event_of_every_job_newest_first(
        client, timeline, slash):
    response = await client.get("/api/events" + slash)
    assert response.status == 200
    events = await response.json()
    # "other" (job-2) and event-2 share 10:32: the greater uuid comes first, as in paging.
    assert [event["event_uuid"] for event in events] == [
        "event-5", "event-4", "event-3", "other", "event-2", "event-1", "event-0"]
    assert events[3] == {**EVENT, "event_uuid": "other", "job_uuid": "job-2",
                         "event_status": "Failed"}


async def test_without_any_event_the_list_of_every_job_is_empty(client):
    assert await uuids_of_every_job(client) == []


@pytest.mark.parametrize("query, expected", [
    ("status=Failed", ["event-4", "other", "event-2"]),
    ("status=cancelled", []),
    ("since=2026-02-24T10:32:00&until=2026-02-24T10:34:00", ["event-3", "other", "event-2"]),
    ("status=running&until=2026-02-24T10:33:00", ["event-0"]),
])
async def test_the_list_of_every_job_takes_the_filters(client, timeline, query, expected):
    assert await uuids_of_every_job(client, query) == expected


async def test_paging_without_job_uuid_visits_every_event_of_every_job_once(client, timeline):
    assert await all_pages(client, "limit=3", job_uuid=None) == [
        ["event-5", "event-4", "event-3"], ["other", "event-2", "event-1"], ["event-0"]]
    assert await all_pages(client, "limit=2&status=Failed", job_uuid=None) == [
        ["event-4", "other"], ["event-2"]]
    assert await all_pages(client, "limit=1000&since=2026-02-24T10:35:00", job_uuid=None) == [
        ["event-5"]]


# A whole list longer than one chunk is streamed from the database, chunk by chunk


def many_events(count: int, job_uuids: tuple[str, ...] = ("job-1",), content: str = "Step"
                ) -> list[dict]:
    """`count` events spread over the jobs, three per second (equal instants order by uuid)."""
    start = datetime(2026, 2, 24, 10)
    return [event_body(f"e-{n:05d}", job_uuids[n % len(job_uuids)], event_content=content,
                       event_datetime=(start + timedelta(seconds=n // 3)).isoformat(
                           timespec="milliseconds"))
            for n in range(count)]


async def post_events(client, events: list[dict], per_batch: int = const.MAX_BATCH_EVENTS
                      ) -> None:
    for first in range(0, len(events), per_batch):
        response = await client.post("/api/events/batch",
                                     json={"events": events[first:first + per_batch]})
        assert response.status == 201, await response.text()


def newest_first(events: list[dict]) -> list[dict]:
    ordered = sorted(events, key=lambda e: (e["event_datetime"], e["event_uuid"]), reverse=True)
    return [{**event, "event_datetime": event["event_datetime"] + "Z",
             "event_status": "Running"} for event in ordered]


async def test_a_list_of_many_chunks_is_streamed_complete_in_order_with_the_usual_headers(
        client, job):
    await client.post("/api/jobs/", json=job_body("job-2"))
    events = many_events(5000, ("job-1", "job-2"))
    assert len(events) > 4 * const.EVENTS_LIST_CHUNK
    await post_events(client, events)

    response = await client.get("/api/events/")
    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert response.content_type == "application/json" and response.charset == "utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers and "X-Request-ID" in response.headers
    assert await response.json() == newest_first(events)

    of_job = await client.get("/api/events/", params={"job_uuid": "job-2"})
    assert of_job.headers["Transfer-Encoding"] == "chunked"
    assert await of_job.json() == newest_first([e for e in events if e["job_uuid"] == "job-2"])
    failed = await client.get("/api/events/", params={"status": "Failed"})
    assert await failed.json() == []


async def test_a_list_of_one_chunk_is_an_ordinary_answer_with_its_length(client, job):
    events = many_events(const.EVENTS_LIST_CHUNK)
    await post_events(client, events)
    response = await client.get("/api/events/", params={"job_uuid": "job-1"})
    assert int(response.headers["Content-Length"]) == len(await response.read())
    assert await response.json() == newest_first(events)


@pytest.mark.slow
async def test_a_streamed_list_outlasts_the_request_timeout_while_its_client_reads(
        make_client):
    # The events are written through an app with the usual timeout on the same database:
    # on a loaded machine a batch (search index included) can outlast the short one.
    writer = await make_client()
    assert (await writer.post("/api/jobs/", json=job_body())).status == 201
    # 20 MB: more than the socket buffers hold, so the service waits for its slow reader.
    events = many_events(5000, content="x" * 4000)
    await post_events(writer, events, per_batch=200)
    # Long enough for the first chunk from a new connection to a TDS engine (Babelfish's
    # first statements on a connection take tenths of a second); the reader outlasts it.
    client = await make_client(request_timeout=1.5)
    response = await client.get("/api/events/")
    assert response.status == 200
    await asyncio.sleep(2.5)
    async with asyncio.timeout(30):
        body = await response.json()
    assert [event["event_uuid"] for event in body] == [
        event["event_uuid"] for event in newest_first(events)]


@contextlib.contextmanager
def undecodable_event(config, event_datetime: str):
    """An event whose text SQLite holds but cannot hand over as UTF-8 (a row written by
    another program): reading it fails, as a database failing mid-list does."""
    if not isinstance(config.database, SqliteSettings):
        pytest.skip("an undecodable row is an SQLite condition")
    with contextlib.closing(sqlite3.connect(config.database.path)) as db:
        db.execute("INSERT INTO armada_events (event_uuid, event_content, job_uuid,"
                   " event_datetime, event_status) VALUES ('broken', CAST(x'ff' AS TEXT),"
                   " 'job-1', ?, 'Running')", (event_datetime,))
        db.commit()
    yield


async def test_a_read_failing_after_the_answer_began_cuts_the_connection_and_is_logged(
        client, config, job, caplog):
    await post_events(client, many_events(3 * const.EVENTS_LIST_CHUNK))
    # The oldest event: the third chunk fails, after the first two are sent.
    with undecodable_event(config, "2026-02-24 09:00:00.000000"):
        response = await client.get("/api/events/")
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert f"answer cut after {2 * const.EVENTS_LIST_CHUNK} items" in caplog.text
    assert (await client.get("/api/events/?job_uuid=job-1&limit=1")).status == 200


async def test_a_read_failing_before_the_answer_began_is_an_ordinary_json_error(
        client, config, job):
    await post_events(client, many_events(3 * const.EVENTS_LIST_CHUNK))
    with undecodable_event(config, "2026-02-24 23:00:00.000000"):
        response = await client.get("/api/events/")
    assert response.status == 503
    assert response.content_type == "application/json"
    assert (await response.json())["error"]
