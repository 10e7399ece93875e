"""Specification of alerts (docs/alerts.md): rules fire once each, through the real service,
to a real receiving HTTP server on 127.0.0.1, signed as Standard Webhooks' reference library
verifies; deliveries survive a receiver that is down, a service killed before it sent, two
instances on one database, and a run of 500 failures (the rate limit's messages only).
On SQLite, and on SQL Server with ARMADA_TEST_MSSQL (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers import event_body, job_body
from server_process import ServiceProcess, free_port, run_service, service_environment
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from armada.alerts.sender import backoff
from armada.alerts_settings import read_alerts_file
from armada.app import init_app
from armada.config import Config, SqliteSettings, load_config

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
PUBLIC_URL = "https://armada.example.com/tracking/"
# A delivery reaches the receiver within this (a loaded machine, a TDS engine).
DELIVERED_WITHIN = 10.0


class Receiver:
    """A webhook receiver on 127.0.0.1: records what it is sent, answers 200 (or `status`),
    or never answers (`hang`); started and stopped on one port (a receiver down, then up)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.hang = False
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        if self.hang:
            await asyncio.sleep(3600)
        return web.Response(status=self.status, text="ok" if self.status < 300 else "nope")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]

    async def wait_for(self, count: int, within: float = DELIVERED_WITHIN) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, \
                f"{len(self.received)} of {count} deliveries within {within} s"
            await asyncio.sleep(0.02)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


def alerts_file(tmp_path: Path, url: str, rules: str, kind: str = "webhook",
                delivery: str = 'retry_first = "0.2s"\nretry_max = "0.5s"', **extra: str) -> Path:
    path = tmp_path / "alerts.toml"
    target = f'kind = "{kind}"\nurl = "{url}"\nsecret_env = "HOOK_SECRET"\ntimeout = "2s"\n'
    for key, value in extra.items():
        target += f'{key} = "{value}"\n'
    path.write_text(f'public_url = "{PUBLIC_URL}"\n[delivery]\n{delivery}\n'
                    f'[targets.hook]\n{target}\n{rules}\n', encoding="utf-8")
    return path


def rule(when: str, **options: str) -> str:
    lines = [f'[[rules]]\nname = "{when}-rule"\nwhen = "{when}"\ntargets = ["hook"]']
    lines += [f'{key} = "{value}"' for key, value in options.items()]
    return "\n".join(lines) + "\n"


ALL_RULES = "".join(rule(when) for when in ("job_failed", "job_lost", "run_finished",
                                            "run_failed"))


def with_alerts(config: Config, path: Path, secret: str = SECRET) -> Config:
    return replace(config, alerts=read_alerts_file(str(path), {"HOOK_SECRET": secret}))


def verified(receiver: Receiver, secret: str = SECRET) -> list[dict[str, Any]]:
    """Every body received, each verified by the reference library."""
    return [Webhook(secret).verify(body, headers) for headers, body in receiver.received]


async def fail_job(client: Any, job_uuid: str, run_uuid: str = "run-1", agent: str = "agent-7",
                   failure: str = "TimeoutError: page did not load\n  at step 3") -> None:
    assert (await client.post("/api/jobs/", json=job_body(
        job_uuid, run_uuid, job_associated_agent=agent))).status == 201
    assert (await client.post("/api/events/", json=event_body(
        f"{job_uuid}-error", job_uuid, event_content=failure, event_status="Failed"))).status \
        == 201
    assert (await client.patch("/api/jobs/status", json={
        "job_uuid": job_uuid, "job_status": "Failed"})).status == 200


async def deliveries(client: Any, **query: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/alerts/deliveries", params=query)
    assert answer.status == 200
    return (await answer.json())["deliveries"]


async def poll(check: Callable[[], Awaitable[bool]], within: float = DELIVERED_WITHIN) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.05)


