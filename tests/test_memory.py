"""Memory stays bounded whatever the events' size: the real `armada serve` (a child process)
takes large events with no subscriber, and its resident memory (VmRSS of /proc) stops
growing once the resume ring holds ARMADA_WS_BUFFER_BYTES of them: evicted messages are
freed and their memory is used again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from helpers import RUN, event_body, job_body
from server_process import ServiceProcess

pytestmark = pytest.mark.external

MB = 1024 * 1024
BUFFER_BYTES = 8 * MB
EVENT_CONTENT_CHARACTERS = 500_000
EVENTS_PER_ROUND = 300  # 150 MB of event text a round: what a ring of messages would keep
# What else the process may take meanwhile: request bodies and answers in flight, SQLite's
# page caches, the allocator's free lists.
MARGIN = 60 * MB
ROUND_TO_ROUND = 16 * MB
WRITE_TIMEOUT_SECONDS = 60


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    # What is measured is memory: a write may wait long behind the search index's chunks
    # of these large events on a busy machine, and is still answered.
    service = ServiceProcess(tmp_path / "armada.db", tmp_path,
                             ARMADA_WS_BUFFER_BYTES=str(BUFFER_BYTES),
                             ARMADA_DB_TIMEOUT=str(WRITE_TIMEOUT_SECONDS))
    await asyncio.to_thread(service.start)
    yield service
    await asyncio.to_thread(service.stop)


async def post_large_events(session: aiohttp.ClientSession, url: str, first: int,
                            count: int) -> None:
    content = "x" * EVENT_CONTENT_CHARACTERS
    for n in range(first, first + count):
        body = event_body(f"large-{n}", event_content=content)
        async with session.post(f"{url}/api/events/", json=body) as response:
            assert response.status == 201, await response.text()


@pytest.mark.slow
@pytest.mark.timeout(4 * WRITE_TIMEOUT_SECONDS)
async def test_resident_memory_stays_flat_while_large_events_stream_through_the_ring(service):
    assert service.process is not None
    pid = service.process.pid
    async with aiohttp.ClientSession() as session:
        for path, body in (("/api/runs/", RUN), ("/api/jobs/", job_body())):
            async with session.post(f"{service.url}{path}", json=body) as response:
                assert response.status == 201
        # Warm: the first large requests size the buffers every later one reuses.
        await post_large_events(session, service.url, 0, 20)
        start = resident_bytes(pid)
        await post_large_events(session, service.url, 20, EVENTS_PER_ROUND)
        after_one = resident_bytes(pid)
        await post_large_events(session, service.url, 20 + EVENTS_PER_ROUND, EVENTS_PER_ROUND)
        after_two = resident_bytes(pid)

    print(f"\nRSS with ARMADA_WS_BUFFER_BYTES={BUFFER_BYTES}: {start / MB:.0f} MB, after "
          f"{EVENTS_PER_ROUND} events of {EVENT_CONTENT_CHARACTERS} characters "
          f"{after_one / MB:.0f} MB, after {EVENTS_PER_ROUND} more {after_two / MB:.0f} MB")
    assert after_one <= start + BUFFER_BYTES + MARGIN, (start, after_one)
    assert after_two <= after_one + ROUND_TO_ROUND, (after_one, after_two)
