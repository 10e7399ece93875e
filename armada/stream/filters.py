"""Which messages a subscriber asked for: a run, a job, message types; empty is everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armada.stream.messages import RESYNC, Message, ResumeCursor


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one subscriber asked to receive; empty means everything."""

    run_uuid: str | None = None
    job_uuid: str | None = None
    types: frozenset[str] | None = None
    job_run_uuid: str | None = None  # the run of `job_uuid`, when known, for delete_run

    def accepts(self, message: Message) -> bool:
        if message.type == RESYNC:
            return True
        watching = self.run_uuid is not None or self.job_uuid is not None
        if message.type == "delete_run" and watching and self._watches_run(message.run_uuid):
            return True  # a client watching a run always learns that it is gone
        if not self._type_ok(message):
            return False
        # A message whose run is unknown is delivered: a surplus message, never a lost one.
        if self.run_uuid is not None and message.run_uuid not in (None, self.run_uuid):
            return False
        return self.job_uuid is None or message.job_uuid == self.job_uuid

    def _type_ok(self, message: Message) -> bool:
        return self.types is None or message.type in self.types

    def _watches_run(self, run_uuid: str | None) -> bool:
        if self.run_uuid is not None:
            return run_uuid == self.run_uuid
        return self.job_run_uuid in (None, run_uuid)


def stream_request(query: dict[str, Any]) -> tuple[ResumeCursor | None, StreamFilter]:
    """The resume cursor and filter of a query loaded by StreamQuery."""
    cursor = ResumeCursor(query["since"], query["epoch"]) if "since" in query else None
    types = frozenset(query["types"].split(",")) if "types" in query else None
    return cursor, StreamFilter(query.get("run_uuid"), query.get("job_uuid"), types)
