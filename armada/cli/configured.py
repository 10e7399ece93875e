"""The configuration a command runs with: the environment and `.env`, with the options of
`armada serve` over them (shared by serve, purge and alerts)."""

from __future__ import annotations

import sys

from armada.config import Config, ConfigError, environment_with_dotenv, load_config

# The serve options and the variables they stand for (the option wins).
SERVE_OPTIONS = {"host": "ARMADA_HOST", "port": "ARMADA_PORT", "db": "ARMADA_DB_PATH"}


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
