"""``translator-serve`` in a real subprocess on a free loopback port, for tests that need a running server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(log_path: Path, model_args: list[str], api_key: str = "", timeout_s: float = 120) -> Iterator[str]:
    """``translator-serve MODEL_ARGS`` on the CPU in a subprocess; yields its base URL once /ready says 200.

    The server runs from the repository (PYTHONPATH set to it) with ``api_key`` as its API key
    (none when empty) and logs to ``log_path``. It is terminated on exit (killed if it does not stop
    within 20 s); a server that exits or is not ready within ``timeout_s`` fails the test with its log.
    """
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRANSLATOR_API_KEY=api_key)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *model_args, "--port", str(port), "--device", "cpu",
             "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                urllib.request.urlopen(base + "/ready", timeout=5).close()
                break
            # Refused, 503 (warming up) or an answer slower than the timeout while the server starts on
            # busy cores: all OSErrors (URLError, HTTPError, ConnectionError, TimeoutError), so try again.
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server was not ready within {timeout_s:g} s:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServerProcess:
    """``with ServerProcess(model_dir, tmp_path, TRANSLATOR_X="1") as server:`` — started and ready.

    ``server.url``; ``server.log()`` is its stderr so far; on exit it is killed if still running.
    """

    def __init__(self, model_dir: Path, log_dir: Path, **environment: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRANSLATOR_")}
        env.update(TRANSLATOR_MODEL_DIRS=str(model_dir), TRANSLATOR_PORT=str(self.port), TRANSLATOR_TORCH_THREADS="1")
        env.update(environment)
        self.environment = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ServerProcess":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli"], env=self.environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become ready:\n{self.log()}")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str, headers: dict[str, str] | None = None) -> float:
        """A sample of the server's Prometheus metrics (0 when absent)."""
        text = httpx.get(self.url + "/metrics", headers=headers, timeout=5).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0
