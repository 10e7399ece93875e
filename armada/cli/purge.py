"""`armada purge --older-than AGE [--dry-run]`: retention once (armada.retention), from a process
with no subscribers, each run it deletes (or would delete) printed on a line of its own."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime, timedelta

from armada.cli.configured import configured
from armada.config import Config, ConfigError, SqliteSettings
from armada.datetimes import format_datetime
from armada.durations import parse_duration
from armada.errors import StoreUnavailable
from armada.logging_setup import configure_logging
from armada.retention import PurgedRun, cutoff_before, older_than, purge
from armada.store import Store

log = logging.getLogger(__name__)


def parse_age(text: str) -> timedelta:
    """A duration as every setting writes one (`30d`, `12h`, `90m`), a plain number in days;
    not zero (that would be every run)."""
    try:
        age = parse_duration(text, plain_unit="d")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not age:
        raise argparse.ArgumentTypeError(f"{text!r} is no age: every run is older than that")
    return age


def purge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armada purge",
        description="Delete runs whose last report is older than an age and with no Running or "
                    "Pending job, with their jobs and events, and print them.",
    )
    parser.add_argument("--older-than", required=True, type=parse_age, metavar="AGE",
                        help="30d (days), 12h, 90m or 45s; a plain number is days")
    parser.add_argument("--dry-run", action="store_true", help="only print what would go")
    return parser


def main(argv: list[str]) -> int:
    options = purge_parser().parse_args(argv)
    config = configured()
    if config is None:
        return 2
    configure_logging("WARNING", config.log_format)  # the printed report is the output
    return asyncio.run(purge_once(config, options.older_than, options.dry_run))


async def purge_once(config: Config, age: timedelta, dry_run: bool) -> int:
    """Print what goes (or would go); the exit status. A dry run reads the database as it
    is, opened read-only: it creates no table or index, changes no row. A missing database
    is an error, not an empty one to create."""
    for warning in config.warnings:
        log.warning("%s", warning)
    database = config.database
    if isinstance(database, SqliteSettings) and not database.path.exists():
        print(f"armada: configuration error: ARMADA_DB_PATH: {database.path.absolute()} does "
              "not exist: there is nothing to purge", file=sys.stderr)
        return 2
    store = Store(config, read_only=dry_run)
    cutoff = cutoff_before(age)
    try:
        await store.open()
        if dry_run:
            runs = await older_than(store, cutoff)
            jobs = events = 0
            for run in runs:
                run_jobs, run_events = await store.count_run_contents(run["run_uuid"])
                jobs, events = jobs + run_jobs, events + run_events
                print(f"would delete run {run['run_uuid']} ({_when(run['run_datetime'])}): "
                      f"{run_jobs} jobs, {run_events} events", flush=True)
            print(f"would delete {len(runs)} runs older than {format_datetime(cutoff)}: "
                  f"{jobs} jobs, {events} events (dry run)")
            return 0

        def report(record: PurgedRun) -> None:
            print(f"deleted run {record.run_uuid} ({_when(record.run_datetime)}): "
                  f"{record.jobs} jobs, {record.events} events", flush=True)

        purged = await purge(store, cutoff, on_purged=report, announce_later=True)
        print(f"deleted {len(purged)} runs older than {format_datetime(cutoff)}: "
              f"{sum(p.jobs for p in purged)} jobs, {sum(p.events for p in purged)} events")
        return 0
    except StoreUnavailable as error:
        print(f"armada: {error.detail}", file=sys.stderr)
        return 1
    except ConfigError as error:
        print(f"armada: configuration error: {error}", file=sys.stderr)
        return 2
    finally:
        await store.close()


def _when(value: object) -> str:
    return format_datetime(value) if isinstance(value, datetime) else str(value)
