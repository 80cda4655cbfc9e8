"""Pause competing processes (e.g. a training run on the same cores) while a benchmark times.

On a 2-core machine a background training run halves every figure; ``--pause-pid PID`` stops it
with SIGSTOP for the timed blocks only and always sends SIGCONT afterwards, also when the
benchmark fails or is interrupted (Ctrl-C, SIGTERM). The process's descendants are stopped with it: the
pid a shell prints for ``cd dir && nohup python ... &`` is the subshell's, and stopping only that one
would leave the training running.
"""

from __future__ import annotations

import atexit
import os
import signal
import time
from contextlib import contextmanager
from typing import Iterator

_stopped: set[int] = set()
total_paused_seconds = 0.0


def _resume_all() -> None:
    for pid in list(_stopped):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        _stopped.discard(pid)


def _on_signal(signum: int, _frame: object) -> None:
    _resume_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_resume_all)
for _signum in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signum, _on_signal)


def with_descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc; just ``pid`` where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


@contextmanager
def paused(pids: list[int] | None) -> Iterator[None]:
    """SIGSTOP ``pids`` and their descendants for the duration of the block, SIGCONT them after (no-op when
    empty)."""
    global total_paused_seconds
    if not pids:
        yield
        return
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # raises ProcessLookupError for a wrong pid: fail early
        _stopped.add(pid)
        for below in with_descendants(pid)[1:]:
            try:
                os.kill(below, signal.SIGSTOP)
                _stopped.add(below)
            except ProcessLookupError:
                pass
    time.sleep(0.2)  # let the stopped process's threads leave the cores
    start = time.perf_counter()
    try:
        yield
    finally:
        total_paused_seconds += time.perf_counter() - start
        _resume_all()
