"""`python -m armada [serve]`: read the configuration once and serve."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from armada.app import init_app
from armada.config import ConfigError, environment_with_dotenv, load_config

USAGE = "usage: python -m armada [serve]"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command != "serve" or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        config = load_config(environment_with_dotenv())
    except ConfigError as error:
        print(f"armada: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("armada").info(
        "serving on http://%s:%d, %s", config.host, config.port, config.database.describe()
    )
    web.run_app(init_app(config), host=config.host, port=config.port, print=None,
                access_log_format='%a "%r" %s %b %Tfs')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
