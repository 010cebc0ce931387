"""Fixtures shared by the job tests."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.distribution_support import configure, day


@pytest.fixture
def sales(installed: Stack) -> Stack:
    configure(installed)
    day(installed, u2="OPENED", u3="OPENED", u4="PAUSED")
    return installed
