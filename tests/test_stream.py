"""The stream of `/ws/events/` beyond the spec's messages: numbering (`seq`, `ts`, `epoch`),
resume with `?since=&epoch=` (replay, or `resync`), and filters; all over real
WebSocket connections to the real app."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from helpers import MESSAGE_TIMEOUT, RUN, event_body, job_body, next_envelope, no_message
from server_process import service_environment

from armada.config import ConfigError, load_config
from armada.datetimes import format_datetime
from armada.keys import stream_key

WIRE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def create_run_and_job(client: TestClient, run_uuid: str = "run-1",
                             job_uuid: str = "job-1") -> None:
    assert (await client.post("/api/runs/", json={**RUN, "run_uuid": run_uuid})).status == 201
    assert (await client.post("/api/jobs/", json=job_body(job_uuid, run_uuid))).status == 201


async def post_events(client: TestClient, uuids: list[str], job_uuid: str = "job-1") -> None:
    for event_uuid in uuids:
        response = await client.post("/api/events/", json=event_body(event_uuid, job_uuid))
        assert response.status == 201


async def envelopes(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    return [await next_envelope(ws) for _ in range(count)]


async def connect(client: TestClient, **query: Any) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect("/ws/events/", params={k: str(v) for k, v in query.items()})


# Numbering


async def test_every_message_carries_seq_ts_and_epoch(client, subscribe):
    ws = await subscribe()
    before = format_datetime(datetime.now(UTC))
    await create_run_and_job(client)
    await post_events(client, ["event-1", "event-2"])
    messages = await envelopes(ws, 4)
    after = format_datetime(datetime.now(UTC))
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    assert len({m["epoch"] for m in messages}) == 1
    assert isinstance(messages[0]["epoch"], str) and messages[0]["epoch"]
    assert all(WIRE_DATETIME.match(m["ts"]) for m in messages)
    # The time of the commit, UTC, to the millisecond.
    assert all(before <= m["ts"] <= after for m in messages)
    assert list(messages[0]) == ["seq", "epoch", "ts", "type", "data"]


async def test_each_app_start_is_a_new_epoch(make_client):
    first, second = await make_client(), await make_client()
    assert first.app[stream_key].numbering.epoch != second.app[stream_key].numbering.epoch


# Resume


async def test_resume_replays_what_was_missed_then_goes_on_live(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[-1]
    await ws.close()
    await post_events(client, ["missed-1", "missed-2"])

    resumed = await connect(client, since=cursor["seq"], epoch=cursor["epoch"])
    await post_events(client, ["live-1"])
    messages = await envelopes(resumed, 3)
    assert [m["data"]["event_uuid"] for m in messages] == ["missed-1", "missed-2", "live-1"]
    assert [m["seq"] for m in messages] == [cursor["seq"] + n for n in (1, 2, 3)]
    await no_message(resumed)
    await resumed.close()


async def test_resume_has_no_gap_and_no_duplicate_while_writes_go_on(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    await post_events(client, [f"before-{n}" for n in range(20)])
    cursor = (await envelopes(ws, 22))[5]

    # Writes committed while the replay is being sent, before and after the subscription.
    writes = asyncio.gather(*(
        client.post("/api/events/", json=event_body(f"during-{n}")) for n in range(40)))
    await asyncio.sleep(0)
    resumed = await connect(client, since=cursor["seq"], epoch=cursor["epoch"])
    assert all(response.status == 201 for response in await writes)

    expected = [m["seq"] for m in await envelopes(ws, 40)]
    replayed = await envelopes(resumed, 16 + 40)
    assert [m["seq"] for m in replayed] == list(range(cursor["seq"] + 1, expected[-1] + 1))
    await no_message(resumed)
    await resumed.close()


async def test_resume_at_the_current_seq_replays_nothing(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[-1]
    resumed = await connect(client, since=cursor["seq"], epoch=cursor["epoch"])
    await no_message(resumed, within=0.2)
    await post_events(client, ["next"])
    assert (await next_envelope(resumed))["seq"] == cursor["seq"] + 1
    await resumed.close()


async def expect_resync(ws: aiohttp.ClientWebSocketResponse, reason: str) -> dict[str, Any]:
    message = await next_envelope(ws)
    assert message["type"] == "resync", message
    assert message["data"]["reason"] == reason
    return message


async def test_a_cursor_older_than_the_buffer_gets_resync_then_live(make_client):
    client = await make_client(ws_buffer=5)
    ws = await connect(client)
    await create_run_and_job(client)
    await post_events(client, [f"event-{n}" for n in range(10)])
    messages = await envelopes(ws, 12)

    resumed = await connect(client, since=messages[0]["seq"], epoch=messages[0]["epoch"])
    resync = await expect_resync(resumed, "too_old")
    assert resync["seq"] == messages[-1]["seq"] and resync["data"]["since"] == messages[0]["seq"]
    await post_events(client, ["after"])
    live = await next_envelope(resumed)
    assert live["data"]["event_uuid"] == "after" and live["seq"] == resync["seq"] + 1

    # The oldest cursor the buffer (the last 5 messages) still covers replays.
    covered = await connect(client, since=messages[-5]["seq"], epoch=messages[0]["epoch"])
    assert [m["seq"] for m in await envelopes(covered, 5)] == [
        m["seq"] for m in messages[-4:]] + [live["seq"]]
    await no_message(covered, within=0.1)
    for each in (ws, resumed, covered):
        await each.close()


async def test_the_buffer_keeps_only_its_bytes_and_a_cursor_older_than_them_gets_resync(
        make_client):
    # 65,536 bytes hold three messages of a 20,000-character event, not four.
    client = await make_client(ws_buffer_bytes=65_536)
    ws = await connect(client)
    await create_run_and_job(client)
    for n in range(6):
        response = await client.post("/api/events/", json=event_body(
            f"event-{n}", event_content="x" * 20_000))
        assert response.status == 201
    messages = await envelopes(ws, 8)

    evicted = await connect(client, since=messages[-5]["seq"], epoch=messages[0]["epoch"])
    resync = await expect_resync(evicted, "too_old")
    assert resync["seq"] == messages[-1]["seq"]
    covered = await connect(client, since=messages[-4]["seq"], epoch=messages[0]["epoch"])
    assert [m["seq"] for m in await envelopes(covered, 3)] == [m["seq"] for m in messages[-3:]]
    await no_message(covered, within=0.1)
    for each in (ws, evicted, covered):
        await each.close()


async def test_a_message_larger_than_the_buffer_is_not_kept_and_resuming_before_it_resyncs(
        make_client):
    client = await make_client(ws_buffer_bytes=65_536)
    ws = await connect(client)
    await create_run_and_job(client)
    response = await client.post("/api/events/", json=event_body(
        "huge", event_content="x" * 70_000))
    assert response.status == 201
    before, huge = (await envelopes(ws, 3))[1:]
    assert huge["data"]["event_uuid"] == "huge"  # live subscribers get it all the same

    resumed = await connect(client, since=before["seq"], epoch=before["epoch"])
    await expect_resync(resumed, "too_old")
    current = await connect(client, since=huge["seq"], epoch=huge["epoch"])
    await no_message(current, within=0.2)
    for each in (ws, resumed, current):
        await each.close()


async def test_a_cursor_of_another_epoch_gets_resync(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[0]
    resumed = await connect(client, since=cursor["seq"], epoch="another-epoch")
    await expect_resync(resumed, "other_epoch")
    await no_message(resumed)
    await resumed.close()


async def test_a_cursor_ahead_of_the_stream_gets_resync(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[-1]
    resumed = await connect(client, since=cursor["seq"] + 1, epoch=cursor["epoch"])
    resync = await expect_resync(resumed, "ahead")
    assert resync["seq"] == cursor["seq"] and resync["epoch"] == cursor["epoch"]
    await resumed.close()


@pytest.mark.parametrize("query, field", [
    ({"since": "abc", "epoch": "e"}, "since"),
    ({"since": "-1", "epoch": "e"}, "since"),
    ({"since": "3"}, "epoch"),
    ({"epoch": "e"}, "since"),
    ({"types": "new_event,bogus"}, "types"),
    ({"run_uuid": ""}, "run_uuid"),
    ({"run_uuid": "r" * 256}, "run_uuid"),
    ({"color": "blue"}, "color"),
    ({"grouped": "sometimes"}, "grouped"),
])
async def test_a_bad_query_is_a_json_422_before_the_upgrade(client, query, field):
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await client.ws_connect("/ws/events/", params=query)
    assert raised.value.status == 422
    response = await client.get("/ws/events/", params=query)
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "validation_error" and field in body["fields"]


# Filters


async def make_two_runs(client: TestClient) -> None:
    """run-1/job-1/event-1 and run-2/job-2/event-2, statuses changed, then run-2 deleted."""
    await create_run_and_job(client, "run-1", "job-1")
    await create_run_and_job(client, "run-2", "job-2")
    await post_events(client, ["event-1"], "job-1")
    await post_events(client, ["event-2"], "job-2")
    for job_uuid in ("job-1", "job-2"):
        await client.patch("/api/jobs/status", json={"job_uuid": job_uuid, "job_status": "Success"})
    for event_uuid in ("event-1", "event-2"):
        await client.patch("/api/events/status",
                           json={"event_uuid": event_uuid, "event_status": "Failed"})
    assert (await client.delete("/api/runs/run-2")).status == 200
    assert (await client.delete("/api/runs/run-1")).status == 200


def summary(message: dict[str, Any]) -> tuple[str, str]:
    data = message["data"]
    key = next(k for k in ("event_uuid", "job_uuid", "run_uuid") if k in data)
    return message["type"], data[key]


async def test_a_run_filter_gets_everything_about_that_run_only(client):
    ws = await connect(client, run_uuid="run-2")
    await make_two_runs(client)
    assert [summary(m) for m in await envelopes(ws, 6)] == [
        ("new_run", "run-2"), ("new_job", "job-2"), ("new_event", "event-2"),
        ("update_job_status", "job-2"), ("update_event_status", "event-2"),
        ("delete_run", "run-2"),
    ]
    await no_message(ws)


async def test_a_job_filter_gets_that_job_and_the_deletion_of_its_run(client):
    await create_run_and_job(client, "run-1", "job-1")
    ws = await connect(client, job_uuid="job-1")
    await create_run_and_job(client, "run-2", "job-2")
    await post_events(client, ["event-1"], "job-1")
    await post_events(client, ["event-2"], "job-2")
    await client.patch("/api/events/status",
                       json={"event_uuid": "event-1", "event_status": "Failed"})
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Failed"})
    await client.delete("/api/runs/run-2")
    await client.delete("/api/runs/run-1")
    assert [summary(m) for m in await envelopes(ws, 4)] == [
        ("new_event", "event-1"), ("update_event_status", "event-1"),
        ("update_job_status", "job-1"), ("delete_run", "run-1"),
    ]
    await no_message(ws)


async def test_a_types_filter_gets_only_those_types(client):
    ws = await connect(client, types="new_event,update_job_status")
    await make_two_runs(client)
    assert [summary(m) for m in await envelopes(ws, 4)] == [
        ("new_event", "event-1"), ("new_event", "event-2"),
        ("update_job_status", "job-1"), ("update_job_status", "job-2"),
    ]
    await no_message(ws)


async def test_delete_run_reaches_a_client_of_that_run_whatever_its_types(client):
    ws = await connect(client, run_uuid="run-1", types="new_event")
    await make_two_runs(client)
    assert [summary(m) for m in await envelopes(ws, 2)] == [
        ("new_event", "event-1"), ("delete_run", "run-1")]
    await no_message(ws)


async def test_filters_apply_to_the_replay_too(client, subscribe):
    ws = await subscribe()
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[-1]
    await create_run_and_job(client, "run-2", "job-2")
    await post_events(client, ["event-1"], "job-1")
    await post_events(client, ["event-2"], "job-2")
    resumed = await connect(client, since=cursor["seq"], epoch=cursor["epoch"], run_uuid="run-2")
    assert [summary(m) for m in await envelopes(resumed, 3)] == [
        ("new_run", "run-2"), ("new_job", "job-2"), ("new_event", "event-2")]
    await no_message(resumed)
    await resumed.close()


async def test_filters_know_the_run_of_jobs_created_before_the_app_started(make_client):
    first = await make_client()
    await create_run_and_job(first, "run-1", "job-1")
    await create_run_and_job(first, "run-2", "job-2")
    await post_events(first, ["event-2"], "job-2")
    await first.close()

    client = await make_client()  # same database, empty caches
    ws = await connect(client, run_uuid="run-2")
    await post_events(client, ["event-1b"], "job-1")
    await post_events(client, ["event-2b"], "job-2")
    await client.patch("/api/jobs/status", json={"job_uuid": "job-1", "job_status": "Failed"})
    await client.patch("/api/events/status",
                       json={"event_uuid": "event-2", "event_status": "Failed"})
    assert [summary(m) for m in await envelopes(ws, 2)] == [
        ("new_event", "event-2b"), ("update_event_status", "event-2")]
    await no_message(ws)


# Settings


# Grouped frames


async def next_group(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The messages of the next frame of a subscriber of grouped frames: a JSON array."""
    async with asyncio.timeout(MESSAGE_TIMEOUT):
        frame = await ws.receive()
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    group = json.loads(frame.data)
    assert isinstance(group, list) and group
    return group


