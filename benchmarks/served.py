"""A ``translator-serve`` process for the operations benchmarks: start, probe, signal, measure.

Used by ``operations.py`` and ``soak.py``: the server runs on this machine's loopback interface,
its CPU time and memory are read from ``/proc`` so "idle" and "RSS" are the process's own figures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEST_SET = ROOT / "../shared/data/multi30k/test2016.de"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sentences() -> list[str]:
    """German test2016 sentences (the de-en model's test set), or built-in samples without the data."""
    if TEST_SET.exists():
        return [line for line in TEST_SET.read_text(encoding="utf-8").split("\n") if line.strip()]
    return ["Ein Mann fährt mit dem Fahrrad.", "Zwei Hunde spielen im Schnee.", "Eine Frau liest ein Buch."]


class Server:
    """``translator-serve`` on the given model directories; ``with Server(...) as server`` waits for /ready."""

    def __init__(self, model_dirs: list[Path], log_path: Path, **environment: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRANSLATOR_")}
        env.update(TRANSLATOR_MODEL_DIRS=",".join(str(d) for d in model_dirs), TRANSLATOR_PORT=str(self.port),
                   TRANSLATOR_LOG_LEVEL="info", PYTHONPATH=str(ROOT))
        env.update(environment)
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli"], env=self.env, cwd=ROOT,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        sys.exit(f"the server was not ready within 180 s; see {self.log_path}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def metric(self, name: str) -> float:
        """One sample of /metrics (0 when absent)."""
        for line in httpx.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        """Resident memory of the server process now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def seconds_until_idle(self, timeout_s: float = 60, window_s: float = 0.5, busy_cpu_s: float = 0.05) -> float:
        """Seconds until the server spends less than ``busy_cpu_s`` CPU in a ``window_s`` window (the
        window's start is what counts); ``timeout_s`` if it never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            window_start, before = time.monotonic(), self.cpu_seconds()
            time.sleep(window_s)
            if self.cpu_seconds() - before < busy_cpu_s:
                return window_start - started
        return timeout_s
