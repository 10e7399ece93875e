"""The one duration syntax of every setting and option (`45s`, `90m`, `12h`, `30d`): read by
the configuration, the alerts file and `armada purge`."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, plain_unit: str = "s") -> timedelta:
    """The one duration syntax of every setting and option: a number and a unit, `45s`, `90m`,
    `12h`, `30d` (fractions allowed: `1.5h`); a plain number is in `plain_unit`, the unit the
    setting always had. Raises ValueError saying what is expected."""
    match = DURATION.fullmatch(text.strip().lower())
    unit = (match.group(2) or plain_unit) if match else ""
    if unit not in DURATION_UNITS:
        raise ValueError(f"{text!r} is not a duration such as 45s, 90m, 12h or 30d")
    assert match is not None
    return timedelta(seconds=float(match.group(1)) * DURATION_UNITS[unit])
