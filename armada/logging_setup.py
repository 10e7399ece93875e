"""Logging for the process: plain lines, or one JSON object per line (ARMADA_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else was passed as `extra` and goes into the JSON.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Below ARMADA_LOG_LEVEL=DEBUG, what other libraries' loggers (aiohttp, asyncio, redis,
# urllib3, ...) show at the least, and what the database driver shows at the least.
LIBRARY_LEVEL = logging.WARNING
DRIVER_LEVEL = logging.ERROR


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """`level` for the service's own loggers (`armada.*`); every other library's stay at
    WARNING or above (the root logger's level, which they inherit), unless `level` is DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    own = logging.getLevelNamesMapping()[level]
    debug = own == logging.DEBUG
    logging.basicConfig(level=own if debug else max(own, LIBRARY_LEVEL), handlers=[handler],
                        force=True)
    logging.getLogger("armada").setLevel(own)
    # What no format here shows, each looked up for every record: the caller's file, line
    # and function (a walk up the stack), the thread, the process. Python's logging HOWTO,
    # "Optimization", names these switches for it.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # pytds logs each connection attempt (INFO, with a traceback when it fails; WARNING
    # when it timed out) and each COMMIT: the store says what matters once (Availability).
    logging.getLogger("pytds").setLevel(own if debug else DRIVER_LEVEL)
