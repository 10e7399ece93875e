"""`armada serve [--host HOST] [--port PORT] [--db FILE]`: the configuration read once, from
the environment, `.env` and these options; then the service (armada.serving)."""

from __future__ import annotations

import argparse

from armada.app import init_app
from armada.cli import COMMANDS
from armada.cli.configured import SERVE_OPTIONS, configured
from armada.logging_setup import configure_logging
from armada.serving import run


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="armada serve", description=COMMANDS["serve"].summary + ".",
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
