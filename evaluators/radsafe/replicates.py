"""How many bootstrap replicates an interval needs (no numpy: the settings validate with it at start-up)."""

from __future__ import annotations

from ogmux.evaluators.radsafe.errors import RadsafeError

__all__ = ["MIN_REPLICATES", "check_replicates"]

MIN_REPLICATES = 100  # fewer draws leave the 2.5% and 97.5% percentiles to a handful of replicates


def check_replicates(replicates: int) -> int:
    """`replicates` if it is 0 (no intervals) or at least MIN_REPLICATES; else a RadsafeError saying what to give."""
    if replicates < 0 or 0 < replicates < MIN_REPLICATES:
        raise RadsafeError(
            f"replicates={replicates}: give 0 for point estimates without intervals, or at least {MIN_REPLICATES} "
            "for 95% bootstrap intervals (with fewer draws the 2.5% and 97.5% percentiles are not stable)"
        )
    return replicates
