"""`armada [serve]` (or `python -m armada`): read the configuration once and serve; `purge`:
retention once; `tail`: print the live stream (armada.tail); `export`, `import`: a run
moved between instances (armada.transfer)."""

from __future__ import annotations

import asyncio
import sys

from armada.config import Config, ConfigError, environment_with_dotenv, load_config
from armada.logging_setup import configure_logging
from armada.serving import run

USAGE = ("usage: armada [serve | purge --older-than 30d [--dry-run]"
         " | tail [--run RUN] [--url URL]"
         " | export RUN [--format csv] [--url URL] | import FILE [--url URL]]")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    command = argv[0] if argv else "serve"
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command == "tail":
        from armada.tail import main as tail_main

        return tail_main(argv[1:])
    if command == "purge":
        return purge(argv[1:])
    if command in ("export", "import"):
        from armada.transfer import export_main, import_main

        return (export_main if command == "export" else import_main)(argv[1:])
    if command != "serve" or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    config = configured()
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


def configured() -> Config | None:
    """The configuration from the environment and `.env`; None after one line on stderr."""
    try:
        return load_config(environment_with_dotenv())
    except ConfigError as error:
        print(f"armada: configuration error: {error}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
