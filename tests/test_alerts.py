"""Specification of alerts (docs/alerts.md): rules fire once each, through the real service,
to a real receiving HTTP server on 127.0.0.1, signed as Standard Webhooks' reference library
verifies; deliveries survive a receiver that is down, a service killed before it sent, two
instances on one database, and a run of 500 failures (the rate limit's messages only).
On SQLite, and on SQL Server with ARMADA_TEST_MSSQL (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers import event_body, job_body
from server_process import free_port
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from armada.alerts.settings import read_alerts_file
from armada.config import Config

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
