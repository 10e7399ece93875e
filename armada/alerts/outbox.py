"""The outbox: the deliveries a committed change owes, written in that change's transaction.

The store calls `Outbox.write` on its writer thread, inside the write that made the changes,
after it: a status change that should alert commits with its deliveries or not at all. Only
a change that fires a rule costs a read (the job, the run's counts, the first failure line).

Rate limits are kept in the table itself, so that they hold across instances and restarts:
the deliveries of one rule, target and run share a `group_key`; an occurrence joins the
group's newest delivery while no attempt has begun to send it (`occurrences` + 1), else
`once_per_run` drops it and a digest opens the next delivery, due one period later.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from armada import const
from armada.alerts_settings import NO_LIMIT, ONCE_PER_RUN, AlertsSettings, Rule
from armada.changes import Change, Record
from armada.datetimes import format_datetime
from armada.store import triage
from armada.store.transaction import Transaction

DELIVERY_PREFIX = "msg_"  # as Standard Webhooks' examples spell message ids


def events_of(change: Change) -> tuple[str, ...]:
    """The alert events a committed change is: a job that turned Failed or Lost, a run that
    ended (and ended with failures)."""
    if change.type != "update_job_status":
        return ()
    status = change.record["job_status"]
    events: tuple[str, ...] = ()
    if status != change.previous_status:
        if status == "Failed":
            events = ("job_failed",)
        elif status == "Lost":
            events = ("job_lost",)
    if change.run_ended is not None:
        events += ("run_finished",)
        if change.run_ended == "Failed":
            events += ("run_failed",)
    return events


def new_delivery_id() -> str:
    return DELIVERY_PREFIX + uuid.uuid4().hex


class Outbox:
    """Writes the deliveries of the changes that fire a rule (the store's `outbox`)."""

    def __init__(self, settings: AlertsSettings) -> None:
        self.rules: dict[str, tuple[Rule, ...]] = {
            event: tuple(rule for rule in settings.rules if rule.when == event)
            for event in {rule.when for rule in settings.rules}}

    def fires(self, changes: Iterable[Change]) -> bool:
        """Whether any of the changes is of a kind some rule fires on (no run filter)."""
        return any(event in self.rules for change in changes for event in events_of(change))

    def write(self, tx: Transaction, changes: Sequence[Change]) -> None:
        for change in changes:
            for event in events_of(change):
                rules = [rule for rule in self.rules.get(event, ())
                         if change.run_uuid is not None and rule.matches_run(change.run_uuid)]
                if rules:
                    self._write_event(tx, event, change, rules)

    def _write_event(self, tx: Transaction, event: str, change: Change,
                     rules: list[Rule]) -> None:
        assert change.run_uuid is not None
        payload: dict[str, Any] | None = None
        job = None
        if event.startswith("job_"):
            job = tx.one("alert_job", job_uuid=change.job_uuid,
                         text_chars=const.ALERT_FAILURE_LINE_CHARS)
            if job is None:
                return
            rules = [rule for rule in rules if rule.matches_agent(job["job_associated_agent"])]
        for rule in rules:
            for target in rule.targets:
                delivery_id = new_delivery_id()
                if rule.rate_limit == NO_LIMIT:
                    group_key = _group_key(delivery_id)  # a group of its own
                else:
                    group_key = _group_key(rule.name, target, change.run_uuid)
                    if _joined(tx, group_key, rule):
                        continue
                if payload is None:
                    payload = _payload(tx, event, change, job)
                delay = rule.rate_limit if isinstance(rule.rate_limit, float) else 0.0
                tx.execute("insert_alert", delivery_id=delivery_id, group_key=group_key,
                           rule_name=rule.name, target=target, event=event,
                           run_uuid=change.run_uuid, job_uuid=change.job_uuid if job else None,
                           payload=json.dumps(payload | {"rule": rule.name}),
                           delay_seconds=delay)


def _joined(tx: Transaction, group_key: str, rule: Rule) -> bool:
    """Whether the occurrence is taken by the group's newest delivery (one more occurrence,
    or dropped by once_per_run); False: it needs a delivery of its own."""
    newest = tx.one("alert_group_newest", group_key=group_key)
    if newest is None:
        return False
    if tx.execute("fold_alert", delivery_id=newest["delivery_id"]):
        return True
    return rule.rate_limit == ONCE_PER_RUN


def _group_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _payload(tx: Transaction, event: str, change: Change, job: Record | None) -> dict[str, Any]:
    """What a delivery says, as read in the change's transaction: the event, the run with its
    jobs by status, the job, and the first line of the failure."""
    assert change.run_uuid is not None
    read = {row["job_status"]: int(row["jobs"])
            for row in tx.all("alert_run_counts", run_uuid=change.run_uuid)}
    # In the vocabulary's order, then any other status as stored.
    counts = {status: read.pop(status) for status in const.STATUSES if status in read} | read
    run = {"run_uuid": change.run_uuid, "run_status": change.run_ended or _run_status(counts),
           "jobs": {"total": sum(counts.values()), **counts}}
    if job is not None:
        message = job["failed_message"] or job["last_message"]
        shown: Record | None = {
            "job_uuid": job["job_uuid"], "job_status": job["job_status"],
            "job_associated_agent": job["job_associated_agent"],
            "job_datetime": _when(job["job_datetime"])}
    else:
        failure = tx.one("alert_run_failure", run_uuid=change.run_uuid,
                         text_chars=const.ALERT_FAILURE_LINE_CHARS)
        message = failure["failed_message"] if failure else None
        shown = None
    return {"event": event, "occurred": format_datetime(datetime.now(UTC).replace(tzinfo=None)),
            "run": run, "job": shown, "failure_line": triage.first_line(message) or None}


def _run_status(counts: dict[str, int]) -> str:
    """As docs/api.md "Run state" derives it from the jobs' statuses."""
    if counts.get("Running") or counts.get("Pending"):
        return "Running"
    if counts.get("Failed") or counts.get("Lost"):
        return "Failed"
    if counts.get("Cancelled"):
        return "Cancelled"
    return "Success" if counts else "Pending"


def _when(value: Any) -> str | None:
    return format_datetime(value) if isinstance(value, datetime) else None