async def test_a_failed_job_sends_one_signed_message_with_the_run_the_job_and_its_failure(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"))).alerts)
    await fail_job(client, "job-1")
    await receiver.wait_for(1)

    [message] = verified(receiver)
    assert message["event"] == "job_failed"
    assert message["rule"] == "job_failed-rule"
    assert message["run"] == {"run_uuid": "run-1", "run_status": "Failed",
                              "jobs": {"total": 1, "Failed": 1}}
    assert message["job"]["job_uuid"] == "job-1"
    assert message["job"]["job_associated_agent"] == "agent-7"
    assert message["failure_line"] == "TimeoutError: page did not load"
    assert message["link"] == f"{PUBLIC_URL}#run=run-1&job=job-1"
    assert message["occurrences"] == 1
    headers, _ = receiver.received[0]
    assert message["delivery_id"] == headers["webhook-id"]
    assert headers["webhook-id"].startswith("msg_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 1


async def test_the_signature_refuses_an_altered_body_and_another_secret(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"))).alerts)
    await fail_job(client, "job-1")
    await receiver.wait_for(1)
    headers, body = receiver.received[0]

    assert Webhook(SECRET).verify(body, headers)["job"]["job_uuid"] == "job-1"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"job-1", b"job-2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(body, headers)


async def test_a_run_that_ends_well_sends_run_finished_with_its_counts_and_nothing_else(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, ALL_RULES)).alerts)
    for job_uuid in ("job-1", "job-2"):
        assert (await client.post("/api/jobs/", json=job_body(job_uuid))).status == 201
    for job_uuid in ("job-1", "job-2"):
        assert (await client.patch("/api/jobs/status", json={
            "job_uuid": job_uuid, "job_status": "Success"})).status == 200
    await receiver.wait_for(1)
    await asyncio.sleep(0.5)

    [message] = verified(receiver)
    assert message["event"] == "run_finished"
    assert message["run"] == {"run_uuid": "run-1", "run_status": "Success",
                              "jobs": {"total": 2, "Success": 2}}
    assert message["job"] is None
    assert message["failure_line"] is None
    assert message["link"] == f"{PUBLIC_URL}#run=run-1"


async def test_a_run_that_ends_with_a_failure_sends_job_failed_run_finished_and_run_failed_once(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, ALL_RULES)).alerts)
    assert (await client.post("/api/jobs/", json=job_body("job-ok"))).status == 201
    await fail_job(client, "job-bad")
    assert (await client.patch("/api/jobs/status", json={
        "job_uuid": "job-ok", "job_status": "Success"})).status == 200
    await receiver.wait_for(3)
    await asyncio.sleep(0.5)

    messages = {message["event"]: message for message in verified(receiver)}
    assert len(receiver.received) == 3
    assert set(messages) == {"job_failed", "run_finished", "run_failed"}
    for event in ("run_finished", "run_failed"):
        assert messages[event]["run"] == {"run_uuid": "run-1", "run_status": "Failed",
                                          "jobs": {"total": 2, "Failed": 1, "Success": 1}}
        assert messages[event]["failure_line"] == "TimeoutError: page did not load"
    assert len(set(receiver.ids())) == 3


async def test_a_lost_job_sends_job_lost_with_how_long_it_was_silent(
        make_client, config, tmp_path, receiver):
    client = await make_client(job_stale_after=1.0, alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_lost"))).alerts)
    assert (await client.post("/api/jobs/", json=job_body(
        "job-1", job_associated_agent="agent-3"))).status == 201
    await receiver.wait_for(1)

    [message] = verified(receiver)
    assert message["event"] == "job_lost"
    assert message["job"]["job_status"] == "Lost"
    assert message["job"]["job_associated_agent"] == "agent-3"
    assert message["failure_line"].startswith("Lost: no report from the job for")
    assert message["run"]["run_status"] == "Failed"


async def test_rules_narrowed_by_run_prefix_pattern_and_agent_fire_only_for_theirs(
        make_client, config, tmp_path, receiver):
    rules = (rule("job_failed", run_prefix="nightly-").replace("job_failed-rule", "prefix")
             + rule("job_failed", run_pattern="*-eu-?").replace("job_failed-rule", "pattern")
             + rule("job_failed", agent="crawler-*").replace("job_failed-rule", "agent"))
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rules)).alerts)
    await fail_job(client, "job-1", run_uuid="nightly-1", agent="agent-1")
    await fail_job(client, "job-2", run_uuid="daily-eu-2", agent="agent-1")
    await fail_job(client, "job-3", run_uuid="daily-us-3", agent="crawler-9")
    await fail_job(client, "job-4", run_uuid="daily-us-4", agent="agent-1")
    await receiver.wait_for(3)
    await asyncio.sleep(0.5)

    fired = sorted((message["rule"], message["job"]["job_uuid"])
                   for message in verified(receiver))
    assert fired == [("agent", "job-3"), ("pattern", "job-2"), ("prefix", "job-1")]


