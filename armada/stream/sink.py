"""The stream's entrance: the store's committed changes become messages, in commit order.

The store hands each committed write's changes here (`armada.changes.Sink`), on the
event loop, right after the commit; each change already says which run and job it belongs
to, read in the write's own transaction, so nothing is looked up here.
"""

from __future__ import annotations

from collections.abc import Sequence

from armada.changes import Change
from armada.stream.messages import (
    COMMIT_UNKNOWN,
    RESYNC,
    message_body_of_json,
    now_text,
    resync_body,
)
from armada.stream.numbering import Numbering
from armada.stream.records import data_json


class StreamSink:
    """Numbers one message per committed change (`armada.changes.Sink`)."""

    def __init__(self, numbering: Numbering) -> None:
        self.numbering = numbering

    def committed(self, changes: Sequence[Change]) -> None:
        ts = now_text()
        for change in changes:
            self.numbering.publish(change.type, change.run_uuid, change.job_uuid,
                                   message_body_of_json(change.type, data_json(change), ts))

    def commit_unknown(self) -> None:
        """A resync numbered like a change: it reaches every replica's subscribers and every
        client that resumes from before it."""
        self.numbering.publish(RESYNC, None, None, resync_body(COMMIT_UNKNOWN, None))
