"""A real nginx in front of the app, configured as the Armada frontend's: `/tracking/`
proxied to the service with the prefix stripped, WebSocket upgrade included.

By default the location block is the platform's with a short `proxy_read_timeout`;
`documented_location()` is the block of docs/operations.md's "Behind nginx" exactly as written
there."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

# Short, so that tests can show what nginx does to a silent connection (production: 60 s).
PROXY_READ_TIMEOUT_SECONDS = 2
START_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3
OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
DOCUMENTED_UPSTREAM = "http://127.0.0.1:8000/"

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;

events {{
    worker_connections 64;
}}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 2m;

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;

{location}
    }}
}}
"""
LOCATION = """\
location /tracking/ {{
    proxy_pass http://127.0.0.1:{upstream_port}/;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header Host $host;
    proxy_read_timeout {read_timeout}s;
}}
"""


def documented_location() -> str:
    """The `location /tracking/` block of docs/operations.md's "Behind nginx", as a template
    of `{upstream_port}` (the page proxies to 127.0.0.1:8000)."""
    section = OPERATIONS.read_text().partition("## Behind nginx")[2]
    block = re.search(r"```nginx\n(location /tracking/ \{.*?\n\})\n```", section, re.S)
    assert block is not None, "docs/operations.md's Behind nginx has no location /tracking/ block"
    assert DOCUMENTED_UPSTREAM in block.group(1)
    return (block.group(1).replace("{", "{{").replace("}", "}}")
            .replace(DOCUMENTED_UPSTREAM, "http://127.0.0.1:{upstream_port}/") + "\n")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                      else None)
    if found is None:
        pytest.fail("nginx is not installed: run `./run.sh test`, which installs it")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxProxy:
    """One nginx master process (plus worker) whose files all live under `prefix`."""

    def __init__(self, prefix: Path, upstream_port: int, location: str = LOCATION) -> None:
        """`location`: a template of `{upstream_port}` (and `{read_timeout}`)."""
        self.prefix = prefix
        self.upstream_port = upstream_port
        self.location = location
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tracking"

    @property
    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def start(self) -> None:
        """Start nginx on a free port; try another port if that one was taken meanwhile."""
        binary = nginx_binary()
        self.prefix.mkdir(parents=True, exist_ok=True)
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            (self.prefix / "error.log").unlink(missing_ok=True)
            (self.prefix / "nginx.pid").unlink(missing_ok=True)
            config_path = self.prefix / "nginx.conf"
            location = self.location.format(upstream_port=self.upstream_port,
                                            read_timeout=PROXY_READ_TIMEOUT_SECONDS)
            config_path.write_text(CONFIG.format(
                prefix=self.prefix, port=self.port,
                location="\n".join(f"        {line}" if line else line
                                    for line in location.splitlines()),
                # As root, workers would otherwise run as `nobody`, who cannot use these paths.
                user="user root;" if os.geteuid() == 0 else "",
            ))
            self._process = await asyncio.create_subprocess_exec(
                binary, "-p", str(self.prefix), "-c", str(config_path),
                "-e", str(self.prefix / "error.log"),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            if await self._wait_until_listening():
                return
            await self.stop()
        pytest.fail(f"nginx found no free port in {START_ATTEMPTS} attempts: {self.error_log}")

    async def _wait_until_listening(self) -> bool:
        """True once nginx has bound its port (it writes its pid file only after that);
        False when the port was taken."""
        process = self._process
        assert process is not None and process.stderr is not None
        pid_file = self.prefix / "nginx.pid"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while loop.time() < deadline:
            if "Address already in use" in self.error_log:
                return False
            if process.returncode is not None:
                stderr = (await process.stderr.read()).decode(errors="replace")
                pytest.fail(f"nginx exited with {process.returncode}: {stderr}{self.error_log}")
            if pid_file.exists() and pid_file.read_text().strip() == str(process.pid):
                return True
            await asyncio.sleep(0.02)
        await self.stop()
        pytest.fail(f"nginx did not start within {START_TIMEOUT_SECONDS} s: {self.error_log}")

    async def stop(self) -> None:
        """Fast shutdown of the master (and so of its worker); kill it if it lingers."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