async def test_a_slack_target_gets_an_incoming_webhook_text_with_the_failure_and_the_link(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"), kind="slack")).alerts)
    await fail_job(client, "job-1", failure="AssertionError: <total> & more")
    await receiver.wait_for(1)

    [message] = verified(receiver)
    assert list(message) == ["text"]
    assert message["text"] == (
        "*Job failed*: job `job-1` on `agent-7` in run `run-1`\n"
        "> AssertionError: &lt;total&gt; &amp; more\n"
        f"<{PUBLIC_URL}#run=run-1&job=job-1|Open in Armada>")


async def test_a_receiver_down_then_up_gets_every_delivery_once_by_its_id(
        make_client, config, tmp_path):
    receiver = Receiver()  # not listening yet: connections are refused
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed", rate_limit="none"))).alerts)
    for number in range(5):
        await fail_job(client, f"job-{number}")
    await poll(lambda: attempted(client, 5, at_least=2))

    await receiver.start()
    try:
        await receiver.wait_for(5)
        await poll(lambda: all_sent(client, 5))
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 5
        assert sorted(message["job"]["job_uuid"] for message in verified(receiver)) == \
            [f"job-{number}" for number in range(5)]
        shown = await deliveries(client)
        assert sorted(receiver.ids()) == sorted(delivery["delivery_id"] for delivery in shown)
        assert all(delivery["attempts"] >= 3 for delivery in shown)
        assert all("ClientConnectorError" in delivery["last_error"] for delivery in shown)
    finally:
        await receiver.stop()


async def attempted(client: Any, count: int, at_least: int) -> bool:
    shown = await deliveries(client)
    return len(shown) == count and all(delivery["attempts"] >= at_least for delivery in shown)


async def all_sent(client: Any, count: int) -> bool:
    shown = await deliveries(client, status="sent")
    return len(shown) == count


async def test_a_delivery_refused_past_give_up_after_fails_for_good_and_stays_visible(
        make_client, config, tmp_path, receiver):
    receiver.status = 500
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"),
        delivery='retry_first = "0.2s"\nretry_max = "0.4s"\ngive_up_after = "1.5s"')).alerts)
    await fail_job(client, "job-1")
    await poll(lambda: failed_for_good(client))

    [delivery] = await deliveries(client)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] >= 2
    assert delivery["last_error"] == "HTTP 500: nope"
    assert delivery["event"] == "job_failed" and delivery["job_uuid"] == "job-1"
    assert len(receiver.received) == delivery["attempts"]
    assert len(set(receiver.ids())) == 1  # the same webhook-id on every attempt
    text = await (await client.get("/metrics")).text()
    assert "armada_alerts_failed_total 1.0" in text
    # The pending gauge is the sender's last reading of the outbox, taken on its next round.
    await poll(lambda: metric_is(client, "armada_alerts_pending", 0))
    await asyncio.sleep(1.0)
    assert len(receiver.received) == delivery["attempts"]


async def failed_for_good(client: Any) -> bool:
    return len(await deliveries(client, status="failed")) == 1


async def test_metrics_count_sent_deliveries_and_the_pending_ones_with_their_age(
        make_client, config, tmp_path):
    receiver = Receiver()
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"))).alerts)
    await fail_job(client, "job-1")
    await poll(lambda: attempted(client, 1, at_least=1))
    await asyncio.sleep(1.2)
    pending = await metrics(client)
    assert pending["armada_alerts_pending"] == 1
    assert pending["armada_alerts_oldest_pending_age_seconds"] >= 1.0
    assert pending["armada_alerts_sent_total"] == 0

    await receiver.start()
    try:
        await poll(lambda: all_sent(client, 1))
        await poll(lambda: metric_is(client, "armada_alerts_pending", 0))
        sent = await metrics(client)
        assert sent["armada_alerts_sent_total"] == 1
        assert sent["armada_alerts_oldest_pending_age_seconds"] == 0
        assert sent["armada_alert_attempts_failed_total"] >= 1
    finally:
        await receiver.stop()


