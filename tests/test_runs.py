"""Specification of /api/runs/: list (newest first, paged), register (idempotent), delete."""

import asyncio

import pytest
from helpers import (
    RUN,
    SLASHES,
    assert_validation_error,
    event_body,
    job_body,
    job_counts,
    next_message,
    no_message,
)

STORED_RUN = {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:30:00.000Z"}


def run_body(number: int) -> dict[str, str]:
    return {"run_uuid": f"run-{number:03d}", "run_datetime": f"2026-02-24T10:{number:02d}:00.000"}


async def post_runs(client, count: int) -> None:
    for number in range(count):
        assert (await client.post("/api/runs/", json=run_body(number))).status == 201


@SLASHES
async def test_list_of_no_runs_is_an_empty_page(client, slash):
    response = await client.get("/api/runs" + slash)
    assert response.status == 200
    assert await response.json() == {"runs": [], "total": 0, "page": 1, "page_size": 10}


async def test_list_runs_newest_first_with_the_default_page_of_ten(client):
    await post_runs(client, 12)
    body = await (await client.get("/api/runs/")).json()
    assert body["total"] == 12
    assert body["page"] == 1
    assert body["page_size"] == 10
    assert [run["run_uuid"] for run in body["runs"]] == [f"run-{n:03d}" for n in range(11, 1, -1)]
    assert body["runs"][0] == {"run_uuid": "run-011", "run_datetime": "2026-02-24T10:11:00.000Z",
                               **job_counts()}


async def test_list_runs_orders_by_datetime_not_by_insertion(client):
    for uuid, when in [("b", "2026-01-02T00:00:00"), ("a", "2026-01-03T00:00:00"),
                       ("c", "2026-01-01T00:00:00")]:
        await client.post("/api/runs/", json={"run_uuid": uuid, "run_datetime": when})
    body = await (await client.get("/api/runs/")).json()
    assert [run["run_uuid"] for run in body["runs"]] == ["a", "b", "c"]


async def test_list_runs_pages_through_every_run_once(client):
    await post_runs(client, 7)
    seen = []
    for page in (1, 2, 3):
        response = await client.get("/api/runs/", params={"page": page, "page_size": 3})
        body = await response.json()
        assert body["total"] == 7
        assert body["page"] == page
        assert body["page_size"] == 3
        seen += [run["run_uuid"] for run in body["runs"]]
    assert seen == [f"run-{n:03d}" for n in range(6, -1, -1)]


async def test_a_page_past_the_end_is_empty_with_the_total(client):
    await post_runs(client, 2)
    body = await (await client.get("/api/runs/?page=5&page_size=1")).json()
    assert body == {"runs": [], "total": 2, "page": 5, "page_size": 1}


@pytest.mark.parametrize("page_size", [1, 100])
async def test_page_size_limits_are_accepted(client, page_size):
    await post_runs(client, 2)
    body = await (await client.get(f"/api/runs/?page_size={page_size}")).json()
    assert body["page_size"] == page_size
    assert len(body["runs"]) == min(page_size, 2)


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=1.5", "page"),
    ("page=", "page"),
    ("page=99999999999999999999999", "page"),
    ("page_size=0", "page_size"),
    ("page_size=101", "page_size"),
    ("page_size=ten", "page_size"),
    ("page=1&page=2", "page"),
    ("page_size=5&page_size=5", "page_size"),
    ("colour=blue", "colour"),
])
async def test_bad_paging_parameters_are_a_422_naming_them(client, query, field):
    await assert_validation_error(await client.get("/api/runs/?" + query), field)


@SLASHES
async def test_create_run_answers_201_with_the_run_and_broadcasts_it(client, subscribe, slash):
    ws = await subscribe()
    response = await client.post("/api/runs" + slash, json=RUN)
    assert response.status == 201
    assert await response.json() == STORED_RUN
    assert await next_message(ws) == {"type": "new_run", "data": STORED_RUN}
    assert (await (await client.get("/api/runs/")).json())["runs"] == [
        {**STORED_RUN, **job_counts()}]


async def test_repeating_a_run_answers_200_with_the_stored_run_and_broadcasts_nothing(
        client, subscribe):
    assert (await client.post("/api/runs/", json=RUN)).status == 201
    ws = await subscribe()
    response = await client.post("/api/runs/", json=RUN)
    assert response.status == 200
    assert await response.json() == STORED_RUN
    await no_message(ws)
    assert (await (await client.get("/api/runs/")).json())["total"] == 1


