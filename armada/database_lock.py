"""One `armada serve` per SQLite file, unless the instances share their changes (Redis).

Each instance holds a lock on `<database>.lock`, beside the database: exclusive without
ARMADA_REDIS_URL, shared with it. The operating system releases it when the process ends,
however it ends (`kill -9` too), so a lock is never left behind by a dead instance.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


class DatabaseInUse(Exception):
    """Another instance holds the lock in a way this one cannot share."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def claim(database: Path, shared: bool) -> IO[bytes]:
    """The open lock file, locked (close it to release); DatabaseInUse when another instance
    holds it: exclusively, or at all when this one wants it exclusively."""
    path = lock_path(database.absolute())
    lock = open(path, "a+b")
    try:
        fcntl.flock(lock, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise DatabaseInUse(
            f"{database.absolute()} is in use by another armada serve (it holds {path}); "
            "several instances on one SQLite file need ARMADA_REDIS_URL, each of them, so "
            "that every dashboard sees every instance's changes") from None
    except BaseException:
        lock.close()
        raise
    return lock
