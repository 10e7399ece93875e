"""The options of the commands that talk to a running service (`tail`, `export`, `import`):
the service's URL and the bearer token."""

from __future__ import annotations

import argparse
import os

from armada.remote.service import DEFAULT_URL, TOKEN_VARIABLE, clean_token, split_token


def add_url_and_token(parser: argparse.ArgumentParser, url_help: str, token_help: str) -> None:
    """`--url` (default DEFAULT_URL) and `--token`, each with its help (read by
    url_and_token)."""
    parser.add_argument("--url", default=DEFAULT_URL, help=url_help)
    parser.add_argument("--token", help=token_help)


def url_and_token(parser: argparse.ArgumentParser, args: argparse.Namespace
                  ) -> tuple[str, str | None]:
    """`--url` without a `?token=` in it, and the token: `--token`, else the URL's, else
    ARMADA_TOKEN (a malformed one is a usage error)."""
    url, url_token = split_token(args.url)
    try:
        return url, clean_token(args.token or url_token or os.environ.get(TOKEN_VARIABLE))
    except ValueError as error:
        parser.error(str(error))
        raise  # parser.error exits