async def test_repeating_a_run_with_another_datetime_keeps_the_stored_one(client, subscribe):
    await client.post("/api/runs/", json=RUN)
    ws = await subscribe()
    response = await client.post("/api/runs/",
                                 json={"run_uuid": "run-1", "run_datetime": "2025-01-01T00:00:00"})
    assert response.status == 200
    assert (await response.json())["run_datetime"] == "2026-02-24T10:30:00.000Z"
    await no_message(ws)
    body = await (await client.get("/api/runs/")).json()
    assert body["runs"] == [{**STORED_RUN, **job_counts()}]


async def test_simultaneous_posts_of_one_run_leave_one_row_and_one_broadcast(client, subscribe):
    ws = await subscribe()
    responses = await asyncio.gather(*(client.post("/api/runs/", json=RUN) for _ in range(10)))
    assert sorted(response.status for response in responses) == [200] * 9 + [201]
    assert (await next_message(ws))["type"] == "new_run"
    await no_message(ws)
    assert (await (await client.get("/api/runs/")).json())["total"] == 1


async def test_a_run_registered_after_its_jobs_answers_200_with_the_stored_run(client, subscribe):
    await client.post("/api/jobs/", json=job_body())
    ws = await subscribe()
    response = await client.post("/api/runs/", json=RUN)
    assert response.status == 200
    assert await response.json() == {"run_uuid": "run-1",
                                     "run_datetime": "2026-02-24T10:31:00.000Z"}
    await no_message(ws)


async def test_run_ids_are_opaque_strings(client):
    for run_uuid in ["custom-uuid", "x", "a" * 255, "with space/and?query#frag", "Ünïcødé-🚀"]:
        response = await client.post("/api/runs/", json={**RUN, "run_uuid": run_uuid})
        assert response.status == 201, run_uuid
        assert (await response.json())["run_uuid"] == run_uuid
    body = await (await client.get("/api/runs/?page_size=100")).json()
    assert body["total"] == 5


@pytest.mark.parametrize("body, field", [
    ({"run_datetime": RUN["run_datetime"]}, "run_uuid"),
    ({"run_uuid": "run-1"}, "run_datetime"),
    ({**RUN, "run_uuid": ""}, "run_uuid"),
    ({**RUN, "run_uuid": "a" * 256}, "run_uuid"),
    ({**RUN, "run_uuid": None}, "run_uuid"),
    ({**RUN, "run_uuid": 7}, "run_uuid"),
    ({**RUN, "run_datetime": None}, "run_datetime"),
    ({**RUN, "extra": 1}, "extra"),
])
async def test_invalid_runs_are_a_422_naming_the_field_and_store_nothing(client, body, field):
    await assert_validation_error(await client.post("/api/runs/", json=body), field)
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@SLASHES
async def test_delete_run_removes_its_jobs_and_events(client, subscribe, slash):
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/jobs/", json=job_body("job-1"))
    await client.post("/api/jobs/", json=job_body("job-2"))
    await client.post("/api/events/", json=event_body("event-1", "job-1"))
    await client.post("/api/events/", json=event_body("event-2", "job-2"))
    ws = await subscribe()

    response = await client.delete("/api/runs/run-1" + slash)
    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert await next_message(ws) == {"type": "delete_run", "data": {"run_uuid": "run-1"}}

    assert (await (await client.get("/api/runs/")).json())["total"] == 0
    assert (await (await client.get("/api/jobs/")).json())["total"] == 0
    for job_uuid in ("job-1", "job-2"):
        assert await (await client.get(f"/api/events/?job_uuid={job_uuid}")).json() == []


async def test_delete_run_leaves_other_runs_untouched(client):
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/jobs/", json=job_body("job-1", "run-1"))
    await client.post("/api/jobs/", json=job_body("job-2", "run-2"))
    await client.post("/api/events/", json=event_body("event-2", "job-2"))

    assert (await client.delete("/api/runs/run-1")).status == 200

    runs = await (await client.get("/api/runs/")).json()
    assert [run["run_uuid"] for run in runs["runs"]] == ["run-2"]
    jobs = await (await client.get("/api/jobs/")).json()
    assert [job["job_uuid"] for job in jobs["jobs"]] == ["job-2"]
    events = await (await client.get("/api/events/?job_uuid=job-2")).json()
    assert [event["event_uuid"] for event in events] == ["event-2"]


