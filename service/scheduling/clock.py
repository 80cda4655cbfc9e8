"""Time as the batching queue sees it: a clock that tells the time and waits on a condition.

The queue reads every instant it decides by (the batching window, time slices, the drain limit,
batch durations) from one :class:`Clock` given to it, so a test can hand it a clock that moves
only when the test says and assert order and fairness without sleeping. The service uses
:class:`MonotonicClock`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the queue needs from time."""

    def now(self) -> float:
        """Seconds since an arbitrary origin; never goes back."""

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """Wait on ``condition`` (whose lock the caller holds) until it is notified or ``seconds`` of this
        clock have passed. May return early: callers re-check what they wait for and the time left."""


class MonotonicClock:
    """The real clock: ``time.monotonic``, and the condition's own timeout."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """``condition.wait(seconds)``."""
        condition.wait(seconds)
