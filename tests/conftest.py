"""Suite-wide Hypothesis settings: property tests check behaviour, never how fast an example runs.

Hypothesis fails an example slower than 200 ms (its default deadline) and a strategy slow to generate
data (HealthCheck.too_slow); on a loaded 2-core machine both fire on correct code. A test's own
@settings still applies on top of this profile.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("ogmux", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ogmux")