async def test_delete_run_with_an_id_that_needs_escaping(client):
    run_uuid = "run with space ü"
    await client.post("/api/runs/", json={**RUN, "run_uuid": run_uuid})
    response = await client.delete("/api/runs/run%20with%20space%20%C3%BC")
    assert response.status == 200
    assert (await (await client.get("/api/runs/")).json())["total"] == 0


@SLASHES
async def test_delete_unknown_run_is_a_404_and_broadcasts_nothing(client, subscribe, slash):
    await client.post("/api/runs/", json=RUN)
    ws = await subscribe()
    response = await client.delete("/api/runs/no-such-run" + slash)
    assert response.status == 404
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-run" in body["detail"]
    await no_message(ws)
    assert (await (await client.get("/api/runs/")).json())["total"] == 1


async def test_deleting_a_run_twice_is_a_404_the_second_time(client):
    await client.post("/api/runs/", json=RUN)
    assert (await client.delete("/api/runs/run-1")).status == 200
    assert (await client.delete("/api/runs/run-1")).status == 404


async def test_a_run_id_longer_than_255_in_the_path_is_a_422(client):
    await assert_validation_error(await client.delete("/api/runs/" + "a" * 256), "run_uuid")


# One run, read alone


@SLASHES
async def test_get_run_answers_the_run_with_the_counts_of_its_jobs(client, slash):
    await client.post("/api/runs/", json=RUN)
    await client.post("/api/jobs/", json=job_body("job-1", job_status="Success"))
    await client.post("/api/jobs/", json=job_body("job-2"))
    response = await client.get("/api/runs/run-1" + slash)
    assert response.status == 200
    assert await response.json() == {**STORED_RUN, **job_counts(total=2, running=1, success=1)}


@SLASHES
async def test_get_unknown_run_is_a_404_naming_it(client, slash):
    await client.post("/api/runs/", json=RUN)
    response = await client.get("/api/runs/no-such-run" + slash)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found"
    assert "no-such-run" in body["detail"]


async def test_get_run_with_an_id_that_needs_escaping(client):
    await client.post("/api/runs/", json={**RUN, "run_uuid": "run with space ü"})
    response = await client.get("/api/runs/run%20with%20space%20%C3%BC")
    assert response.status == 200
    assert (await response.json())["run_uuid"] == "run with space ü"


async def test_get_run_with_an_id_longer_than_255_is_a_422(client):
    await assert_validation_error(await client.get("/api/runs/" + "a" * 256), "run_uuid")


# Summaries: the counts of each run's jobs, computed by the database


async def test_each_listed_run_carries_the_counts_of_its_jobs_per_status(client):
    statuses = ["Running", "Running", "Success", "Failed", "Failed", "Failed", "Pending",
                "Cancelled"]
    for number, status in enumerate(statuses):
        await client.post("/api/jobs/", json=job_body(f"job-{number}", "busy", job_status=status))
    await client.post("/api/jobs/", json=job_body("other-job", "other", job_status="Success"))
    await client.post("/api/runs/", json={"run_uuid": "idle", "run_datetime": "2026-01-01T00:00"})

    runs = {run["run_uuid"]: run for run in (await (await client.get("/api/runs/")).json())["runs"]}

    assert runs["busy"] == {"run_uuid": "busy", "run_datetime": "2026-02-24T10:31:00.000Z",
                            **job_counts(total=8, running=2, success=1, failed=3, pending=1,
                                         cancelled=1)}
    assert runs["other"] == {"run_uuid": "other", "run_datetime": "2026-02-24T10:31:00.000Z",
                             **job_counts(total=1, success=1)}
    assert runs["idle"] == {"run_uuid": "idle", "run_datetime": "2026-01-01T00:00:00.000Z",
                            **job_counts()}


