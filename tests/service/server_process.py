"""``translator-serve`` in a real subprocess, for tests of what an operator relies on and of real clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``translator-serve`` in a subprocess on a free loopback port, on the CPU, run from this
    repository; entered once ``/ready`` says 200, killed on exit if still running::

        with ServerProcess(tmp_path, model_dir, TRANSLATOR_REQUEST_TIMEOUT_S="60") as server: ...
        with ServerProcess(tmp_path, args=["--models-root", str(root)], TRANSLATOR_API_KEY="k") as server: ...

    Its settings are what an operator would give it: the caller's environment without any
    ``TRANSLATOR_*`` variable, then ``model_dir`` as ``TRANSLATOR_MODEL_DIRS``, one torch thread,
    ``environment`` and the command-line ``args``. ``server.url``; ``server.log()`` is its output so
    far. A server that exits, or is not ready within ``ready_timeout_s``, fails the test with its log.
    """

    def __init__(self, log_dir: Path, model_dir: Path | None = None, *, args: Sequence[str] = (),
                 ready_timeout_s: float = 120, **environment: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRANSLATOR_")}
        env.update(PYTHONPATH=str(ROOT), TRANSLATOR_PORT=str(self.port), TRANSLATOR_DEVICE="cpu",
                   TRANSLATOR_TORCH_THREADS="1")
        if model_dir is not None:
            env["TRANSLATOR_MODEL_DIRS"] = str(model_dir)
        env.update(environment)
        self.environment = env
        self.args = list(args)
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ServerProcess":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli", *self.args], cwd=ROOT,
                                        env=self.environment, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.process.poll() is not None:
                self.__exit__()
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/ready", timeout=5).status_code == 200:
                    return self
            # Refused, or slower than the timeout while the server starts on busy cores: try again.
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                pytest.fail(f"the server was not ready within {self.ready_timeout_s:g} s:\n{self.log()}")
            time.sleep(0.2)

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
