"""Suite-wide settings: tests check behaviour, never how fast it runs or what the caller's shell exports.

Hypothesis fails an example slower than 200 ms (its default deadline) and a strategy slow to generate
data (HealthCheck.too_slow); on a loaded 2-core machine both fire on correct code. A test's own
@settings still applies on top of this profile.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ogmux", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ogmux")


@pytest.fixture(autouse=True)
def _no_ogmux_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """OGMUX_* variables of the shell running the tests would override the settings a test builds (and
    those of every server process it starts): each test sets the ones it needs."""
    for name in [n for n in os.environ if n.startswith("OGMUX_")]:
        monkeypatch.delenv(name)
