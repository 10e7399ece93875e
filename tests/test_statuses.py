"""Specification of the status vocabulary: six statuses, any letter case in, canonical case out.

Every place that accepts a status (job and event creates, both PATCHes, the status filters)
takes `Running`, `Success`, `Failed`, `Pending`, `Cancelled` or `Lost` (the service marks a
silent job so: tests/test_lost_jobs.py) in any letter case, stores
and broadcasts it in that canonical case, and refuses anything else with a 422 that lists
the allowed values.
"""

import pytest
from helpers import assert_validation_error, event_body, job_body, next_message

from armada import const

ALLOWED = ["Running", "Success", "Failed", "Pending", "Cancelled", "Lost"]
SPELLINGS = [("running", "Running"), ("SUCCESS", "Success"), ("fAiLeD", "Failed"),
             ("Pending", "Pending"), ("cancelled", "Cancelled"), ("LOST", "Lost")]
# Look-alikes too: a fullwidth R, a long s (which str.casefold() would turn into "s").
UNKNOWN = ["Done", "Canceled", "Succeeded", "Running ", " running", "\uff32unning", "\u017fuccess",
           "Fail", "None", "\ud800"]


@pytest.fixture
async def event(client):
    """job-1 with one event, event-1, both Running."""
    assert (await client.post("/api/jobs/", json=job_body())).status == 201
    assert (await client.post("/api/events/", json=event_body())).status == 201


async def assert_lists_the_allowed_statuses(response, field: str) -> None:
    await assert_validation_error(response, field)
    (message,) = (await response.json())["fields"][field]
    assert all(status in message for status in ALLOWED), message


def test_the_vocabulary_is_one_named_tuple():
    assert const.STATUSES == tuple(ALLOWED)


@pytest.mark.parametrize("sent, stored", SPELLINGS)
async def test_a_job_status_in_any_case_is_stored_in_its_canonical_case(client, sent, stored):
    response = await client.post("/api/jobs/", json=job_body(job_status=sent))
    assert response.status == 201
    assert (await response.json())["job_status"] == stored
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == stored


@pytest.mark.parametrize("sent, stored", SPELLINGS)
async def test_an_event_status_in_any_case_is_stored_in_its_canonical_case(client, sent, stored):
    await client.post("/api/jobs/", json=job_body())
    response = await client.post("/api/events/", json=event_body(event_status=sent))
    assert response.status == 201
    assert (await response.json())["event_status"] == stored
    assert (await (await client.get("/api/events/event-1")).json())["event_status"] == stored


@pytest.mark.parametrize("sent, stored", SPELLINGS)
async def test_status_updates_in_any_case_are_stored_and_broadcast_canonically(
        client, subscribe, event, sent, stored):
    ws = await subscribe()
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": sent})
    await client.patch("/api/events/status", json={"event_uuid": "event-1", "event_status": sent})
    assert (await next_message(ws))["data"] == {"job_uuid": "job-1", "job_status": stored}
    assert (await next_message(ws))["data"] == {"event_uuid": "event-1", "event_status": stored}
    assert (await (await client.get("/api/jobs/job-1")).json())["job_status"] == stored
    assert (await (await client.get("/api/events/event-1")).json())["event_status"] == stored


async def test_repeating_a_job_with_its_status_in_another_case_is_the_same_job(client):
    assert (await client.post("/api/jobs/", json=job_body(job_status="Failed"))).status == 201
    response = await client.post("/api/jobs/", json=job_body(job_status="FAILED"))
    assert response.status == 200


@pytest.mark.parametrize("status", UNKNOWN)
@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/jobs/", job_body("job-2"), "job_status"),
    ("POST", "/api/events/", event_body("event-2"), "event_status"),
    ("PATCH", "/api/jobs/status", {"job_uuid": "job-1"}, "job_status"),
    ("PATCH", "/api/events/status", {"event_uuid": "event-1"}, "event_status"),
], ids=["create job", "create event", "update job", "update event"])
async def test_an_unknown_status_is_a_422_listing_the_allowed_ones_and_changes_nothing(
        client, event, status, method, path, body, field):
    response = await client.request(method, path, json={**body, field: status})
    await assert_lists_the_allowed_statuses(response, field)
    assert (await (await client.get("/api/jobs/")).json())["jobs"][0]["job_status"] == "Running"
    events = await (await client.get("/api/events/?job_uuid=job-1")).json()
    assert [(e["event_uuid"], e["event_status"]) for e in events] == [("event-1", "Running")]


@pytest.mark.parametrize("path", ["/api/jobs/?status=Done",
                                  "/api/events/?job_uuid=job-1&status=Done"])
async def test_an_unknown_status_filter_is_a_422_listing_the_allowed_ones(client, path):
    await assert_lists_the_allowed_statuses(await client.get(path), "status")
