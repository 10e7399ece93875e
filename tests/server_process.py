"""The real service as a child process (`python -m armada serve`), to kill or start it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_environment(**variables: str) -> dict[str, str]:
    """The current environment without any Armada or SQL Server setting, plus `variables`."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("ARMADA_", "SQL_SERVER_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(variables)
    return env


def run_service(cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m armada serve` to its end (for settings that stop it at start)."""
    return subprocess.run(
        [sys.executable, "-m", "armada", "serve"], cwd=cwd, env=service_environment(**variables),
        capture_output=True, text=True, timeout=START_TIMEOUT,
    )


class ServiceProcess:
    """`python -m armada serve` on SQLite at `db_path`, listening on a free port."""

    def __init__(self, db_path: Path, cwd: Path, **variables: str) -> None:
        self.db_path = db_path
        self.cwd = cwd
        self.variables = variables  # more settings, e.g. ARMADA_REDIS_URL
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = service_environment(
            ARMADA_DB_PATH=str(self.db_path), ARMADA_PORT=str(self.port),
            ARMADA_HOST="127.0.0.1", **{"ARMADA_LOG_LEVEL": "WARNING", **self.variables},
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "armada", "serve"], cwd=self.cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self._wait_until_answering()

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed or closed."""
        assert self.process is not None
        os.kill(self.process.pid, 9)
        self.process.wait(timeout=START_TIMEOUT)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise AssertionError(f"service exited with {self.process.returncode}: {stderr}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/runs/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"service did not answer on {self.url} within {START_TIMEOUT}s")
