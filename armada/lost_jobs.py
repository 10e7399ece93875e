"""Lost jobs: a Running job with no report for ARMADA_JOB_STALE_AFTER becomes Lost (a Pending
job, which no agent has taken yet, is waiting, never lost).

Every min(stale / 2, 60 s) one replica (the holder of the `lost_jobs` lease, a row of
armada_leases taken in a write transaction) reads the silent jobs from the index of
armada_job_activity and marks each in its own transaction (the Lost status and a Lost event
naming how long it was silent, dated at the agent's last report); the store hands both
changes to the stream. A replica that dies mid-sweep leaves every job marked or not, and the
lease expires for another to go on.
On both databases alike, triggers on Armada's tables keep armada_job_activity in step
(sql/<dialect>/migrations/0005_job_activity.sql).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from armada import const
from armada.background import running
from armada.errors import StoreUnavailable
from armada.keys import config_key, metrics_key, store_key
from armada.store import Store

log = logging.getLogger(__name__)

LEASE = "lost_jobs"
# The sweep's lease outlives a few intervals: a replica that stopped loses it that late.
LEASE_INTERVALS = 3
EVENT_CONTENT = "Lost: no report from the job for"


def sweep_interval(stale_after: float) -> float:
    return min(stale_after / 2, const.LOST_JOBS_SWEEP_MAX_SECONDS)


async def sweep(store: Store, holder: str, stale_after: float) -> list[str]:
    """Mark every silent job Lost if `holder` holds the lease; answer the jobs it marked."""
    if not await store.take_lease(LEASE, holder, sweep_interval(stale_after) * LEASE_INTERVALS):
        return []
    marked: list[str] = []
    while True:
        jobs = await store.stale_jobs(stale_after, const.LOST_JOBS_BATCH)
        newly = [job_uuid for job_uuid in jobs
                 if await store.mark_job_lost(job_uuid, stale_after, _lost_event()) is not None]
        marked += newly
        # A full batch of which none was marked (each reported meanwhile) would repeat itself.
        if len(jobs) < const.LOST_JOBS_BATCH or not newly:
            return marked


def _lost_event() -> dict[str, object]:
    return {"event_uuid": str(uuid.uuid4()), "event_content": EVENT_CONTENT,
            "event_datetime": datetime.now(UTC).replace(tzinfo=None), "event_status": "Lost"}


async def lost_jobs_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: sweep every interval while the service runs (when a stale time is set)."""
    stale_after = app[config_key].job_stale_after
    if not stale_after:  # None or 0: off
        yield
        return
    async with running(_keep_sweeping(app, stale_after), "lost_jobs"):
        yield


async def _keep_sweeping(app: web.Application, stale_after: float) -> None:
    holder = str(uuid.uuid4())  # this replica, for the lease
    interval = sweep_interval(stale_after)
    while True:
        await asyncio.sleep(interval)
        try:
            marked = await sweep(app[store_key], holder, stale_after)
        except StoreUnavailable as error:
            log.warning("lost jobs: database unavailable, next try in %gs: %s", interval,
                        error.detail)
            continue
        except Exception:
            log.exception("lost jobs: sweep failed, next try in %gs", interval)
            continue
        if marked:
            app[metrics_key].jobs_lost.inc(len(marked))
            log.info("lost jobs: %d marked Lost after %gs without a report: %s", len(marked),
                     stale_after, ", ".join(marked[:10]))
