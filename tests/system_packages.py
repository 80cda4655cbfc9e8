"""Tests that need a Debian package: they skip, saying what to install, where it is absent, and fail instead
when ``TRANSLATOR_TESTS_REQUIRE_SYSTEM_PACKAGES`` is set (``.ci/run`` installs the packages and sets it, so CI
never passes by skipping them)."""

from __future__ import annotations

import os

import pytest

REQUIRE = "TRANSLATOR_TESTS_REQUIRE_SYSTEM_PACKAGES"


def require(missing: list[str], install: str) -> None:
    """Skip (or, under ``$TRANSLATOR_TESTS_REQUIRE_SYSTEM_PACKAGES``, fail) when anything is ``missing``."""
    if not missing:
        return
    reason = f"{', '.join(missing)} not found: {install}"
    if os.environ.get(REQUIRE):
        pytest.fail(f"{reason} (${REQUIRE} is set)")
    pytest.skip(reason)
