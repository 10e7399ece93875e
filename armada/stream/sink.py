"""The stream's entrance: the store's committed changes become messages, in commit order.

The store hands each committed write's changes here (`armada.store.changes.Sink`), on the
event loop, right after the commit; each change already says which run and job it belongs
to, read in the write's own transaction, so nothing is looked up here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from armada.store.changes import Change
from armada.stream.messages import COMMIT_UNKNOWN, RESYNC, message_body, now_text, resync_body
from armada.stream.numbering import Numbering

# How a stored record looks in a message (and in the API): one per record kind.
Shape = Callable[[dict[str, Any]], dict[str, Any]]


class StreamSink:
    """Numbers one message per committed change (`armada.store.changes.Sink`)."""

    def __init__(self, numbering: Numbering, shapes: dict[str, Shape]) -> None:
        self.numbering = numbering
        # new_run, new_job, new_event: the record as the API shows it; others as they are.
        self._shapes = shapes

    def committed(self, changes: Sequence[Change]) -> None:
        stamp = now_text()
        for change in changes:
            shape = self._shapes.get(change.type)
            data = change.record if shape is None else shape(change.record)
            self.numbering.publish(change.type, change.run_uuid, change.job_uuid,
                                   message_body(change.type, data, stamp))

    def commit_unknown(self) -> None:
        """A resync numbered like a change: it reaches every replica's subscribers and every
        client that resumes from before it."""
        self.numbering.publish(RESYNC, None, None, resync_body(COMMIT_UNKNOWN, None))
