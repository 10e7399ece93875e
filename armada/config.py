"""Configuration: parsed once, at start-up, from the environment (and `.env`)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from armada import const
from armada.durations import DURATION_UNITS, parse_duration

if TYPE_CHECKING:
    from armada.alerts_settings import AlertsSettings

DEFAULT_CORS_ORIGINS = "http://localhost:5173,http://localhost:8080,http://localhost:3000"
# RFC 6750 token68, without the trailing "=" padding (tokens are compared verbatim).
TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+")
HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# The longest duration a setting takes unless it says otherwise: a year, a leap one.
LONGEST_DURATION_SECONDS = 366 * 86400
SQL_SERVER_LOGIN = ("SQL_SERVER_USER", "SQL_SERVER_PASSWORD", "SQL_SERVER_DB")
# Every ARMADA_* variable the service reads; any other one set is a warning at start.
ARMADA_VARIABLES = (
    "ARMADA_DB_PATH", "ARMADA_HOST", "ARMADA_PORT", "ARMADA_CORS_ORIGINS", "ARMADA_DB_WORKERS",
    "ARMADA_DB_TIMEOUT", "ARMADA_MAX_BODY", "ARMADA_WS_HEARTBEAT", "ARMADA_WS_QUEUE",
    "ARMADA_WS_BUFFER", "ARMADA_WS_BUFFER_BYTES", "ARMADA_WS_QUEUE_BYTES",
    "ARMADA_HEADER_TIMEOUT", "ARMADA_MAX_CONNECTIONS", "ARMADA_REDIS_URL", "ARMADA_LOG_LEVEL",
    "ARMADA_LOG_FORMAT", "ARMADA_EVENT_LOOP", "ARMADA_WRITE_TOKENS", "ARMADA_READ_TOKENS",
    "ARMADA_REQUEST_TIMEOUT", "ARMADA_RETENTION_DAYS", "ARMADA_JOB_STALE_AFTER",
    "ARMADA_MAX_CLOCK_SKEW", "ARMADA_ALERTS_FILE",
)
# Not the service's, and no misspelling: the agents' client's and the CLI's token, the tests'.
OTHER_VARIABLES = ("ARMADA_TOKEN",)
OTHER_PREFIXES = ("ARMADA_TEST_",)


class ConfigError(Exception):
    """A setting is missing or malformed; `variable` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class SqliteSettings:
    path: Path

    dialect = "sqlite"

    def describe(self) -> str:
        return f"SQLite at {self.path.absolute()}"


@dataclass(frozen=True)
class MssqlSettings:
    server: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str

    dialect = "mssql"

    def describe(self) -> str:
        return f"SQL Server {self.server}:{self.port}, database {self.database}"