async def metrics(client: Any) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith("armada_alert")}


async def metric_is(client: Any, name: str, value: float) -> bool:
    return (await metrics(client)).get(name) == value


async def test_the_deliveries_list_refuses_an_unknown_status_and_a_limit_out_of_range(client):
    for query in ({"status": "lost"}, {"limit": "0"}, {"limit": "501"}, {"colour": "red"}):
        answer = await client.get("/api/alerts/deliveries", params=query)
        assert answer.status == 422, query
        assert (await answer.json())["error"] == "validation_error"
    assert await deliveries(client) == []


async def start_and_fail(client: Any, count: int, run_uuid: str = "run-1") -> None:
    """`count` Running jobs of one run, then each turned Failed: the run ends with the last."""
    async def create(number: int) -> None:
        assert (await client.post("/api/jobs/", json=job_body(
            f"job-{number}", run_uuid))).status == 201

    async def fail(number: int) -> None:
        assert (await client.patch("/api/jobs/status", json={
            "job_uuid": f"job-{number}", "job_status": "Failed"})).status == 200

    for step in (create, fail):
        for first in range(0, count, 50):
            await asyncio.gather(*(step(number)
                                   for number in range(first, min(first + 50, count))))


async def test_500_failing_jobs_of_one_run_send_one_message_per_rule_at_most_once_per_run(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, ALL_RULES)).alerts)
    await start_and_fail(client, 500)
    await receiver.wait_for(3)
    await asyncio.sleep(1.0)

    events = sorted(message["event"] for message in verified(receiver))
    assert events == ["job_failed", "run_failed", "run_finished"]
    run = next(message for message in verified(receiver) if message["event"] == "run_failed")
    assert run["run"]["jobs"] == {"total": 500, "Failed": 500}
    assert len(await deliveries(client)) == 3


async def test_500_failing_jobs_with_a_digest_send_a_message_per_period_counting_them_all(
        make_client, config, tmp_path, receiver):
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed", rate_limit="2s"))).alerts)
    started = time.monotonic()
    await start_and_fail(client, 500)
    elapsed = time.monotonic() - started
    await poll(lambda: all_sent_of(client, receiver), within=DELIVERED_WITHIN + 4)

    messages = verified(receiver)
    assert sum(message["occurrences"] for message in messages) == 500
    # The first opens a digest, sent 2 s later; a failure after it was sent opens the next.
    assert 1 <= len(messages) <= elapsed / 2 + 1
    assert len(set(receiver.ids())) == len(messages)


async def all_sent_of(client: Any, receiver: Receiver) -> bool:
    shown = await deliveries(client)
    return bool(shown) and all(delivery["status"] == "sent" for delivery in shown) and \
        sum(delivery["occurrences"] for delivery in shown) == 500 and \
        len(receiver.received) == len(shown)


async def test_two_instances_on_one_database_send_each_delivery_once(
        aiohttp_client, config, tmp_path, receiver):
    settings = with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed", rate_limit="none")))
    instances = [await aiohttp_client(init_app(settings)) for _ in range(2)]
    for number in range(20):
        await fail_job(instances[number % 2], f"job-{number}")
    await receiver.wait_for(20)
    await poll(lambda: all_sent(instances[0], 20))
    await asyncio.sleep(1.0)

    assert len(receiver.received) == 20
    assert len(set(receiver.ids())) == 20
    assert sorted(message["job"]["job_uuid"] for message in verified(receiver)) == \
        sorted(f"job-{number}" for number in range(20))


