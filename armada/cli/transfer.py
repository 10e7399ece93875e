"""`armada export RUN [--format csv]` and `armada import FILE`: a run moved between instances
(armada.remote.transfer), with the same `--url` and token as `armada tail`."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import aiohttp

from armada.cli.service_options import add_url_and_token, url_and_token
from armada.remote.service import DEFAULT_URL, TOKEN_VARIABLE, unreachable
from armada.remote.transfer import Refused, export_run, import_file


def _connection_options(parser: argparse.ArgumentParser) -> None:
    add_url_and_token(parser, f"the service; default {DEFAULT_URL}",
                      f"bearer token; default: a ?token= in --url, else {TOKEN_VARIABLE}")


def export_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="armada export", description="Write a run, its jobs and events to stdout.")
    parser.add_argument("run", metavar="RUN")
    parser.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    _connection_options(parser)
    args = parser.parse_args(argv)
    url, token = url_and_token(parser, args)
    try:
        asyncio.run(export_run(url, args.run, args.format, sys.stdout.buffer, token))
    except Refused as error:
        print(f"armada export: the server refused: {error}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, TimeoutError) as error:
        print(f"armada export: {unreachable(url, error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"armada export: {error or type(error).__name__}", file=sys.stderr)
        return 2
    return 0


def import_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="armada import", description="Load an NDJSON export (armada export) into a service.")
    parser.add_argument("file", metavar="FILE", help="an NDJSON export; - for stdin")
    _connection_options(parser)
    args = parser.parse_args(argv)
    url, token = url_and_token(parser, args)
    try:
        with _seekable(args.file) as lines:
            report = asyncio.run(import_file(url, lines, sys.stderr, token))
    except ValueError as error:
        print(f"armada import: {args.file}: {error}; nothing imported", file=sys.stderr)
        return 2
    except Refused as error:
        print(f"armada import: the server refused: {error}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, TimeoutError) as error:
        print(f"armada import: {unreachable(url, error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"armada import: {error or type(error).__name__}", file=sys.stderr)
        return 2
    print(f"armada import: {report.summary()}", file=sys.stderr)
    return 1 if report.conflicts else 0


def _seekable(file: str) -> TextIO:
    """The file to import, open; stdin (`-`) copied to a temporary file, to be read twice."""
    if file != "-":
        return Path(file).open(encoding="utf-8")
    copy = tempfile.TemporaryFile("w+", encoding="utf-8")
    shutil.copyfileobj(sys.stdin, copy)
    copy.seek(0)
    return copy
