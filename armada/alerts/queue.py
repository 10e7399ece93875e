"""The outbox as the sender and the API use it: operations of one transaction each, run by
the store (`store.read`, `store.write`), in named queries (sql/<dialect>/*alert*.sql)."""

from __future__ import annotations

from armada.changes import Record
from armada.store.transaction import Transaction


def claim(tx: Transaction, claim_id: str, lease_seconds: float, limit: int
          ) -> tuple[Record, ...]:
    """Up to `limit` due deliveries no instance holds, now held by `claim_id` (a tuple: a
    write's list answer is taken for its changes, armada/changes.py)."""
    return tuple(tx.all("claim_alerts", claim=claim_id, lease_seconds=lease_seconds,
                        limit=limit))


def sent(tx: Transaction, delivery_id: str) -> None:
    tx.execute("alert_sent", delivery_id=delivery_id)


def attempt_failed(tx: Transaction, delivery_id: str, claim_id: str, error: str,
                   retry_seconds: float, give_up_seconds: float) -> str | None:
    """Record the failed attempt; the delivery's status after it (None: no longer this
    claim's)."""
    if not tx.execute("alert_attempt_failed", delivery_id=delivery_id, claim=claim_id,
                      error=error, retry_seconds=retry_seconds,
                      give_up_seconds=give_up_seconds):
        return None
    status = tx.scalar("delivery_status", delivery_id=delivery_id)
    return None if status is None else str(status)


def state(tx: Transaction) -> Record:
    """pending, oldest_seconds, due_in_seconds (None when nothing waits)."""
    row = tx.one("alert_outbox_state")
    assert row is not None  # an aggregate: one row
    return row


def deliveries(tx: Transaction, status: str | None, limit: int) -> list[Record]:
    return tx.all("list_alert_deliveries", status=status, limit=limit)


def prune(tx: Transaction, keep_seconds: float, limit: int) -> int:
    return tx.execute("prune_alert_outbox", keep_seconds=keep_seconds, limit=limit)