@dataclass(frozen=True)
class Config:
    database: SqliteSettings | MssqlSettings
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: tuple[str, ...] = tuple(DEFAULT_CORS_ORIGINS.split(","))
    db_workers: int = const.DB_WORKERS
    db_timeout: float = const.DB_TIMEOUT_SECONDS
    max_body: int = const.MAX_BODY_BYTES
    ws_heartbeat: float = const.WS_HEARTBEAT_SECONDS
    ws_queue: int = const.WS_MAX_PENDING_MESSAGES
    ws_buffer: int = const.WS_BUFFER_MESSAGES
    ws_buffer_bytes: int = const.WS_BUFFER_BYTES
    ws_queue_bytes: int = const.WS_MAX_PENDING_BYTES
    header_timeout: float = const.HEADER_TIMEOUT_SECONDS
    max_connections: int = const.MAX_CONNECTIONS
    redis_url: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_format: str = "text"
    # "auto": uvloop where it is installed, else asyncio's own loop; or either by name.
    event_loop: str = "auto"
    write_tokens: tuple[str, ...] = field(default=(), repr=False)
    read_tokens: tuple[str, ...] = field(default=(), repr=False)
    request_timeout: float = const.REQUEST_TIMEOUT_SECONDS
    # Runs older than this many days are deleted (a fraction from `12h`); None: kept.
    retention_days: float | None = None
    retention_interval: float = const.RETENTION_INTERVAL_SECONDS
    # Seconds without a report after which a Running job is Lost; None: never.
    job_stale_after: float | None = const.JOB_STALE_AFTER_SECONDS
    # Seconds a body datetime may be ahead of the service's clock (a client's clock is off).
    max_clock_skew: float = const.MAX_CLOCK_SKEW_SECONDS
    # ARMADA_ALERTS_FILE: where notifications go and when (docs/alerts.md); None: none.
    alerts: AlertsSettings | None = field(default=None, repr=False)
    # One line each, logged at start: ARMADA_* variables that are set and mean nothing.
    warnings: tuple[str, ...] = field(default=(), compare=False)


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the one Config object from environment variables; raise ConfigError when bad."""
    env = {key: value.strip() for key, value in environ.items()}
    return Config(
        database=_database(env),
        host=_host(env),
        port=_int(env, "ARMADA_PORT", 8000, 1, 65535),
        cors_origins=_origins(env),
        db_workers=_int(env, "ARMADA_DB_WORKERS", const.DB_WORKERS, 1, 64),
        db_timeout=_duration(env, "ARMADA_DB_TIMEOUT", const.DB_TIMEOUT_SECONDS, 0.1, 600),
        max_body=_int(env, "ARMADA_MAX_BODY", const.MAX_BODY_BYTES, 1024, 1 << 30),
        ws_heartbeat=_duration(env, "ARMADA_WS_HEARTBEAT", const.WS_HEARTBEAT_SECONDS, 0.1, 30),
        ws_queue=_int(env, "ARMADA_WS_QUEUE", const.WS_MAX_PENDING_MESSAGES, 1, 1_000_000),
        ws_buffer=_int(env, "ARMADA_WS_BUFFER", const.WS_BUFFER_MESSAGES, 1, 10_000_000),
        ws_buffer_bytes=_int(env, "ARMADA_WS_BUFFER_BYTES", const.WS_BUFFER_BYTES,
                             const.MIN_BYTE_LIMIT, 1 << 40),
        ws_queue_bytes=_int(env, "ARMADA_WS_QUEUE_BYTES", const.WS_MAX_PENDING_BYTES,
                            const.MIN_BYTE_LIMIT, 1 << 40),
        header_timeout=_duration(env, "ARMADA_HEADER_TIMEOUT", const.HEADER_TIMEOUT_SECONDS,
                                 0.1, 3600),
        max_connections=_int(env, "ARMADA_MAX_CONNECTIONS", const.MAX_CONNECTIONS,
                             1, 1_000_000),
        redis_url=_redis_url(env),
        log_level=_choice(env, "ARMADA_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        log_format=_choice(env, "ARMADA_LOG_FORMAT", "text", ("text", "json")),
        event_loop=_choice(env, "ARMADA_EVENT_LOOP", "auto", ("auto", "uvloop", "asyncio")),
        write_tokens=_tokens(env, "ARMADA_WRITE_TOKENS"),
        read_tokens=_tokens(env, "ARMADA_READ_TOKENS"),
        request_timeout=_duration(env, "ARMADA_REQUEST_TIMEOUT", const.REQUEST_TIMEOUT_SECONDS,
                                  0.1, 3600),
        retention_days=_duration(env, "ARMADA_RETENTION_DAYS", 0, 0, 36500 * 86400,
                                 plain_unit="d") / 86400 or None,
        job_stale_after=_duration(env, "ARMADA_JOB_STALE_AFTER",
                                  const.JOB_STALE_AFTER_SECONDS) or None,
        max_clock_skew=_duration(env, "ARMADA_MAX_CLOCK_SKEW", const.MAX_CLOCK_SKEW_SECONDS),
        alerts=_alerts(env),
        warnings=tuple(_unknown_variables(env)),
    )


def environment_with_dotenv(path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """The process environment over the values of a `.env` file (the environment wins)."""
    from dotenv import dotenv_values

    merged = {key: value for key, value in dotenv_values(path).items() if value is not None}
    merged.update(os.environ)
    return merged


def _database(env: Mapping[str, str]) -> SqliteSettings | MssqlSettings:
    server = env.get("SQL_SERVER_NAME", "")
    if not server:
        return SqliteSettings(path=_sqlite_path(env))
    port = _int(env, "SQL_SERVER_PORT", 1433, 1, 65535)
    if "," in server:
        server, _, port_text = server.partition(",")
        server = server.strip()
        if not server or not port_text.strip():
            raise ConfigError("SQL_SERVER_NAME", "expected host or host,port")
        port = _int({"SQL_SERVER_NAME": port_text}, "SQL_SERVER_NAME", 1433, 1, 65535)
    missing = [variable for variable in SQL_SERVER_LOGIN if not env.get(variable)]
    if missing:
        raise ConfigError(", ".join(missing), "required when SQL_SERVER_NAME is set")
    return MssqlSettings(
        server=server,
        port=port,
        user=env["SQL_SERVER_USER"],
        password=env["SQL_SERVER_PASSWORD"],
        database=env["SQL_SERVER_DB"],
    )


def _sqlite_path(env: Mapping[str, str]) -> Path:
    path = Path(env.get("ARMADA_DB_PATH") or "./armada.db").expanduser()
    if path.is_dir():
        raise ConfigError("ARMADA_DB_PATH", f"{path} is a directory, expected a file")
    if not path.parent.is_dir():
        raise ConfigError("ARMADA_DB_PATH", f"directory {path.parent} does not exist")
    return path


def _alerts(env: Mapping[str, str]) -> AlertsSettings | None:
    """The alerts file, read and checked now, with the variables it names (URLs, secrets)
    from `env`; no error echoes their values."""
    path = env.get("ARMADA_ALERTS_FILE")
    if not path:
        return None
    from armada.alerts_settings import AlertsFileError, read_alerts_file

    try:
        return read_alerts_file(path, env)
    except AlertsFileError as error:
        raise ConfigError("ARMADA_ALERTS_FILE", str(error)) from None


def _host(env: Mapping[str, str]) -> str:
    """An IP address, or a host name by RFC 1123: labels of letters, digits and inner hyphens,
    the last one not all digits (so that 999.1.1.1 is not taken for a name)."""
    host = env.get("ARMADA_HOST") or "127.0.0.1"
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if (len(host) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()):
        raise ConfigError("ARMADA_HOST", f"{host!r} is not an IP address or host name")
    return host


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("ARMADA_CORS_ORIGINS")
    if raw is None:
        raw = DEFAULT_CORS_ORIGINS
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError("ARMADA_CORS_ORIGINS", f"{origin!r} is not an http(s) origin")
    return origins


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("ARMADA_REDIS_URL")
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("ARMADA_REDIS_URL", "expected a redis://, rediss:// or unix:// URL")
    return raw


def _int(env: Mapping[str, str], variable: str, default: int, low: int, high: int) -> int:
    raw = env.get(variable)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(variable, f"{raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(variable, f"{value} is outside {low}..{high}")
    return value


def _duration(env: Mapping[str, str], variable: str, default: float, low: float = 0,
              high: float = LONGEST_DURATION_SECONDS, plain_unit: str = "s") -> float:
    """Seconds, from parse_duration's syntax, within low..high."""
    raw = env.get(variable)
    if not raw:
        return default
    try:
        value = parse_duration(raw, plain_unit).total_seconds()
    except ValueError as error:
        raise ConfigError(variable, str(error)) from None
    if not low <= value <= high:
        raise ConfigError(variable, f"{raw!r} is outside {_span(low)}..{_span(high)}")
    return value