async def post_batch(client: TestClient, uuids: list[str], job_uuid: str = "job-1") -> None:
    events = [event_body(event_uuid, job_uuid) for event_uuid in uuids]
    response = await client.post("/api/events/batch", json={"events": events})
    assert response.status == 201


async def test_a_subscriber_of_grouped_frames_gets_a_batchs_messages_in_one_frame(client):
    await create_run_and_job(client)
    grouped = await connect(client, grouped="true")
    single = await connect(client)
    await post_batch(client, [f"event-{n}" for n in range(5)])

    group = await next_group(grouped)
    assert [summary(m) for m in group] == [("new_event", f"event-{n}") for n in range(5)]
    assert [m["seq"] for m in group] == list(range(group[0]["seq"], group[0]["seq"] + 5))
    # The dashboard's default: one message, a JSON object, per frame.
    assert await envelopes(single, 5) == group
    await post_events(client, ["event-5"])
    assert [summary(m) for m in await next_group(grouped)] == [("new_event", "event-5")]
    await no_message(grouped)


async def test_a_filtered_subscriber_of_grouped_frames_gets_only_what_its_filter_takes(client):
    await create_run_and_job(client, "run-1", "job-1")
    await create_run_and_job(client, "run-2", "job-2")
    ws = await connect(client, grouped="true", job_uuid="job-2")
    events = [event_body(f"event-{n}", f"job-{1 + n % 2}") for n in range(6)]
    assert (await client.post("/api/events/batch", json={"events": events})).status == 201
    assert [summary(m) for m in await next_group(ws)] == [
        ("new_event", "event-1"), ("new_event", "event-3"), ("new_event", "event-5")]
    await no_message(ws)


