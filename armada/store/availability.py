"""Whether the database answers, as the store's operations find it, told in the log once per
change (down with its cause, a new cause, up again), not once per failure."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class Availability:
    """Whether the database takes writes, as the operations find it, told in the log once per
    change: down (with the cause), a new cause, up again. While it stays down, one reminder
    every `remind_every` seconds; a database that comes and goes within that time (a lock
    that only writes hit) is not announced again until it has passed.

    Any failed operation says it is down; only a committed write says it is up again (reads
    go on while another process holds the lock or the disk is full). A failure inside a
    write (its statements or its COMMIT: a full disk) is over only when a write that was
    not empty commits: an empty one proves the connection and the lock, not the space.

    Called from the store's threads; `answered` costs one attribute read while all is well.
    """

    def __init__(self, description: str, remind_every: float) -> None:
        self.description = description
        self.remind_every = remind_every
        self.reason: str | None = None  # why the database does not answer; None while it does
        self.in_write = False  # this stretch of down time saw a write fail inside itself
        self.failed_at = 0.0  # time.monotonic() of the last failure
        self._lock = threading.Lock()
        self._since = 0.0
        self._said_at = -remind_every  # when a line last said it was down
        self._said = False  # this stretch of down time was announced
        self._failures = 0  # failed operations since that line

    def failed(self, reason: str, in_write: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures += 1
            self.failed_at = now
            if self.reason is None:
                self.reason, self._since, self.in_write = reason, now, in_write
                self._said = now - self._said_at >= self.remind_every
                if self._said:
                    self._say(now, "database down (%s): %s; requests get 503 until it answers",
                              self.description, reason)
                return
            self.in_write = self.in_write or in_write
            if reason != self.reason:
                self.reason = reason
                self._say(now, "database still down (%s), now: %s", self.description, reason)
            elif now - self._said_at >= self.remind_every:
                self._say(now, "database still down after %.0f s (%s): %s; %d operations "
                          "failed since the last line", now - self._since, self.description,
                          reason, self._failures)

    def answered(self, wrote: bool) -> None:
        """A write committed; `wrote`: it was not empty."""
        reason = self.reason
        if reason is None or (self.in_write and not wrote):
            return
        with self._lock:
            if self.reason is None:
                return
            if self._said:
                log.warning("database up again after %.1f s (%s)",
                            time.monotonic() - self._since, self.description)
            self.reason, self.in_write = None, False

    def writes_failing(self, within: float) -> str | None:
        """Why writes fail, when one failed inside itself in the last `within` seconds."""
        reason = self.reason
        if reason is not None and self.in_write and \
                time.monotonic() - self.failed_at < within:
            return reason
        return None

    def _say(self, now: float, message: str, *args: Any) -> None:
        log.warning(message, *args)
        self._said, self._said_at, self._failures = True, now, 0

