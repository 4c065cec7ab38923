"""Settings for the whole test run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Generation speed and time per example depend on the machine's load (CI shares two cores
# with the fixtures' server subprocesses); the property tests check correctness, not speed.
settings.register_profile(
    "syncclients", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("syncclients")
