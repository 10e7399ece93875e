"""Logging for the process: plain lines, or one JSON object per line (ARMADA_LOG_FORMAT=json).

Either way a record is one line of its own: what a client sent (a path with `%0A` in it)
cannot start a line that looks like another record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What could end a line or make it read otherwise: C0 and C1 controls, DEL, the Unicode line
# and paragraph separators, and the marks that reorder text on screen (bidirectional ones).
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e"
                      "\u2066-\u2069]")
SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What JSON leaves as it is and a reader splitting lines (Python's splitlines) breaks at.
JSON_LINE_BREAKS = str.maketrans({"\x1c": "\\u001c", "\x1d": "\\u001d", "\x1e": "\\u001e",
                                  "\x85": "\\u0085", "\u2028": "\\u2028",
                                  "\u2029": "\\u2029"})
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
        return json.dumps(entry, default=str, ensure_ascii=False).translate(JSON_LINE_BREAKS)


class TextFormatter(logging.Formatter):
    """`2026-12-06T09:00:00.123Z INFO armada: message`: UTC with its zone; control characters
    in the message escaped (`\\n`, `\\x00`); a traceback's lines each indented, so that no
    line but a record's first starts at the margin."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for more in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if more:
                text += "".join("\n  " + escape_controls(line) for line in more.split("\n"))
        return text


def escape_controls(text: str) -> str:
    """`text` with every character of CONTROLS written as an escape: `\\n`, `\\x00`, `\\u2028`."""
    if CONTROLS.search(text) is None:
        return text
    return CONTROLS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in SHORT_ESCAPES:
        return SHORT_ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def configure_logging(level: str, log_format: str) -> None:
    """`level` for the service's own loggers (`armada.*`); every other library's stay at
    WARNING or above (the root logger's level, which they inherit), unless `level` is DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
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
