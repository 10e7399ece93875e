"""Logging as `armada serve` sets it up: the service's own lines at ARMADA_LOG_LEVEL, other
libraries' (aiohttp, asyncio, redis, urllib3, the SQL Server driver) only from WARNING
unless ARMADA_LOG_LEVEL=DEBUG.

Each case runs in a fresh interpreter: configure_logging replaces the root logger's
handlers, which pytest's log capture needs left alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from server_process import service_environment

LIBRARIES = ("aiohttp.server", "aiohttp.web", "asyncio", "redis", "urllib3.connectionpool",
             "any.other.library")
OURS = ("armada", "armada.store.store", "armada.access")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

EMIT = """
import logging, sys
from armada.logging_setup import configure_logging

configure_logging(sys.argv[1], "text")
for name in sys.argv[2:]:
    for level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        logging.getLogger(name).log(logging.getLevelNamesMapping()[level], "<%s %s>", name, level)
"""


def shown(level: str, loggers: tuple[str, ...]) -> dict[str, list[str]]:
    """The levels each logger's lines got through with, once configured at `level`."""
    result = subprocess.run([sys.executable, "-c", EMIT, level, *loggers], capture_output=True,
                            text=True, timeout=30, env=service_environment())
    assert result.returncode == 0, result.stderr
    return {name: [each for each in LEVELS if f"<{name} {each}>" in result.stderr]
            for name in loggers}


def test_at_info_libraries_show_only_warnings_and_errors_while_armada_shows_info() -> None:
    lines = shown("INFO", LIBRARIES + OURS)

    assert {name: lines[name] for name in LIBRARIES} == \
        {name: ["WARNING", "ERROR"] for name in LIBRARIES}
    assert {name: lines[name] for name in OURS} == \
        {name: ["INFO", "WARNING", "ERROR"] for name in OURS}


def test_the_sql_server_driver_shows_only_errors_unless_debug() -> None:
    assert shown("INFO", ("pytds",)) == {"pytds": ["ERROR"]}
    assert shown("WARNING", ("pytds",)) == {"pytds": ["ERROR"]}


def test_at_debug_every_library_shows_everything_as_armada_does() -> None:
    loggers = LIBRARIES + OURS + ("pytds",)

    assert shown("DEBUG", loggers) == {name: list(LEVELS) for name in loggers}


@pytest.mark.parametrize("level, expected", [("WARNING", ["WARNING", "ERROR"]),
                                             ("ERROR", ["ERROR"])])
def test_above_info_libraries_and_armada_show_the_same_levels(level: str,
                                                              expected: list[str]) -> None:
    loggers = LIBRARIES + OURS

    assert shown(level, loggers) == {name: expected for name in loggers}


FORGERY = """
import logging, sys
from armada.logging_setup import configure_logging

configure_logging("INFO", sys.argv[1])
log = logging.getLogger("armada.test")
forged = "x\\n2026-12-06T09:00:00.000Z WARNING armada: FORGED\\r\\x00\\x1e\\x85\\u2028\\u202e"
log.info("value %s", forged)
try:
    raise ValueError(forged)
except ValueError:
    log.exception("failed on %s", "y")
"""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_logged_value_or_traceback_can_start_a_line_of_its_own(log_format: str) -> None:
    result = subprocess.run([sys.executable, "-c", FORGERY, log_format], capture_output=True,
                            text=True, timeout=30, env=service_environment())
    assert result.returncode == 0, result.stderr

    # What Python's splitlines breaks at: \n, \r, \x1c-\x1e, \x85, \u2028, \u2029.
    lines = result.stderr.splitlines()
    if log_format == "json":
        assert len(lines) == 2, lines
        assert [json.loads(line)["message"] for line in lines] == [
            "value x\n2026-12-06T09:00:00.000Z WARNING armada: FORGED\r\x00\x1e\x85\u2028\u202e",
            "failed on y"]
        return
    records = [line for line in lines if not line.startswith(" ")]
    assert len(records) == 2, lines
    assert records[0].endswith(" INFO armada.test: value x\\n2026-12-06T09:00:00.000Z WARNING "
                               "armada: FORGED\\r\\x00\\x1e\\x85\\u2028\\u202e")
    assert records[1].endswith(" ERROR armada.test: failed on y")
    assert lines[2:] and all(line.startswith("  ") for line in lines[2:])
    assert lines[-1] == ("  2026-12-06T09:00:00.000Z WARNING armada: FORGED"
                         "\\r\\x00\\x1e\\x85\\u2028\\u202e")