async def test_a_once_per_run_rule_of_two_instances_sends_once_for_their_run(
        aiohttp_client, config, tmp_path, receiver):
    settings = with_alerts(config, alerts_file(tmp_path, receiver.url, rule("job_failed")))
    instances = [await aiohttp_client(init_app(settings)) for _ in range(2)]
    for number in range(10):
        assert (await instances[0].post("/api/jobs/", json=job_body(f"job-{number}"))).status \
            == 201
    await asyncio.gather(*(instances[number % 2].patch("/api/jobs/status", json={
        "job_uuid": f"job-{number}", "job_status": "Failed"}) for number in range(10)))
    await receiver.wait_for(1)
    await asyncio.sleep(1.0)

    assert len(receiver.received) == 1


@pytest.mark.external
async def test_the_service_killed_before_its_delivery_was_taken_sends_it_after_restart(
        tmp_path, receiver):
    receiver.hang = True  # the first attempt reaches the receiver and is never answered
    path = alerts_file(tmp_path, receiver.url, rule("job_failed"))
    service = ServiceProcess(tmp_path / "armada.db", tmp_path, ARMADA_ALERTS_FILE=str(path),
                             HOOK_SECRET=SECRET)
    service.start()
    try:
        await asyncio.to_thread(fail_job_over_http, service.url, "job-1")
        await receiver.wait_for(1)
        service.kill()
        receiver.hang = False
        service.start()
        await receiver.wait_for(2, within=DELIVERED_WITHIN + 10)
        first, second = receiver.ids()
        assert first == second
        assert verified(receiver)[1]["job"]["job_uuid"] == "job-1"

        async def sent_on_the_second_attempt() -> bool:
            shown = await asyncio.to_thread(read_json, f"{service.url}/api/alerts/deliveries")
            return [(delivery["status"], delivery["attempts"])
                    for delivery in shown["deliveries"]] == [("sent", 2)]

        await poll(sent_on_the_second_attempt)
    finally:
        service.stop()


def fail_job_over_http(url: str, job_uuid: str) -> None:
    def send(method: str, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(),
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    send("POST", "/api/jobs/", job_body(job_uuid))
    send("PATCH", "/api/jobs/status", {"job_uuid": job_uuid, "job_status": "Failed"})


def read_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


async def test_sent_deliveries_older_than_keep_are_pruned_when_the_service_starts(
        make_client, config, tmp_path, receiver):
    first = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"))).alerts)
    await fail_job(first, "job-1")
    await poll(lambda: all_sent(first, 1))
    await asyncio.sleep(0.3)

    second = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"),
        delivery='keep = "0.2s"')).alerts)
    await poll(lambda: nothing_listed(second))


async def nothing_listed(client: Any) -> bool:
    return await deliveries(client) == []