async def test_the_counts_follow_job_status_updates_and_deletes(client):
    await client.post("/api/jobs/", json=job_body("job-1"))
    await client.post("/api/jobs/", json=job_body("job-2"))
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Failed"})
    run = await (await client.get("/api/runs/run-1")).json()
    assert run == {"run_uuid": "run-1", "run_datetime": "2026-02-24T10:31:00.000Z",
                   **job_counts(total=2, running=1, failed=1)}
    await client.delete("/api/runs/run-1")
    await client.post("/api/runs/", json=RUN)
    assert await (await client.get("/api/runs/run-1")).json() == {**STORED_RUN, **job_counts()}


async def test_counts_are_right_on_every_page_of_runs(client):
    for number in range(5):
        run = run_body(number)
        await client.post("/api/runs/", json=run)
        for job in range(number):
            await client.post("/api/jobs/", json=job_body(f"{run['run_uuid']}-job-{job}",
                                                          run["run_uuid"]))
    seen = {}
    for page in (1, 2, 3):
        body = await (await client.get(f"/api/runs/?page={page}&page_size=2")).json()
        seen.update({run["run_uuid"]: run["jobs_total"] for run in body["runs"]})
    assert seen == {f"run-{number:03d}": number for number in range(5)}


async def test_new_run_messages_and_post_answers_keep_the_plain_run_shape(client, subscribe):
    ws = await subscribe()
    assert await (await client.post("/api/runs/", json=RUN)).json() == STORED_RUN
    assert (await next_message(ws))["data"] == STORED_RUN
    await client.post("/api/jobs/", json=job_body())
    assert await (await client.post("/api/runs/", json=RUN)).json() == STORED_RUN
    response = await client.post("/api/jobs/", json=job_body("job-2", "run-2"))
    assert response.status == 201
    messages = [await next_message(ws) for _ in range(3)]
    assert [message["type"] for message in messages] == ["new_job", "new_run", "new_job"]
    assert messages[1]["data"] == {"run_uuid": "run-2",
                                   "run_datetime": "2026-02-24T10:31:00.000Z"}


# Filters: since (inclusive) and until (exclusive) on run_datetime


async def runs_between(client, query: str) -> dict:
    response = await client.get("/api/runs/?" + query)
    assert response.status == 200
    body = await response.json()
    return {"uuids": [run["run_uuid"] for run in body["runs"]], "total": body["total"]}


async def test_list_runs_since_is_inclusive_and_until_is_exclusive(client):
    await post_runs(client, 6)  # run-000 at 10:00 … run-005 at 10:05
    assert await runs_between(client, "since=2026-02-24T10:02:00") == {
        "uuids": ["run-005", "run-004", "run-003", "run-002"], "total": 4}
    assert await runs_between(client, "until=2026-02-24T10:02:00") == {
        "uuids": ["run-001", "run-000"], "total": 2}
    assert await runs_between(client, "since=2026-02-24T10:01:00&until=2026-02-24T10:04:00") == {
        "uuids": ["run-003", "run-002", "run-001"], "total": 3}
    assert await runs_between(client, "since=2026-02-24T10:04:00&until=2026-02-24T10:01:00") == {
        "uuids": [], "total": 0}


async def test_since_and_until_read_any_iso_8601_form_and_zone_as_bodies_do(client):
    await post_runs(client, 6)
    same_instants = "since=2026-02-24T12:02:00%2B02:00&until=2026-02-24T10:04:00.000Z"
    assert await runs_between(client, same_instants) == {"uuids": ["run-003", "run-002"],
                                                         "total": 2}


async def test_filtered_runs_page_and_carry_their_counts(client):
    await post_runs(client, 6)
    await client.post("/api/jobs/", json=job_body("job-1", "run-004"))
    body = await (await client.get(
        "/api/runs/?since=2026-02-24T10:01:00&page=1&page_size=2")).json()
    assert (body["total"], body["page"], body["page_size"]) == (5, 1, 2)
    assert body["runs"] == [
        {**run_body(5), "run_datetime": "2026-02-24T10:05:00.000Z", **job_counts()},
        {**run_body(4), "run_datetime": "2026-02-24T10:04:00.000Z",
         **job_counts(total=1, running=1)},
    ]


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"),
    ("since=", "since"),
    ("until=2026-13-01", "until"),
    ("until=1700-01-01T00:00:00", "until"),
    ("since=2026-01-01&since=2026-01-02", "since"),
])
async def test_bad_since_or_until_is_a_422_naming_it(client, query, field):
    await assert_validation_error(await client.get("/api/runs/?" + query), field)
