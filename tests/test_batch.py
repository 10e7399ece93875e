"""POST /api/events/batch: many events in one transaction, each with the single-event rules."""

import json
import re
import sqlite3
from pathlib import Path

import pytest
from helpers import RUN, event_body, job_body, next_message, no_message

from armada import const
from armada.config import SqliteSettings


@pytest.fixture
async def job(client):
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    return "job-1"


def batch(count: int, start: int = 0, **extra) -> dict:
    return {"events": [
        event_body(f"event-{n:04d}", event_datetime=f"2026-02-24T10:32:{n % 60:02d}.000", **extra)
        for n in range(start, start + count)
    ]}


async def event_count(client, job_uuid: str = "job-1") -> int:
    response = await client.get("/api/events/", params={"job_uuid": job_uuid})
    return len(await response.json())


async def test_a_batch_creates_every_event_and_broadcasts_each_in_order(client, subscribe, job):
    ws = await subscribe()
    response = await client.post("/api/events/batch", json=batch(5))
    assert response.status == 201
    body = await response.json()
    assert body["created"] == [f"event-{n:04d}" for n in range(5)]
    assert body["existing"] == []
    assert [e["event_status"] for e in body["events"]] == ["Running"] * 5
    received = [await next_message(ws) for _ in range(5)]
    assert [m["type"] for m in received] == ["new_event"] * 5
    assert [m["data"]["event_uuid"] for m in received] == body["created"]
    assert await event_count(client) == 5


async def test_a_repeated_batch_creates_nothing_and_broadcasts_nothing(client, subscribe, job):
    assert (await client.post("/api/events/batch", json=batch(3))).status == 201
    ws = await subscribe()
    response = await client.post("/api/events/batch", json=batch(3))
    assert response.status == 200
    body = await response.json()
    assert body["created"] == []
    assert body["existing"] == [f"event-{n:04d}" for n in range(3)]
    await no_message(ws)
    assert await event_count(client) == 3


async def test_a_partly_repeated_batch_answers_which_were_created_and_which_existed(
        client, subscribe, job):
    await client.post("/api/events/batch", json=batch(2))
    ws = await subscribe()
    body = await (await client.post("/api/events/batch", json=batch(4))).json()
    assert body["existing"] == ["event-0000", "event-0001"]
    assert body["created"] == ["event-0002", "event-0003"]
    assert [(await next_message(ws))["data"]["event_uuid"] for _ in range(2)] == body["created"]
    await no_message(ws)


async def test_a_batchs_answer_holds_each_event_as_its_message_carries_it(
        client, subscribe, job):
    await client.post("/api/events/batch", json=batch(2))
    ws = await subscribe()
    response = await client.post("/api/events/batch", json=batch(4))
    text = await response.text()
    body = json.loads(text)
    assert list(body) == ["created", "existing", "events"]
    messages = [await next_message(ws) for _ in range(2)]
    stored = (await (await client.get("/api/events/", params={"job_uuid": "job-1"})).json())
    by_uuid = {event["event_uuid"]: event for event in stored}
    assert body["events"] == [by_uuid[f"event-{n:04d}"] for n in range(4)]
    assert body["events"][2:] == [message["data"] for message in messages]
    # The created events' JSON is the very text their messages carry.
    for message in messages:
        assert json.dumps(message["data"], separators=(",", ":"), ensure_ascii=False) in text


async def test_one_event_of_an_unknown_job_fails_the_whole_batch(client, subscribe, job):
    ws = await subscribe()
    events = batch(3)["events"]
    events[2]["job_uuid"] = "no-such-job"
    response = await client.post("/api/events/batch", json={"events": events})
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "events[2]" in body["detail"] and "no-such-job" in body["detail"]
    await no_message(ws)
    assert await event_count(client) == 0


async def test_a_conflicting_event_fails_the_whole_batch(client, job):
    await client.post("/api/events/", json=event_body("event-0001", event_content="other"))
    response = await client.post("/api/events/batch", json=batch(3))
    assert response.status == 409
    assert "events[1]" in (await response.json())["detail"]
    assert await event_count(client) == 1


async def test_more_than_the_maximum_is_refused_and_nothing_is_written(client, job):
    small = {"events": [event_body(f"e{n}", event_content="") for n in
                        range(const.MAX_BATCH_EVENTS + 1)]}
    response = await client.post("/api/events/batch", json=small)
    assert response.status == 422
    assert "events" in (await response.json())["fields"]
    assert await event_count(client) == 0


async def test_the_maximum_is_accepted_in_one_transaction(client, job, config):
    response = await client.post("/api/events/batch", json={"events": [
        event_body(f"e{n}", event_content="") for n in range(const.MAX_BATCH_EVENTS)]})
    assert response.status == 201
    assert len((await response.json())["created"]) == const.MAX_BATCH_EVENTS
    assert await event_count(client) == const.MAX_BATCH_EVENTS


async def test_a_batch_over_the_body_limit_is_a_413_and_nothing_is_written(client, job):
    response = await client.post("/api/events/batch", json=batch(
        20, event_content="x" * (const.MAX_BODY_BYTES // 10)))
    assert response.status == 413
    assert (await response.json())["error"] == "payload_too_large"
    assert await event_count(client) == 0


@pytest.mark.parametrize("body, field", [
    ({}, "events"),
    ({"events": []}, "events"),
    ({"events": "x"}, "events"),
    ({"events": [{"job_uuid": "job-1"}]}, "events"),
    ({"events": [], "extra": 1}, "extra"),
])
async def test_malformed_batches_are_a_422(client, job, body, field):
    response = await client.post("/api/events/batch", json=body)
    assert response.status == 422
    assert field in (await response.json())["fields"]


async def test_an_invalid_event_names_its_index(client, job):
    events = batch(2)["events"]
    events[1]["event_datetime"] = "yesterday"
    response = await client.post("/api/events/batch", json={"events": events})
    assert response.status == 422
    assert (await response.json())["fields"] == {
        "events": {"1": {"event_datetime": ["Not a valid ISO 8601 datetime."]}}}


async def test_batch_rows_are_in_the_sqlite_file(client, job, config):
    if not isinstance(config.database, SqliteSettings):
        pytest.skip("reads the SQLite file")
    await client.post("/api/events/batch", json=batch(7))
    with sqlite3.connect(config.database.path) as db:
        assert db.execute("SELECT COUNT(*) FROM armada_events").fetchone() == (7,)


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_batch_example() -> dict:
    """The body of the README's `curl … /api/events/batch` example, as written there."""
    example = re.search(r"curl [^\n]*/api/events/batch[^\n]*\n\s*-d '(.*?)'", README.read_text(),
                        re.DOTALL)
    assert example is not None, "the README has no batch example"
    return json.loads(example.group(1))


async def test_the_readme_batch_example_sent_twice_stores_each_event_once(client, job):
    body = readme_batch_example()
    assert all(event.get("event_uuid") for event in body["events"])

    first = await client.post("/api/events/batch", json=body)
    again = await client.post("/api/events/batch", json=body)

    assert first.status == 201
    assert again.status == 200
    assert (await again.json())["created"] == []
    assert await event_count(client, job) == len(body["events"])
