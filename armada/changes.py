"""What a committed write changed, as typed values: what the write answers, and what the
store hands to its sink, on the event loop, in commit order.

A change carries the run (and job) it belongs to, read in the write's own transaction, so
that whoever routes it (the stream's run and job filters) needs no lookup of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

# A run, job or event as stored: column name -> value.
Record = dict[str, Any]

# The stream's message types, one per kind of change.
ChangeType = Literal["new_run", "new_job", "new_event", "update_job_status",
                     "update_event_status", "delete_run"]


@dataclass(slots=True)
class Change:
    """One committed change: `record` is the stored run, job or event for new_*;
    {"job_uuid", "job_status"}, {"event_uuid", "event_status"} or {"run_uuid"} otherwise."""

    type: ChangeType
    record: Record
    run_uuid: str | None  # None only for a legacy job row without a run
    job_uuid: str | None = None  # None for a change of a whole run
    # update_job_status: the job's status before it (None when not read).
    previous_status: str | None = None
    # update_job_status that left its run with no Running or Pending job: the run's status.
    run_ended: str | None = None
    # The record as clients see it, in JSON: made by the first that needs it (the stream's
    # message), reused by the next (the write's answer). armada/stream/records.py.
    data_json: str | None = field(default=None, compare=False, repr=False)


class Written(NamedTuple):
    """A create or a status update: the stored record, whether this write created it, and
    what it changed (nothing for a repeated create; a job's new run comes before the job)."""

    record: Record
    created: bool
    changes: tuple[Change, ...]


class RunDeleted(NamedTuple):
    """A run deleted with its jobs and events: how many of each went, and the change."""

    run_uuid: str
    jobs: int
    events: int
    changes: tuple[Change, ...]


class Announced(NamedTuple):
    """Runs another process deleted (`armada purge`), taken to be announced: their changes."""

    changes: tuple[Change, ...]


def changes_of(result: object) -> tuple[Change, ...]:
    """The changes a write answered, in the order they were made: a Written, a RunDeleted or an
    Announced has them, create_events answers a list of Written (one per event); any other
    answer (None, a lease's bool) is of a write the stream does not show."""
    if isinstance(result, Written | RunDeleted | Announced):
        return result.changes
    if isinstance(result, list):
        return tuple(change for written in result for change in written.changes)
    return ()


class Sinks:
    """Several sinks as one (the stream, then the metrics), each handed every change."""

    def __init__(self, *sinks: Sink) -> None:
        self._sinks = sinks

    def committed(self, changes: Sequence[Change]) -> None:
        for sink in self._sinks:
            sink.committed(changes)

    def commit_unknown(self) -> None:
        for sink in self._sinks:
            sink.commit_unknown()


class Sink(Protocol):
    """Where the store hands committed changes, on the event loop, in commit order, before
    each write's caller resumes, and even when that caller has gone (a request cut by its
    timeout). What it raises is logged and stops nothing else."""

    def committed(self, changes: Sequence[Change]) -> None:
        """The changes of one committed write (never empty)."""

    def commit_unknown(self) -> None:
        """A COMMIT broke with its connection: its writes (answered 503) may be stored,
        and their changes will never be handed over."""
