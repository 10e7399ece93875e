"""Specification of datetimes on the wire: ISO 8601 in (no zone is UTC), one UTC form out;
from 1753 to the service's clock plus ARMADA_MAX_CLOCK_SKEW."""

from datetime import UTC, datetime, timedelta

import pytest
from helpers import RUN, event_body, job_body, next_message

from armada.config import ConfigError, load_config

# (sent, answered): every accepted form comes back as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`.
ACCEPTED = [
    ("2026-02-24T10:30:00.000", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24T10:30:00.123", "2026-02-24T10:30:00.123Z"),
    ("2026-02-24T10:30:00.123Z", "2026-02-24T10:30:00.123Z"),
    ("2026-02-24T10:30:00Z", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24T10:30:00", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24T10:30", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24T10:30:00.123456", "2026-02-24T10:30:00.123Z"),
    ("2026-02-24T10:30:00.999999", "2026-02-24T10:30:00.999Z"),
    ("2026-02-24T10:30:00.5", "2026-02-24T10:30:00.500Z"),
    ("2026-02-24T12:30:00.000+02:00", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24T01:00:00+02:00", "2026-02-23T23:00:00.000Z"),
    ("2026-02-24T10:30:00-05:30", "2026-02-24T16:00:00.000Z"),
    ("2026-02-24T10:30:00+00:00", "2026-02-24T10:30:00.000Z"),
    ("2026-02-24 10:30:00.000", "2026-02-24T10:30:00.000Z"),
    ("2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00.000Z"),
    ("2024-02-29T00:00:00", "2024-02-29T00:00:00.000Z"),
    ("1753-01-01T00:00:00", "1753-01-01T00:00:00.000Z"),
]

REFUSED = [
    "",
    "yesterday",
    "2026-02-30T10:00:00",
    "2026-13-01T10:00:00",
    "2026-02-24T25:00:00",
    "2026-02-24T10:30:00+25:00",
    "24/02/2026 10:30",
    "1700-01-01T00:00:00",
    "2026-02-24T10:30:00.000Zjunk",
    "2026-02-24T10:30:00" + "0" * 100,
]


@pytest.mark.parametrize("sent, answered", ACCEPTED)
async def test_run_datetimes_come_back_in_the_one_utc_form(client, subscribe, sent, answered):
    ws = await subscribe()
    response = await client.post("/api/runs/", json={"run_uuid": "run-1", "run_datetime": sent})
    assert response.status == 201
    assert (await response.json())["run_datetime"] == answered
    assert (await next_message(ws))["data"]["run_datetime"] == answered
    runs = await (await client.get("/api/runs/")).json()
    assert runs["runs"][0]["run_datetime"] == answered


@pytest.mark.parametrize("sent, answered", ACCEPTED)
async def test_job_datetimes_come_back_in_the_one_utc_form(client, subscribe, sent, answered):
    ws = await subscribe()
    response = await client.post("/api/jobs/", json=job_body(job_datetime=sent))
    assert response.status == 201
    assert (await response.json())["job_datetime"] == answered
    new_run = await next_message(ws)
    assert new_run["type"] == "new_run"
    assert new_run["data"]["run_datetime"] == answered
    assert (await next_message(ws))["data"]["job_datetime"] == answered
    jobs = await (await client.get("/api/jobs/")).json()
    assert jobs["jobs"][0]["job_datetime"] == answered
    runs = await (await client.get("/api/runs/")).json()
    assert runs["runs"][0]["run_datetime"] == answered


@pytest.mark.parametrize("sent, answered", ACCEPTED)
async def test_event_datetimes_come_back_in_the_one_utc_form(client, subscribe, sent, answered):
    await client.post("/api/jobs/", json=job_body())
    ws = await subscribe()
    response = await client.post("/api/events/", json=event_body(event_datetime=sent))
    assert response.status == 201
    assert (await response.json())["event_datetime"] == answered
    assert (await next_message(ws))["data"]["event_datetime"] == answered
    events = await (await client.get("/api/events/?job_uuid=job-1")).json()
    assert events[0]["event_datetime"] == answered


async def test_zoned_datetimes_are_ordered_by_their_instant(client):
    # 09:00 UTC, 10:00 UTC, 11:00 UTC, sent in three different zones.
    for run_uuid, sent in [("ten", "2026-02-24T12:00:00+02:00"), ("nine", "2026-02-24T09:00:00Z"),
                           ("eleven", "2026-02-24T06:00:00-05:00")]:
        await client.post("/api/runs/", json={"run_uuid": run_uuid, "run_datetime": sent})
    runs = await (await client.get("/api/runs/")).json()
    assert [run["run_uuid"] for run in runs["runs"]] == ["eleven", "ten", "nine"]


async def test_events_in_one_second_are_ordered_by_their_milliseconds(client):
    await client.post("/api/jobs/", json=job_body())
    for event_uuid, millis in [("b", "500"), ("c", "999"), ("a", "001")]:
        await client.post("/api/events/", json=event_body(
            event_uuid, event_datetime=f"2026-02-24T10:32:00.{millis}"))
    events = await (await client.get("/api/events/?job_uuid=job-1")).json()
    assert [event["event_uuid"] for event in events] == ["c", "b", "a"]


@pytest.mark.parametrize("sent", [*REFUSED, 1771929000, None, ["2026-02-24"], {"iso": "x"}, True])
async def test_invalid_datetimes_are_a_422_naming_the_field(client, sent):
    response = await client.post("/api/runs/", json={"run_uuid": "run-1", "run_datetime": sent})
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "validation_error"
    assert list(body["fields"]) == ["run_datetime"]
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@pytest.mark.parametrize("sent", REFUSED[:4])
async def test_invalid_job_and_event_datetimes_are_a_422_naming_the_field(client, sent):
    response = await client.post("/api/jobs/", json=job_body(job_datetime=sent))
    assert response.status == 422
    assert list((await response.json())["fields"]) == ["job_datetime"]
    await client.post("/api/jobs/", json=job_body())
    response = await client.post("/api/events/", json=event_body(event_datetime=sent))
    assert response.status == 422
    assert list((await response.json())["fields"]) == ["event_datetime"]


async def test_a_repeated_run_answers_its_stored_datetime_in_the_one_form(client):
    await client.post("/api/runs/", json={**RUN, "run_datetime": "2026-02-24T12:30:00.5+02:00"})
    response = await client.post("/api/runs/", json=RUN)
    assert response.status == 200
    assert (await response.json())["run_datetime"] == "2026-02-24T10:30:00.500Z"


# since= / until= in a URL: an unescaped `+` arrives as a space

PLUS_HINT = "%2B"


@pytest.mark.parametrize("path", ["/api/runs/?", "/api/jobs/?", "/api/events/?job_uuid=job-1&"])
@pytest.mark.parametrize("query, field", [
    ("since=2026-02-24T10:00:00+01:00", "since"),
    ("until=2026-02-24T10:00:00.000+01:00", "until"),
    ("since=2026-02-24 10:00+0100", "since"),
])
async def test_an_unescaped_plus_in_a_query_datetime_gets_a_hint_to_write_it_as_2b(
        client, path, query, field):
    response = await client.get(path + query)  # `+` sent as is, as a careless URL does

    assert response.status == 422
    body = await response.json()
    assert list(body["fields"]) == [field]
    assert PLUS_HINT in body["fields"][field][0]


async def test_the_same_datetime_with_its_plus_written_as_2b_is_read(client):
    await client.post("/api/runs/", json={**RUN, "run_datetime": "2026-02-24T09:30:00.000Z"})

    response = await client.get("/api/runs/?since=2026-02-24T10:00:00%2B01:00")

    assert response.status == 200
    assert [run["run_uuid"] for run in (await response.json())["runs"]] == ["run-1"]


@pytest.mark.parametrize("sent", ["2026-02-24T10:00:00 01:00", "yesterday 10:00"])
async def test_other_invalid_datetimes_get_no_plus_hint(client, sent):
    body_error = await client.post("/api/runs/", json={**RUN, "run_datetime": sent})
    query_error = await client.get("/api/runs/", params={"since": "yesterday 10:00"})

    assert body_error.status == query_error.status == 422
    assert PLUS_HINT not in str(await body_error.json())  # a JSON body keeps its `+`
    assert PLUS_HINT not in str(await query_error.json())


@pytest.mark.parametrize("sent", ["0001-01-01T00:00:00", "1752-12-31T23:59:59.999",
                                  "0001-01-01T00:30:00+01:00"])
async def test_a_datetime_before_1753_is_a_422_that_says_the_accepted_range(client, sent):
    response = await client.post("/api/runs/", json={**RUN, "run_datetime": sent})
    assert response.status == 422
    [message] = (await response.json())["fields"]["run_datetime"]
    assert "1753-01-01T00:00:00.000Z" in message and "9999-12-31" in message
    query = await client.get("/api/runs/", params={"since": sent})
    assert "1753-01-01T00:00:00.000Z" in (await query.json())["fields"]["since"][0]


def in_the_future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S.000")


async def test_a_datetime_beyond_the_clock_skew_is_a_422_naming_the_setting(client):
    for path, body, field in [
        ("/api/runs/", {**RUN, "run_datetime": "2099-01-01T00:00:00"}, "run_datetime"),
        ("/api/jobs/", job_body(job_datetime=in_the_future(days=1, minutes=5)), "job_datetime"),
    ]:
        response = await client.post(path, json=body)
        assert response.status == 422
        error = await response.json()
        assert list(error["fields"]) == [field]
        assert "ARMADA_MAX_CLOCK_SKEW" in error["detail"]
        assert "ARMADA_MAX_CLOCK_SKEW" in error["fields"][field][0]
    assert (await (await client.get("/api/runs/")).json())["total"] == 0

    await client.post("/api/jobs/", json=job_body())
    late = event_body(event_datetime="2099-01-01T00:00:00")
    response = await client.post("/api/events/", json=late)
    assert list((await response.json())["fields"]) == ["event_datetime"]
    batch = {"events": [event_body("e-0"), event_body("e-1", event_datetime=in_the_future(
        days=2))]}
    response = await client.post("/api/events/batch", json=batch)
    assert response.status == 422
    assert list((await response.json())["fields"]) == ["events.1.event_datetime"]
    assert await (await client.get("/api/events/")).json() == []


async def test_a_datetime_within_the_clock_skew_is_accepted_and_the_skew_is_a_setting(
        make_client):
    ahead = in_the_future(minutes=50)
    client = await make_client()
    assert (await client.post("/api/runs/", json={**RUN, "run_datetime": ahead})).status == 201
    strict = await make_client(max_clock_skew=60)
    response = await strict.post("/api/runs/", json={"run_uuid": "run-2", "run_datetime": ahead})
    assert response.status == 422
    assert "60 s" in (await response.json())["fields"]["run_datetime"][0]


async def test_a_datetime_beyond_the_clock_skew_is_refused_right_after_one_within_it(
        make_client):
    # The bound read for the first is kept; the second is beyond it and judged anew.
    strict = await make_client(max_clock_skew=60)
    for run_uuid, ahead, status in [("within", 30, 201), ("beyond", 90, 422),
                                    ("within-again", 45, 201)]:
        body = {"run_uuid": run_uuid, "run_datetime": in_the_future(seconds=ahead)}
        assert (await strict.post("/api/runs/", json=body)).status == status, run_uuid


def test_max_clock_skew_is_a_duration_of_a_day_by_default():
    assert load_config({}).max_clock_skew == 86400
    assert load_config({"ARMADA_MAX_CLOCK_SKEW": "2h"}).max_clock_skew == 7200
    assert load_config({"ARMADA_MAX_CLOCK_SKEW": "90"}).max_clock_skew == 90
    with pytest.raises(ConfigError, match="ARMADA_MAX_CLOCK_SKEW"):
        load_config({"ARMADA_MAX_CLOCK_SKEW": "soon"})
