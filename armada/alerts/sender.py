"""The sender: a background task of each instance that claims due deliveries from the outbox
and posts them, never on an agent's path (its writes wait behind the agents' own).

A claim is one write: up to the free room of ALERT_MAX_IN_FLIGHT deliveries, each held for
its lease (the target's timeout and a margin) and its attempt counted. Each is posted in its
own task with its target's timeout; a 2xx marks it sent, anything else sets its next attempt
(backoff doubling from retry_first to retry_max, jittered) or, past give_up_after, fails it
for good (kept, and shown by GET /api/alerts/deliveries). An instance killed mid-attempt
leaves its claims to expire: another instance, or this one restarted, sends them again under
the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from armada import const
from armada.alerts import queue
from armada.alerts.outbox import Outbox, new_delivery_id
from armada.alerts.payloads import body
from armada.alerts.signing import webhook_headers
from armada.alerts_settings import AlertsSettings, Target
from armada.background import running
from armada.changes import Change, Sinks
from armada.errors import StoreUnavailable
from armada.store import Store

log = logging.getLogger(__name__)

USER_AGENT = "armada-alerts"
# What a receiver's refusal keeps of its answer, to say why.
ANSWER_CHARS = 200


def backoff(settings: AlertsSettings, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed: doubled from retry_first up
    to retry_max, a random point in its second half (instances do not retry in step)."""
    delay = min(settings.retry_max, settings.retry_first * 2 ** min(attempts - 1, 32))
    return random.uniform(delay / 2, delay)


async def post(session: aiohttp.ClientSession, target: Target, delivery_id: str,
               data: bytes) -> str | None:
    """One attempt: None when the receiver took it (a 2xx), else why not, in one line that
    names neither the URL nor the secret."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **webhook_headers(delivery_id, int(time.time()), data, target.secret)}
    try:
        async with session.post(target.url, data=data, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=target.timeout)) as answer:
            if 200 <= answer.status < 300:
                return None
            text = (await answer.content.read(ANSWER_CHARS)).decode("utf-8", "replace")
            return f"HTTP {answer.status}" + (f": {' '.join(text.split())}" if text else "")
    except TimeoutError:
        return f"no answer within {target.timeout:g} s"
    except aiohttp.ClientError as error:
        return f"{type(error).__name__}: {_without(str(error), target.url)}"
    except OSError as error:
        return f"{type(error).__name__}: {_without(str(error), target.url)}"


def _without(text: str, url: str) -> str:
    return text.replace(url, "<url>")[:const.ALERT_ERROR_CHARS]


class Sender:
    def __init__(self, settings: AlertsSettings, store: Store,
                 session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.holder = uuid.uuid4().hex  # this instance, in its claims
        self.wake = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        # Deliveries this instance sent, and gave up on; attempts that failed.
        self.sent = 0
        self.failed = 0
        self.attempts_failed = 0
        # The outbox as last read (every instance's deliveries), and when.
        self.pending: int | None = None
        self._oldest_seconds: float | None = None
        self._read_at = 0.0
        self._next_prune = time.monotonic()
        self._database_down = False  # said once per outage

    async def run(self) -> None:
        while True:
            wait = const.ALERT_POLL_SECONDS
            try:
                wait = await self.turn()
                self._database_down = False
            except StoreUnavailable as error:
                if not self._database_down:
                    self._database_down = True
                    log.warning("alerts: database unavailable, deliveries wait: %s",
                                error.detail)
            except Exception:
                log.exception("alerts: the sender's turn failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            self.wake.clear()

    async def turn(self) -> float:
        """Read the outbox, claim and start what is due; answer how long to wait."""
        state = await self.store.read(queue.state)
        self.pending = int(state["pending"])
        self._oldest_seconds = None if state["oldest_seconds"] is None else \
            max(0.0, float(state["oldest_seconds"]))
        self._read_at = time.monotonic()
        room = const.ALERT_MAX_IN_FLIGHT - len(self.in_flight)
        due_in = state["due_in_seconds"]
        if self.pending and room > 0 and due_in is not None and due_in <= 0:
            claim_id = f"{self.holder}:{uuid.uuid4().hex[:16]}"
            rows = await self.store.write(queue.claim, claim_id, self.settings.lease, room,
                                          background=True)
            for row in rows:
                task = asyncio.create_task(self._deliver(row, claim_id),
                                           name=f"alert {row['delivery_id']}")
                self.in_flight.add(task)
                task.add_done_callback(self._done)
            if len(rows) == room:
                return 0.0  # more may be due
        if time.monotonic() >= self._next_prune:
            await self._prune()
        if due_in is None or due_in <= 0:
            return const.ALERT_POLL_SECONDS
        return max(0.01, min(float(due_in), const.ALERT_POLL_SECONDS))

    @property
    def oldest_seconds(self) -> float:
        """The age of the oldest delivery waiting, now (0 when none waited at the last read)."""
        if self._oldest_seconds is None:
            return 0.0
        return self._oldest_seconds + time.monotonic() - self._read_at

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.wake.set()

    async def _deliver(self, row: dict[str, Any], claim_id: str) -> None:
        delivery_id = row["delivery_id"]
        target = self.settings.targets.get(row["target"])
        if target is None:
            error: str | None = f"target {row['target']!r} is not in {self.settings.path}"
        else:
            data = body(target, delivery_id, json.loads(row["payload"]), row["occurrences"],
                        self.settings.public_url)
            error = await post(self.session, target, delivery_id, data)
        try:
            if error is None:
                await self.store.write(queue.sent, delivery_id, background=True)
                self.sent += 1
                return
            self.attempts_failed += 1
            status = await self.store.write(
                queue.attempt_failed, delivery_id, claim_id, error,
                backoff(self.settings, row["attempts"]), self.settings.give_up_after,
                background=True)
        except StoreUnavailable:
            return  # its lease runs out and it is sent again: at least once
        except Exception:
            log.exception("alerts: recording delivery %s failed; it is sent again when its "
                          "claim runs out", delivery_id)
            return
        if status == "failed":
            self.failed += 1
            log.warning("alerts: delivery %s to %s failed for good after %d attempts (%s): "
                        "%s", delivery_id, row["target"], row["attempts"], row["event"], error)
        else:
            log.info("alerts: delivery %s to %s, attempt %d failed: %s", delivery_id,
                     row["target"], row["attempts"], error)

    async def _prune(self) -> None:
        self._next_prune = time.monotonic() + const.ALERT_PRUNE_SECONDS
        while await self.store.write(queue.prune, self.settings.keep, const.ALERT_PRUNE_BATCH,
                                     background=True) == const.ALERT_PRUNE_BATCH:
            pass

    async def close(self) -> None:
        """Stop the attempts in flight: their claims expire and they are sent again."""
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)


class Waker:
    """A sink: a committed change that some rule fires on wakes the sender at once."""

    def __init__(self, outbox: Outbox, sender: Sender) -> None:
        self.outbox = outbox
        self.sender = sender

    def committed(self, changes: Sequence[Change]) -> None:
        if self.outbox.fires(changes):
            self.sender.wake.set()

    def commit_unknown(self) -> None:
        return None


class AlertsCollector(Collector):
    """armada_alerts_* on /metrics: this instance's sends, and the outbox as last read."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    def collect(self) -> Iterator[Any]:
        sender = self.sender
        yield CounterMetricFamily("armada_alerts_sent", "Alert deliveries this instance sent "
                                  "(a 2xx from the receiver)", value=sender.sent)
        yield CounterMetricFamily("armada_alerts_failed", "Alert deliveries this instance "
                                  "gave up on (give_up_after passed)", value=sender.failed)
        yield CounterMetricFamily("armada_alert_attempts_failed", "Alert delivery attempts of "
                                  "this instance that failed", value=sender.attempts_failed)
        if sender.pending is not None:
            yield GaugeMetricFamily("armada_alerts_pending", "Alert deliveries waiting to be "
                                    "sent (every instance's)", value=sender.pending)
            yield GaugeMetricFamily("armada_alerts_oldest_pending_age_seconds",
                                    "Age of the oldest alert delivery waiting (0 when none)",
                                    value=sender.oldest_seconds)


