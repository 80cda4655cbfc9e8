"""tests/system_packages.py: a missing Debian package skips its tests, saying what to install, except where
CI asks for them (then it fails)."""

from __future__ import annotations

import pytest

from tests.system_packages import REQUIRE, require


def test_a_missing_package_skips_and_fails_only_when_required(monkeypatch):
    monkeypatch.delenv(REQUIRE, raising=False)
    require([], "apt-get install -y nothing")  # nothing missing: the test goes on
    with pytest.raises(pytest.skip.Exception, match="/usr/bin/chromium not found: apt-get install -y chromium"):
        require(["/usr/bin/chromium"], "apt-get install -y chromium")
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="not found: apt-get install -y chromium"):
        require(["/usr/bin/chromium"], "apt-get install -y chromium")
