"""Which run each job is in and which job each event is in, for the filters."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from armada import const
from armada.errors import NotFound


def concerns(message_type: str, data: Any, run_uuid: str | None, job_uuid: str | None,
             owners: Owners) -> tuple[str | None, str | None]:
    """The run and job a message is about: from its data, the caller, or what is known."""
    if isinstance(data, dict):
        run_uuid = run_uuid or data.get("run_uuid")
        job_uuid = job_uuid or data.get("job_uuid")
        if job_uuid is None and "event_uuid" in data:
            job_uuid = owners.job_of_event(data["event_uuid"])
    if run_uuid is None and job_uuid is not None:
        run_uuid = owners.run_of_job(job_uuid)
    return run_uuid, job_uuid


class OwnerLookups(Protocol):
    """The store's reads that Owners falls back on; each raises NotFound when unknown."""

    async def get_job(self, job_uuid: str) -> dict[str, Any]: ...

    async def get_event(self, event_uuid: str) -> dict[str, Any]: ...


class Owners:
    """Which run each job is in and which job each event is in, for filters.

    A job never changes run, nor an event job, so a bounded cache is safe; it learns from
    every message (this replica's or another's) and forgets the jobs of a deleted run.
    """

    def __init__(self, size: int = const.OWNERS_CACHE_SIZE) -> None:
        self._size = size
        self._run_of_job: OrderedDict[str, str] = OrderedDict()
        self._job_of_event: OrderedDict[str, str] = OrderedDict()

    def run_of_job(self, job_uuid: str) -> str | None:
        return _get(self._run_of_job, job_uuid)

    def job_of_event(self, event_uuid: str) -> str | None:
        return _get(self._job_of_event, event_uuid)

    def learn(self, message_type: str, run_uuid: str | None, job_uuid: str | None,
              data: Any) -> None:
        if message_type == "delete_run" and run_uuid is not None:
            self._forget_run(run_uuid)
            return
        if run_uuid is not None and job_uuid is not None:
            _put(self._run_of_job, job_uuid, run_uuid, self._size)
        if isinstance(data, dict) and job_uuid is not None and "event_uuid" in data:
            _put(self._job_of_event, data["event_uuid"], job_uuid, self._size)

    async def of_job(self, lookups: OwnerLookups, job_uuid: str) -> str | None:
        """The run of a job, from the cache or else the store (None when unknown)."""
        run_uuid = self.run_of_job(job_uuid)
        if run_uuid is None:
            try:
                run_uuid = (await lookups.get_job(job_uuid))["run_uuid"]
            except NotFound:
                return None
            _put(self._run_of_job, job_uuid, run_uuid, self._size)
        return run_uuid

    async def of_event(self, lookups: OwnerLookups, event_uuid: str
                       ) -> tuple[str | None, str | None]:
        """`(job_uuid, run_uuid)` of an event, from the cache or else the store."""
        job_uuid = self.job_of_event(event_uuid)
        if job_uuid is None:
            try:
                job_uuid = (await lookups.get_event(event_uuid))["job_uuid"]
            except NotFound:
                return None, None
            _put(self._job_of_event, event_uuid, job_uuid, self._size)
        return job_uuid, await self.of_job(lookups, job_uuid)

    def _forget_run(self, run_uuid: str) -> None:
        jobs = {job for job, run in self._run_of_job.items() if run == run_uuid}
        for job in jobs:
            del self._run_of_job[job]
        for event in [event for event, job in self._job_of_event.items() if job in jobs]:
            del self._job_of_event[event]


def _get(cache: OrderedDict[str, str], key: str) -> str | None:
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _put(cache: OrderedDict[str, str], key: str, value: str, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
