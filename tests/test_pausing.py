"""benchmarks/pausing.py stops a process and the processes below it, and lets them go again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import pausing  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_wrapper_shell_and_the_program_below_it_are_both_stopped_then_continued():
    wrapper = subprocess.Popen(["sh", "-c", f"{sys.executable} -c 'import time; time.sleep(60)'; true"])
    try:
        deadline = time.monotonic() + 10
        while len(pausing.with_descendants(wrapper.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        program = pausing.with_descendants(wrapper.pid)[1]
        with pausing.paused([wrapper.pid]):
            assert state(wrapper.pid) == "T" and state(program) == "T"
        assert state(program) != "T" and state(wrapper.pid) != "T"
    finally:
        subprocess.run(["pkill", "-P", str(wrapper.pid)])
        wrapper.kill()
        wrapper.wait()
