"""The stream's entrance: committed changes become messages, numbered in commit order."""

from __future__ import annotations

from typing import Any

from armada.stream.messages import RESYNC, message_body, now_text, resync_body
from armada.stream.numbering import Numbering
from armada.stream.owners import Owners, concerns


class StreamSink:
    """Where every committed change is told, on the event loop, in commit order."""

    def __init__(self, numbering: Numbering) -> None:
        self.numbering = numbering
        self.owners = Owners()

    def broadcast(self, message_type: str, data: Any, *, run_uuid: str | None = None,
                  job_uuid: str | None = None) -> None:
        """One message `{"seq", "epoch", "ts", "type", "data"}`; never waits.

        `run_uuid`/`job_uuid` say which run and job the message is about when `data`
        does not (filters need them).
        """
        run_uuid, job_uuid = concerns(message_type, data, run_uuid, job_uuid, self.owners)
        self.owners.learn(message_type, run_uuid, job_uuid, data)
        self.numbering.publish(message_type, run_uuid, job_uuid,
                               message_body(message_type, data, now_text()))

    def resync_through_stream(self, reason: str) -> None:
        """A resync numbered like a change: it reaches every replica's subscribers and every
        client that resumes from before it."""
        self.numbering.publish(RESYNC, None, None, resync_body(reason, None))
