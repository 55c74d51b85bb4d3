"""Run the real `reefguide` console script: one-shot commands and `serve` processes.

Every process gets an explicit environment (nothing inherited but PATH), a
working directory of its own, and cheap Argon2 settings. Servers listen on
127.0.0.1 on a free port, are waited for by polling, and are always stopped
with a bounded wait.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

REEFGUIDE = Path(sys.executable).parent / "reefguide"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
COMMAND_TIMEOUT_SECONDS = 60.0


def base_env(data_dir: Path | None, **extra: str) -> dict[str, str]:
    """A clean environment: no DATABASE_URL, ADMIN_*, JWT_* … unless given in `extra`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "REEFGUIDE_ARGON2_TIME_COST": "1",
        "REEFGUIDE_ARGON2_MEMORY_KIB": "1024",
        # A server started by a test starts no workers of its own unless the test says so.
        "REEFGUIDE_EMBEDDED_WORKERS": "false",
    }
    if data_dir is not None:
        env["REEFGUIDE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: str | None = None,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run `reefguide ARGS` to completion (killed after `timeout`)."""
    return subprocess.run(
        [str(REEFGUIDE), *args],
        env=dict(env),
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def parse_env_lines(text: str) -> dict[str, str]:
    """`NAME=value` and `NAME="value"` lines, as `reefguide keys generate` prints them."""
    values = {}
    for line in text.strip().splitlines():
        name, _, value = line.partition("=")
        values[name] = value.removeprefix('"').removesuffix('"')
    return values


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a stderr capture (other lines are skipped)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path
    _files: list[IO[bytes]] = field(default_factory=list, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def logs(self) -> list[dict[str, Any]]:
        return log_lines(self.stderr())

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> tuple[int, float]:
        """SIGTERM, then wait; returns (exit code, seconds taken). Killed if it overstays."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        for file in self._files:
            file.close()
        self._files.clear()
        return self.process.returncode, elapsed

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)


def _wait_until_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise AssertionError(
                    f"reefguide serve exited with {server.process.returncode}:\n{server.stderr()[-3000:]}"
                )
            try:
                if http.get(f"{server.base_url}/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # between polls of the condition, not instead of it
    raise AssertionError(f"reefguide serve not ready after {timeout} s:\n{server.stderr()[-3000:]}")


def start_server(
    workdir: Path,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    *,
    port: int | None = None,
    name: str = "serve",
) -> Server:
    """Start `reefguide serve ARGS`; with `port`, pass it as --port. The caller stops it."""
    argv = [str(REEFGUIDE), "serve", *args]
    listen = port
    if port is not None:
        argv += ["--port", str(port)]
    else:
        listen = int(env["PORT"])
    stdout_path = workdir / f"{name}.stdout"
    stderr_path = workdir / f"{name}.stderr"
    stdout = stdout_path.open("wb")
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        argv, env=dict(env), cwd=workdir, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
    )
    assert listen is not None
    return Server(process, listen, stdout_path, stderr_path, [stdout, stderr])


@contextmanager
def running_server(
    workdir: Path,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    *,
    port: int | None = None,
    name: str = "serve",
) -> Iterator[Server]:
    """A started and ready server, stopped (bounded) on the way out whatever happens."""
    server = start_server(workdir, env, args, port=port, name=name)
    try:
        _wait_until_ready(server, START_TIMEOUT_SECONDS)
        yield server
    finally:
        server.stop()


def wait_ready(server: Server) -> None:
    _wait_until_ready(server, START_TIMEOUT_SECONDS)


def login(base_url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{base_url}/api/auth/login", json={"email": email, "password": password}, timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once `condition()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)  # between checks of the condition, not instead of it
