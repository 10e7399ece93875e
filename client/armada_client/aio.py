"""`AsyncMonitoringClient`: the same client for agents on asyncio.

Reporting never blocks (it only queues), so the report methods are plain calls, safe on the
event loop; `flush()` and `close()` are awaited, and wait in a worker thread, not on the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from armada_client.client import MonitoringClient
from armada_client.errors import ArmadaClientError


class AsyncMonitoringClient:
    """`MonitoringClient`'s constructor and report methods; `await flush()`, `await close()`,
    `async with`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = MonitoringClient(*args, **kwargs)

    def __repr__(self) -> str:
        return "Async" + repr(self.sync)

    async def __aenter__(self) -> AsyncMonitoringClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def job_uuid(self) -> str:
        return self.sync.job_uuid

    @property
    def run_uuid(self) -> str:
        return self.sync.run_uuid

    @property
    def pending(self) -> int:
        return self.sync.pending

    @property
    def dropped(self) -> int:
        return self.sync.dropped

    @property
    def last_error(self) -> ArmadaClientError | None:
        return self.sync.last_error

    def create_job(self) -> AsyncMonitoringClient:
        self.sync.create_job()
        return self

    def record_success_event(self, event_content: str) -> AsyncMonitoringClient:
        self.sync.record_success_event(event_content)
        return self

    def record_finalsuccess_event(self, event_content: str) -> AsyncMonitoringClient:
        self.sync.record_finalsuccess_event(event_content)
        return self

    def record_failed_event(self, event_content: str) -> AsyncMonitoringClient:
        self.sync.record_failed_event(event_content)
        return self

    def record_event(self, event_content: str, status: str = "Running"
                     ) -> AsyncMonitoringClient:
        self.sync.record_event(event_content, status)
        return self

    def cancel_job(self, event_content: str | None = None) -> AsyncMonitoringClient:
        self.sync.cancel_job(event_content)
        return self

    async def flush(self, timeout: float | None = None) -> bool:
        """`MonitoringClient.flush`, awaited."""
        return await asyncio.get_running_loop().run_in_executor(None, self.sync.flush, timeout)

    async def close(self, timeout: float | None = None) -> bool:
        return await self.flush(timeout)
