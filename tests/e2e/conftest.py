"""Every browser test needs the system's Chromium: a missing one fails loudly, never skips."""

from __future__ import annotations

import pytest

from tests.e2e.browser import CHROMIUM


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if CHROMIUM is None:
        pytest.fail("chromium is missing: ./dev test installs it (Debian package 'chromium')")
