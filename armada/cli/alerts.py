"""`armada alerts test`: a sample message to each target of ARMADA_ALERTS_FILE, now (not
through the outbox), one line per target; exit code 1 when a target refused it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from armada.alerts.sender import send_samples
from armada.cli.configured import configured


def alerts_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armada alerts", description="the alerts of ARMADA_ALERTS_FILE (docs/alerts.md).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("test", help="send a sample message to each target and say how each "
                                    "answered")
    return parser


def main(argv: list[str]) -> int:
    alerts_parser().parse_args(argv)
    config = configured()
    if config is None:
        return 2
    if config.alerts is None:
        print("armada alerts: ARMADA_ALERTS_FILE is not set", file=sys.stderr)
        return 2
    results = asyncio.run(send_samples(config.alerts))
    for name, error in results.items():
        target = config.alerts.targets[name]
        print(f"{name} ({target.kind}): " + ("sent" if error is None else f"failed: {error}"))
    return 1 if any(error is not None for error in results.values()) else 0