async def test_a_resumed_subscriber_of_grouped_frames_gets_the_replay_in_one_frame(client):
    ws = await connect(client)
    await create_run_and_job(client)
    cursor = (await envelopes(ws, 2))[-1]
    await post_events(client, ["event-1", "event-2", "event-3"])
    resumed = await connect(client, grouped="true", since=cursor["seq"], epoch=cursor["epoch"])
    assert [summary(m) for m in await next_group(resumed)] == [
        ("new_event", "event-1"), ("new_event", "event-2"), ("new_event", "event-3")]
    await post_events(client, ["event-4"])
    assert [summary(m) for m in await next_group(resumed)] == [("new_event", "event-4")]


def test_buffer_and_redis_url_are_read_from_the_environment(tmp_path):
    env = {"ARMADA_DB_PATH": str(tmp_path / "a.db")}
    config = load_config(env)
    assert (config.ws_buffer, config.redis_url) == (10_000, None)
    config = load_config({**env, "ARMADA_WS_BUFFER": "50",
                          "ARMADA_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert (config.ws_buffer, config.redis_url) == (50, "redis://127.0.0.1:6379/0")
    assert "6379" not in repr(config)  # the URL may carry a password


@pytest.mark.parametrize("variable, value", [
    ("ARMADA_WS_BUFFER", "0"), ("ARMADA_WS_BUFFER", "many"),
    ("ARMADA_REDIS_URL", "http://127.0.0.1:6379"),
])
def test_bad_stream_settings_name_the_variable(tmp_path, variable, value):
    with pytest.raises(ConfigError) as raised:
        load_config({"ARMADA_DB_PATH": str(tmp_path / "a.db"), variable: value})
    assert raised.value.variable == variable


@pytest.mark.slow
def test_without_a_redis_url_redis_is_not_imported(tmp_path):
    code = ("import sys; from armada.app import init_app; from armada.config import load_config;"
            f"init_app(load_config({{'ARMADA_DB_PATH': {str(tmp_path / 'a.db')!r}}}));"
            "assert 'redis' not in sys.modules, 'redis imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=30, env=service_environment())
    assert result.returncode == 0, result.stderr
