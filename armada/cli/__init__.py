"""The `armada` command (or `python -m armada`): `serve` reads the configuration once and
serves; `purge` runs retention once; `tail` prints the live stream (armada.tail); `export`,
`import` move a run between instances (armada.transfer). Each command parses its own
arguments, `armada COMMAND --help` describes them; a bare `armada` prints the help."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import sys

from armada.config import Config, ConfigError, environment_with_dotenv, load_config
from armada.logging_setup import configure_logging
from armada.serving import run

PROG = "armada"
DISTRIBUTION = "armada-backend"
COMMANDS = {
    "serve": "serve the API, the WebSocket and the live page (configured by ARMADA_* "
             "variables; see README, Configuration)",
    "purge": "delete runs older than an age, with their jobs and events, once",
    "tail": "print the live stream of a running service, one line a message",
    "export": "write a run, its jobs and events to stdout (NDJSON or CSV)",
    "import": "load an NDJSON export into a running service",
}
# The serve options and the variables they stand for (the option wins).
SERVE_OPTIONS = {"host": "ARMADA_HOST", "port": "ARMADA_PORT", "db": "ARMADA_DB_PATH"}


def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Armada Backend: the tracking service of the Armada platform.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, summary in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = argv[0] if argv else None
    if command == "serve":
        return serve(argv[1:])
    if command == "purge":
        return purge(argv[1:])
    if command == "tail":
        from armada.tail import main as tail_main

        return tail_main(argv[1:])
    if command in ("export", "import"):
        from armada.transfer import export_main, import_main

        return (export_main if command == "export" else import_main)(argv[1:])
    parser = command_parser()
    if command is None:
        parser.print_help()
        return 0
    parser.parse_args(argv)  # --help, --version or a usage error: each exits
    return 2


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} serve", description=COMMANDS["serve"] + ".",
        epilog="An option wins over its variable (in the environment or .env).")
    parser.add_argument("--host", help="listen address (ARMADA_HOST; default 127.0.0.1)")
    parser.add_argument("--port", help="listen port (ARMADA_PORT; default 8000)")
    parser.add_argument("--db", metavar="FILE", help=(
        "serve on SQLite in FILE (ARMADA_DB_PATH; default ./armada.db), even when "
        "SQL_SERVER_NAME is set"))
    return parser


def serve(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    options = {variable: getattr(args, name) for name, variable in SERVE_OPTIONS.items()
               if getattr(args, name) is not None}
    config = configured(options)
    if config is None:
        return 2
    configure_logging(config.log_level, config.log_format)
    return run(config)


def purge(argv: list[str]) -> int:
    from armada.retention import purge_arguments, purge_once

    options = purge_arguments(argv)
    config = configured()
    if config is None:
        return 2
    configure_logging("WARNING", config.log_format)  # the printed report is the output
    return asyncio.run(purge_once(config, options.older_than, options.dry_run))


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
        print(f"{PROG}: configuration error: {what}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
