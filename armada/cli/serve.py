"""`armada serve [--host HOST] [--port PORT] [--db FILE]`: the configuration read once, from
the environment, `.env` and these options; then the service (armada.serving)."""

from __future__ import annotations

import argparse
import sys

from armada.app import init_app
from armada.config import Config, ConfigError, environment_with_dotenv, load_config
from armada.logging_setup import configure_logging
from armada.serving import run

SUMMARY = ("serve the API, the WebSocket and the live page (configured by ARMADA_* variables; "
           "see docs/configuration.md)")
# The serve options and the variables they stand for (the option wins).
SERVE_OPTIONS = {"host": "ARMADA_HOST", "port": "ARMADA_PORT", "db": "ARMADA_DB_PATH"}


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armada serve", description=SUMMARY + ".",
        epilog="An option wins over its variable (in the environment or .env).")
    parser.add_argument("--host", help="listen address (ARMADA_HOST; default 127.0.0.1)")
    parser.add_argument("--port", help="listen port (ARMADA_PORT; default 8000)")
    parser.add_argument("--db", metavar="FILE", help=(
        "serve on SQLite in FILE (ARMADA_DB_PATH; default ./armada.db), even when "
        "SQL_SERVER_NAME is set"))
    return parser


def main(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    options = {variable: getattr(args, name) for name, variable in SERVE_OPTIONS.items()
               if getattr(args, name) is not None}
    config = configured(options)
    if config is None:
        return 2
    configure_logging(config.log_level, config.log_format)
    return run(config, init_app)


def configured(options: dict[str, str] | None = None) -> Config | None:
    """The configuration from the environment and `.env`, with `options` (variable -> value
    from the command line) over them; None after one line on stderr."""
    options = options or {}
    environ = environment_with_dotenv()
    if "ARMADA_DB_PATH" in options:
        environ.pop("SQL_SERVER_NAME", None)  # --db names the database: SQLite's file
    try:
        return load_config({**environ, **options})
    except ConfigError as error:
        option = {variable: f"--{name}" for name, variable in SERVE_OPTIONS.items()
                  if variable in options}.get(error.variable)
        what = f"{option}: {error.problem}" if option else str(error)
        print(f"armada: configuration error: {what}", file=sys.stderr)
        return None
