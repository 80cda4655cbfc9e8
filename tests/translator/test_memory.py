"""keep_freed_memory: freed large blocks stay in the process for the next step instead of going back
to the operating system (and being page-faulted in again)."""

from __future__ import annotations

import os
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


def test_the_restart_environment_preloads_tcmalloc_once_and_only_when_asked(monkeypatch):
    from translator import memory

    monkeypatch.setattr(memory, "tcmalloc_library", lambda: "libtcmalloc_minimal.so.4")
    restart = memory.tcmalloc_restart_environment({"PATH": "/bin", "LD_PRELOAD": "libfoo.so"})
    assert restart["LD_PRELOAD"] == "libfoo.so libtcmalloc_minimal.so.4" and restart["PATH"] == "/bin"
    assert memory.tcmalloc_restart_environment(restart) is None  # restarted already: never a loop
    assert memory.tcmalloc_restart_environment({"TRANSLATOR_MALLOC": "system"}) is None
    assert memory.tcmalloc_restart_environment({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}) is None  # the user's
    with pytest.raises(ValueError, match="TRANSLATOR_MALLOC='glibc'"):
        memory.tcmalloc_restart_environment({"TRANSLATOR_MALLOC": "glibc"})
    monkeypatch.setattr(memory, "tcmalloc_library", lambda: None)
    assert memory.tcmalloc_restart_environment({}) is None  # no tcmalloc on this system: nothing to do


RESTART = """
import os, sys
from translator.memory import allocator_in_use, restart_with_tcmalloc
print("started", os.getpid(), flush=True)
restart_with_tcmalloc()
print(allocator_in_use(), os.getpid(), sys.argv[1:])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD and /proc are Linux only")
def test_a_command_restarts_itself_with_tcmalloc_keeping_its_id_and_arguments(monkeypatch):
    from tests.system_packages import require
    from translator.memory import tcmalloc_library

    require([] if tcmalloc_library() else ["libtcmalloc_minimal"], "apt-get install -y libtcmalloc-minimal4")

    def run(**variables: str) -> list[str]:
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("TRANSLATOR_MALLOC", "TRANSLATOR_MALLOC_PRELOADED", "LD_PRELOAD")}
        result = subprocess.run([sys.executable, "-c", RESTART, "--flag", "a b"], capture_output=True, text=True,
                                check=True, env={**environment, **variables})
        return result.stdout.splitlines()

    lines = run()
    pid = lines[0].split()[1]
    # restarted, the same process runs the program from its start again, with its arguments
    assert lines == [f"started {pid}", f"started {pid}", f"tcmalloc {pid} ['--flag', 'a b']"]
    lines = run(TRANSLATOR_MALLOC="system")
    assert lines == [lines[0], f"system {lines[0].split()[1]} ['--flag', 'a b']"]


PROCESS = """
from training.config import OptimConfig
from training.loop.trainer import configure_process
from translator.memory import allocator_in_use
print(allocator_in_use(), configure_process(OptimConfig(threads=1)))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD, mallopt and /proc are Linux only")
def test_the_trainer_tunes_and_trims_glibc_malloc_only_when_glibc_serves_the_allocations():
    from tests.system_packages import require
    from translator.memory import tcmalloc_library

    library = tcmalloc_library()
    require([] if library else ["libtcmalloc_minimal"], "apt-get install -y libtcmalloc-minimal4")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TRANSLATOR_MALLOC_PRELOADED", "LD_PRELOAD")}

    def run(**variables: str) -> str:
        return subprocess.run([sys.executable, "-c", PROCESS], capture_output=True, text=True, check=True,
                              env={**environment, **variables}).stdout.strip()

    assert run() == "system True"  # glibc: thresholds raised, so the trainer trims every 200 steps
    assert run(LD_PRELOAD=library) == "tcmalloc False"  # neither mallopt nor malloc_trim: glibc's heap is unused
