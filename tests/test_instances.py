"""Instances on one database (armada/instances.py): each keeps a row in armada_leases while
it runs; one without Redis that sees another live says so, once per instance it sees."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

from armada import const
from armada.app import init_app
from armada.config import Config

RENEW = 0.1
LOGGER = "armada.instances"
HOLDER = f"{socket.gethostname()} pid {os.getpid()}"


@pytest.fixture(autouse=True)
def quick_renewal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(const, "INSTANCE_RENEW_SECONDS", RENEW)
    monkeypatch.setattr(const, "INSTANCE_LEASE_SECONDS", 3 * RENEW)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == LOGGER and record.levelno == logging.WARNING]


async def wait_for_warnings(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    deadline = time.monotonic() + 10
    while len(warnings(caplog)) < count:
        assert time.monotonic() < deadline, warnings(caplog)
        await asyncio.sleep(0.05)
    # Several renewals more: nothing is said twice.
    await asyncio.sleep(5 * RENEW)
    return warnings(caplog)


async def test_two_instances_on_one_database_without_redis_each_warn_once_of_the_other(
        aiohttp_client: Any, config: Config, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    await aiohttp_client(init_app(config))
    await asyncio.sleep(5 * RENEW)
    assert warnings(caplog) == []  # alone on its database

    await aiohttp_client(init_app(config))

    lines = await wait_for_warnings(caplog, 2)
    assert len(lines) == 2, lines
    for line in lines:
        assert line == (
            f"another instance of the service is live on this database "
            f"({config.database.describe()}: {HOLDER}) and ARMADA_REDIS_URL is not set: each "
            "instance's dashboards miss the others' changes (README, Several replicas)")


async def test_an_instance_that_stopped_is_no_longer_seen(
        aiohttp_client: Any, config: Config, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    await aiohttp_client(init_app(config))
    second = await aiohttp_client(init_app(config))
    await wait_for_warnings(caplog, 2)
    await second.close()
    caplog.clear()

    await aiohttp_client(init_app(config))

    lines = await wait_for_warnings(caplog, 2)
    # The newcomer sees the first alone; the first sees the newcomer.
    assert len(lines) == 2 and all(line.count(HOLDER) == 1 for line in lines), lines


@pytest.mark.external
async def test_instances_that_share_their_changes_through_redis_say_nothing(
        aiohttp_client: Any, config: Config, caplog: pytest.LogCaptureFixture, tmp_path: Path):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    redis = RedisServer(tmp_path / "redis")
    await asyncio.to_thread(redis.start)
    try:
        shared = replace(config, redis_url=redis.url)
        first = await aiohttp_client(init_app(shared))
        second = await aiohttp_client(init_app(shared))
        await asyncio.sleep(10 * RENEW)
        await first.close()
        await second.close()
    finally:
        await asyncio.to_thread(redis.stop)

    assert warnings(caplog) == []