def _span(seconds: float) -> str:
    """Seconds in the largest unit that writes them whole: 86400 is `1d`, 0.1 is `0.1s`."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds / DURATION_UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    """A warning for each ARMADA_* variable that is set and read by nothing (a misspelling)."""
    warnings = []
    for variable in sorted(set(env) - set(ARMADA_VARIABLES) - set(OTHER_VARIABLES)):
        if not variable.startswith("ARMADA_") or variable.startswith(OTHER_PREFIXES):
            continue
        # Compared without the prefix, which every name shares and which would make all close.
        close = difflib.get_close_matches(variable.removeprefix("ARMADA_"),
                                          [known.removeprefix("ARMADA_")
                                           for known in ARMADA_VARIABLES], n=1)
        hint = f" (did you mean ARMADA_{close[0]}?)" if close else ""
        warnings.append(f"{variable} is not a setting of the service{hint}; it is ignored")
    return warnings


def _tokens(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    """Comma-separated bearer tokens; the error never echoes a token."""
    tokens = tuple(token.strip() for token in env.get(variable, "").split(",") if token.strip())
    for position, token in enumerate(tokens, 1):
        if len(token) < const.MIN_TOKEN_LENGTH or not TOKEN.fullmatch(token):
            raise ConfigError(variable, f"token {position} is not {const.MIN_TOKEN_LENGTH} or more "
                                        "characters of A-Z a-z 0-9 - . _ ~ + /")
    return tokens


def _choice(env: Mapping[str, str], variable: str, default: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed` in any letter case, answered (and listed) as `allowed` spells it, the
    spelling of docs/configuration.md."""
    raw = env.get(variable) or default
    for value in allowed:
        if raw.casefold() == value.casefold():
            return value
    raise ConfigError(variable, f"{raw!r} is not one of {', '.join(allowed)}")
