"""The service's lifetime: bind the address, start the app (`make_app`: armada.app.init_app,
handed over by `armada serve`), serve until SIGTERM or SIGINT, shut down gracefully. A start
that cannot listen, or cannot use its database (not SQLite, never to be opened, served by
another instance already), is one line on stderr and exit 2, not a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import IO

from aiohttp import web

from armada.config import Config, ConfigError, SqliteSettings
from armada.connection_limit import ConnectionLimit, runner_settings
from armada.database_lock import DatabaseInUse, claim, lock_path

# What web.run_app used: requests in flight get this long to finish at shutdown.
SHUTDOWN_TIMEOUT_SECONDS = 60.0
BACKLOG = 128
# Files the process may need beside its connections: the database, logs, Redis, pipes.
FILES_BESIDE_CONNECTIONS = 64

log = logging.getLogger("armada")


class EventLoopMissing(Exception):
    """ARMADA_EVENT_LOOP=uvloop, and uvloop does not import here."""


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop to serve on: uvloop (a tenth less CPU per ingest request, a sixth with 50
    subscribers: docs/performance.md) where it is installed or asked for, else asyncio's
    (None)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as error:
        if choice == "uvloop":
            raise EventLoopMissing(f"ARMADA_EVENT_LOOP=uvloop: {error}") from None
        return None
    return uvloop.new_event_loop


# What builds the application from the configuration.
AppFactory = Callable[[Config], web.Application]


def run(config: Config, make_app: AppFactory) -> int:
    """serve(config, make_app) on the event loop the configuration chooses."""
    try:
        factory = event_loop_factory(config.event_loop)
    except EventLoopMissing as error:
        print(f"armada: {error}", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(serve(config, make_app))


async def serve(config: Config, make_app: AppFactory) -> int:
    """0 after a signal and a graceful shutdown; 2 after one line on stderr when the address
    cannot be listened on (before the app has started, so nothing was opened), or when the
    database cannot be used at all (an outage later is a 503, not an exit)."""
    for warning in config.warnings:
        log.warning("%s", warning)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, _stop, stopping,
                                signal.Signals(signal_number).name)
    try:
        sockets = await bound_sockets(config.host, config.port)
    except OSError as error:
        print(f"armada: cannot listen on {address(config)}: {bind_problem(error)}",
              file=sys.stderr)
        return 2
    try:
        with _database_claimed(config):
            return await _serve_on(config, make_app, sockets, stopping)
    except DatabaseInUse as error:
        print(f"armada: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"armada: configuration error: {error}", file=sys.stderr)
        return 2
    finally:
        for sock in sockets:
            sock.close()


def _stop(stopping: asyncio.Event, name: str) -> None:
    if not stopping.is_set():
        log.info("%s received: shutting down (requests in flight get up to %g s)", name,
                 SHUTDOWN_TIMEOUT_SECONDS)
    stopping.set()


@contextlib.contextmanager
def _database_claimed(config: Config) -> Iterator[None]:
    """On SQLite, the lock that keeps a second instance off the file (database_lock)."""
    if not isinstance(config.database, SqliteSettings):
        yield
        return
    path = config.database.path
    try:
        lock: IO[bytes] = claim(path, shared=config.redis_url is not None)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise ConfigError("ARMADA_DB_PATH", f"cannot open {lock_path(path.absolute())}, the "
                                            f"lock beside the database: {reason}") from None
    with lock:
        yield


async def _serve_on(config: Config, make_app: AppFactory, sockets: list[socket.socket],
                    stopping: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    allow_open_files(config.max_connections + FILES_BESIDE_CONNECTIONS)
    # access_log=None: armada.http.request_log writes the one line per request instead.
    runner = web.AppRunner(make_app(config), access_log=None,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS, **runner_settings(config))
    listening: list[asyncio.Server] = []
    try:
        await runner.setup()
        assert runner.server is not None
        # aiohttp's server behind the connection limit, instead of a site's plain one.
        limit = ConnectionLimit(runner.server, config.max_connections)
        for sock in sockets:
            listening.append(await loop.create_server(limit, sock=sock, backlog=BACKLOG))
        log.info("serving on http://%s, %s, %s, event loop %s", address(config),
                 config.database.describe(), tokens_in_use(config), loop_name(loop))
        await stopping.wait()
    finally:
        # As run_app: stop accepting, on_shutdown (WebSockets closed with 1001), requests in
        # flight finish within the shutdown timeout, then cleanup_ctx (the store) closes.
        for server in listening:
            server.close()
        await runner.cleanup()
    log.info("stopped")
    return 0


def tokens_in_use(config: Config) -> str:
    """What the start line says of ARMADA_WRITE_TOKENS and ARMADA_READ_TOKENS (never a token)."""
    if config.read_tokens and config.write_tokens:
        return "tokens required for reads and writes"
    if config.write_tokens:
        return "tokens required for writes, reads open"
    if config.read_tokens:
        return "tokens required for reads, writes open"
    return "no tokens: reads and writes open"


async def bound_sockets(host: str, port: int) -> list[socket.socket]:
    """A socket bound to each address of `host`, not yet listening (a client is refused,
    not kept waiting, until the app has started), bound as asyncio's create_server would."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, sockaddr in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # One address, one family: "::" must not take the IPv4 port as well.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def allow_open_files(needed: int) -> None:
    """Raise the soft limit on open files towards `needed` (up to the hard limit), so that
    the connection limit, not the file limit, is what refuses connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < needed:
        log.warning("the process may open %d files (ulimit -n), fewer than the %d that "
                    "ARMADA_MAX_CONNECTIONS=%d connections need", wanted, needed,
                    needed - FILES_BESIDE_CONNECTIONS)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def address(config: Config) -> str:
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{host}:{config.port}"


def bind_problem(error: OSError) -> str:
    """The reason alone, e.g. "address already in use"."""
    if isinstance(error, socket.gaierror):
        return f"host name not found ({error.strerror})"
    if error.errno:
        return os.strerror(error.errno).lower()
    return str(error)