async def test_armada_alerts_test_sends_a_signed_sample_to_each_target_and_says_how_it_went(
        tmp_path, receiver):
    path = alerts_file(tmp_path, receiver.url, rule("job_failed"))
    with path.open("a") as file:
        file.write(f'[targets.nowhere]\nurl = "http://127.0.0.1:{free_port()}/"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "armada", "alerts", "test", cwd=tmp_path,
        env=service_environment(ARMADA_ALERTS_FILE=str(path), HOOK_SECRET=SECRET),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await process.communicate()

    lines = stdout.decode().splitlines()
    assert lines[0] == "hook (webhook): sent"
    assert lines[1].startswith("nowhere (webhook): failed: ClientConnectorError")
    assert process.returncode == 1
    [sample] = verified(receiver)
    assert sample["event"] == "test"
    assert SECRET not in stdout.decode() + stderr.decode()


@pytest.mark.external
@pytest.mark.parametrize(("text", "variables", "problem"), [
    ("[targets.a]\nurl = 'ftp://x'\n", {}, "targets.a.url: expected an http:// or https:// URL"),
    ("[targets.a]\nurl_env = 'HOOK_URL'\n[[rules]]\nwhen = 'job_failed'\ntargets = ['a']\n",
     {}, "targets.a.url_env: the variable HOOK_URL is not set"),
    ("[targets.a]\nurl = 'http://x/'\nsecret_env = 'S'\n", {"S": "not-whsec"},
     "S: a signing secret starts with whsec_ (Standard Webhooks)"),
    ("[targets.a]\nurl = 'http://x/'\nsecret_env = 'S'\n", {"S": "whsec_c2hvcnQ="},
     "S: the key is 5 bytes, expected 24 to 64"),
    ("[targets.a]\nurl = 'http://x/'\n[[rules]]\nwhen = 'job_exploded'\ntargets = ['a']\n", {},
     "rules[0].when: expected one of job_failed, job_lost, run_finished, run_failed"),
    ("[targets.a]\nurl = 'http://x/'\n[[rules]]\nwhen = 'job_failed'\ntargets = ['b']\n", {},
     "rules[0].targets: 'b' (targets: a)"),
    ("[targets.a]\nurl = 'http://x/'\n[[rules]]\nwhen = 'run_failed'\ntargets = ['a']\n"
     "agent = 'x'\n", {}, "rules[0].agent: narrows job_failed and job_lost only (a run has "
                          "many agents)"),
    ("[targets.a]\nurl = 'http://x/'\n[[rules]]\nwhen = 'job_failed'\ntargets = ['a']\n"
     "rate_limit = 'sometimes'\n", {},
     "rules[0].rate_limit: none, once_per_run or a digest period such as 10m"),
    ("[targets.a]\nurl = 'http://x/'\ncolour = 'red'\n", {},
     "targets.a.colour: not a setting (known: kind, secret_env, timeout, url, url_env)"),
    ("[targets.a\n", {}, "is not valid TOML"),
])
def test_a_mistake_in_the_alerts_file_stops_the_start_with_one_line_naming_it(
        tmp_path, text, variables, problem):
    path = tmp_path / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    result = run_service(tmp_path, ARMADA_ALERTS_FILE=str(path),
                         ARMADA_DB_PATH=str(tmp_path / "armada.db"), **variables)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("armada: configuration error: ARMADA_ALERTS_FILE: ")
    assert problem in line
    for value in variables.values():
        assert value not in line


def test_the_secrets_and_urls_of_targets_stay_out_of_the_configuration_repr(tmp_path):
    path = alerts_file(tmp_path, "https://hooks.slack.example/T000/B000/XXXX", "",
                       kind="slack").with_name("alerts.toml")
    path.write_text(path.read_text() + rule("job_failed"), encoding="utf-8")
    config = load_config({"ARMADA_ALERTS_FILE": str(path), "HOOK_SECRET": SECRET})

    assert config.alerts is not None
    assert config.alerts.targets["hook"].secret == b"0123456789abcdef0123456789abcdef"
    for text in (repr(config), repr(config.alerts), repr(config.alerts.targets)):
        assert "XXXX" not in text and SECRET[6:] not in text



async def test_a_change_whose_delivery_cannot_be_written_is_not_committed_either(
        make_client, config, tmp_path, receiver):
    if not isinstance(config.database, SqliteSettings):
        pytest.skip("the outbox is taken away through SQLite's file")
    client = await make_client(alerts=with_alerts(config, alerts_file(
        tmp_path, receiver.url, rule("job_failed"))).alerts)
    assert (await client.post("/api/jobs/", json=job_body("job-1"))).status == 201
    with contextlib.closing(sqlite3.connect(config.database.path)) as db:
        db.execute("DROP TABLE armada_alert_outbox")
        db.commit()

    answer = await client.patch("/api/jobs/status", json={"job_uuid": "job-1",
                                                          "job_status": "Failed"})
    assert answer.status == 500
    job = await (await client.get("/api/jobs/job-1")).json()
    assert job["job_status"] == "Running"
    assert (await client.patch("/api/jobs/status", json={
        "job_uuid": "job-1", "job_status": "Success"})).status == 200


def test_the_wait_before_a_retry_doubles_up_to_retry_max_each_a_point_of_its_second_half(
        tmp_path):
    settings = read_alerts_file(str(alerts_file(
        tmp_path, "http://127.0.0.1:9/", rule("job_failed"),
        delivery='retry_first = "10s"\nretry_max = "60s"')), {"HOOK_SECRET": SECRET})
    for attempts, longest in ((1, 10), (2, 20), (3, 40), (4, 60), (30, 60)):
        waits = [backoff(settings, attempts) for _ in range(200)]
        assert all(longest / 2 <= wait <= longest for wait in waits), attempts
        assert max(waits) - min(waits) > longest / 10, "jittered"
