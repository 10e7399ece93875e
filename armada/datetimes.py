"""The one datetime policy: ISO 8601 in (naive means UTC), `YYYY-MM-DDTHH:MM:SS.mmmZ` out.

Inside the service every datetime is a naive `datetime` in UTC, truncated to milliseconds.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from armada import const

EARLIEST = datetime(const.EARLIEST_YEAR, 1, 1)
# One instant, naive and aware: subtracting one and adding the other turns an aware datetime
# into naive UTC without `replace`, whose keyword parsing costs more than a whole parse.
_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class OutOfRange(ValueError):
    """An ISO 8601 datetime outside what every database stores (SQL Server's DATETIME)."""


def parse_datetime(text: str) -> datetime:
    """Parse ISO 8601 text to naive UTC at millisecond precision; ValueError when it is not,
    OutOfRange when it is one before 1753 (or beyond the year 9999 in UTC)."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        raise ValueError("not an ISO 8601 datetime")
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        try:
            value = _EPOCH + (value - _UTC_EPOCH)
        except OverflowError:
            raise OutOfRange("out of range once converted to UTC") from None
    if value < EARLIEST:
        raise OutOfRange(f"before {format_datetime(EARLIEST)}")
    return truncate_to_millis(value)


def plus_read_as_space(text: str) -> bool:
    """Whether `text` is a datetime whose offset lost its `+` to a space, as an unescaped `+`
    in a URL query decodes (`2026-02-24T10:00:00 01:00`): it parses with the `+` put back."""
    head, space, offset = text.rpartition(" ")
    if not space:
        return False
    try:
        parse_datetime(f"{head}+{offset}")
    except ValueError:
        return False
    return True


def truncate_to_millis(value: datetime) -> datetime:
    extra = value.microsecond % 1000
    return value - extra * _MICROSECOND if extra else value


def utc_now() -> datetime:
    """The clock, as naive UTC."""
    return _EPOCH + (datetime.now(UTC) - _UTC_EPOCH)


class ClockBound:
    """The service's clock plus `ahead` seconds, as naive UTC, for a check on every request.

    Reading the clock as a datetime costs more than the comparison it serves, so the last
    reading is kept: a datetime at or before it is at or before the current bound too, as long
    as the clock has not gone back since (which `time.time()` tells for less)."""

    def __init__(self, ahead: float) -> None:
        self._ahead = timedelta(seconds=ahead)
        # (time.time() just after the reading, the bound it gave)
        self._last = (math.inf, EARLIEST)

    def surely_within(self, when: datetime) -> bool:
        """True when `when` is at or before the bound now; False when unsure."""
        read_at, bound = self._last
        return when <= bound and time.time() >= read_at

    def latest(self) -> datetime:
        """The bound now, from a new reading of the clock."""
        bound = utc_now() + self._ahead
        self._last = (time.time(), bound)
        return bound


def format_datetime(value: datetime) -> str:
    """Naive UTC (or aware) datetime to the one wire form, e.g. `2026-02-24T10:30:00.000Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # isoformat, not strftime: three times faster, and this runs for every record sent.
    return value.isoformat(timespec="milliseconds") + "Z"


def from_database(value: Any) -> Any:
    """A datetime column as the driver returns it (datetime, or text on SQLite) to naive UTC.

    Text that does not parse (a legacy row written by hand) is passed through unchanged
    rather than failing the whole list it appears in.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    return value


def to_database_text(value: datetime) -> str:
    """The text form SQLite columns hold: sortable, as earlier Armada services wrote it."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")
