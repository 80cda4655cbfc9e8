"""keep_freed_memory: freed large blocks stay in the process for the next step instead of going back
to the operating system (and being page-faulted in again)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys
import torch
from translator.memory import keep_freed_memory, release_freed_memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20

if sys.argv[1] != "default":
    assert keep_freed_memory()
block = torch.ones(64 * 2**20 // 4)  # 64 MiB, every page touched
before = resident_mib()
del block
if sys.argv[1] == "keep-then-release":
    assert release_freed_memory()
print(before - resident_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and /proc are Linux (glibc) only")
def test_freed_memory_stays_in_the_process_until_released():
    def released_mib(mode: str) -> float:
        result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
        return float(result.stdout)

    assert released_mib("default") > 60  # glibc munmaps a block this large on free
    assert released_mib("keep") < 4
    assert released_mib("keep-then-release") > 60
