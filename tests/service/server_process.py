"""``translator-serve`` in a real subprocess on a free loopback port, for tests that need a running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
                urllib.request.urlopen(base + "/ready", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
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