@contextlib.asynccontextmanager
async def sending(settings: AlertsSettings, store: Store, registry: CollectorRegistry
                  ) -> AsyncIterator[None]:
    """While it is entered, the store writes deliveries in the transactions that owe them, and
    this instance's sender posts them (its figures on `registry`)."""
    outbox = Outbox(settings)
    store.outbox = outbox
    async with aiohttp.ClientSession() as session:
        sender = Sender(settings, store, session)
        store.sink = Sinks(*(sink for sink in (store.sink,) if sink is not None),
                           Waker(outbox, sender))
        registry.register(AlertsCollector(sender))
        async with running(sender.run(), "alerts"):
            yield
        await sender.close()


def sample_payload(event: str = "test") -> dict[str, Any]:
    """What `armada alerts test` sends: a made-up failure, marked as a test."""
    return {"event": event, "rule": "test", "occurred": None,
            "run": {"run_uuid": "armada-alerts-test", "run_status": "Failed",
                    "jobs": {"total": 2, "Success": 1, "Failed": 1}},
            "job": {"job_uuid": "armada-alerts-test-job", "job_status": "Failed",
                    "job_associated_agent": "test-agent", "job_datetime": None},
            "failure_line": "This is a test message from armada alerts test."}


async def send_samples(settings: AlertsSettings) -> dict[str, str | None]:
    """One sample to each target, at once: target name -> None (taken) or why not."""
    async with aiohttp.ClientSession() as session:
        async def one(target: Target) -> str | None:
            delivery_id = new_delivery_id()
            return await post(session, target, delivery_id,
                              body(target, delivery_id, sample_payload(), 1,
                                   settings.public_url))

        targets = list(settings.targets.values())
        results = await asyncio.gather(*(one(target) for target in targets))
    return {target.name: result for target, result in zip(targets, results, strict=True)}
