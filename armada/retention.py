"""Retention: delete runs older than N days, with their jobs and events. A run is old when its
last report is (the newest of its, its jobs' and their events' datetimes, as the run summary's
last_report_datetime) and none of its jobs is Running or Pending: an agent still at work
keeps its run, whatever the run is dated.

Each run goes in its own short transaction, a batch of runs at a time, so the API never
waits long behind it. In the service a background task does it every
`retention_interval` seconds (ARMADA_RETENTION_DAYS) and broadcasts `delete_run` for each
run; `armada purge --older-than 30d [--dry-run]` (armada/cli/purge.py) does it once, from a
process with no subscribers: each deletion it commits leaves a row in armada_run_deletions, in
the same transaction, and the service (one replica) takes those rows every second and
broadcasts them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from armada import const
from armada.background import running
from armada.errors import StoreUnavailable
from armada.keys import config_key, store_key
from armada.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgedRun:
    """A run retention deleted, as `armada purge` reports it."""

    run_uuid: str
    run_datetime: datetime
    jobs: int
    events: int


def cutoff_before(age: timedelta) -> datetime:
    """Naive UTC, as the store holds datetimes."""
    return datetime.now(UTC).replace(tzinfo=None) - age


async def purge(store: Store, cutoff: datetime, *,
                on_purged: Callable[[PurgedRun], None] | None = None,
                announce_later: bool = False) -> list[PurgedRun]:
    """Delete every run older than `cutoff`, each in its own transaction; answer them.
    `announce_later`: for a service to announce (a process without subscribers)."""
    purged: list[PurgedRun] = []
    while True:
        runs = await store.list_runs_older_than(cutoff, const.RETENTION_BATCH_RUNS)
        went = 0
        for run in runs:
            # The store hands each deletion to the stream (delete_run) after its commit.
            deleted = await store.purge_run(run["run_uuid"], old_before=cutoff,
                                            announce_later=announce_later)
            if deleted is not None:  # None: deleted meanwhile, or it reported since listed
                went += 1
                record = PurgedRun(run["run_uuid"], run["run_datetime"], deleted.jobs,
                                deleted.events)
                purged.append(record)
                if on_purged is not None:
                    on_purged(record)
        # A short batch was the last; one of which none went (each reported since it was
        # listed, or was deleted) is left for the next pass rather than read again at once.
        if len(runs) < const.RETENTION_BATCH_RUNS or not went:
            return purged


async def older_than(store: Store, cutoff: datetime) -> list[dict[str, object]]:
    """What `purge` would delete (for --dry-run)."""
    found: list[dict[str, object]] = []
    while True:
        runs = await store.list_runs_older_than(cutoff, const.RETENTION_BATCH_RUNS, len(found))
        found.extend(runs)
        if len(runs) < const.RETENTION_BATCH_RUNS:
            return found


# The background task of the service


async def retention_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: purge at start and then every interval, while the service runs."""
    config = app[config_key]
    if config.retention_days is None:
        yield
        return
    async with running(_keep_purging(app, timedelta(days=config.retention_days),
                                     config.retention_interval), "retention"):
        yield


async def _keep_purging(app: web.Application, age: timedelta, interval: float) -> None:
    while True:
        try:
            purged = await purge(app[store_key], cutoff_before(age))
            if purged:
                log.info("retention: deleted %d runs older than %s", len(purged), age)
        except StoreUnavailable as error:
            log.warning("retention: database unavailable, next try in %gs: %s",
                        interval, error.detail)
        except Exception:
            log.exception("retention: purge failed, next try in %gs", interval)
        await asyncio.sleep(interval)


async def run_deletions_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: announce the runs `armada purge` deleted, while the service runs."""
    async with running(_keep_announcing(app[store_key]), "run deletions"):
        yield


async def _keep_announcing(store: Store) -> None:
    while True:
        await asyncio.sleep(const.RUN_DELETIONS_POLL_SECONDS)
        try:
            # A read first: the write transaction that takes them only when some wait.
            while await store.count_run_deletions():
                taken = await store.take_run_deletions(const.RETENTION_BATCH_RUNS)
                if not taken.changes:  # another replica took them
                    break
        except StoreUnavailable:
            pass  # the store says when the database is down and back
        except Exception:
            log.exception("announcing the runs armada purge deleted failed; next try in %gs",
                          const.RUN_DELETIONS_POLL_SECONDS)
