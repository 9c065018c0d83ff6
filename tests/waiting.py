"""Bounded polling for tests that watch real processes (a wait with a limit, not a timing assertion)."""

import time


def until(pred, timeout: float = 120.0, poll: float = 0.2, what=None):
    """Poll pred() until it returns something truthy and return that; on timeout fail, showing what()
    (the state that never came right) when given."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError(f"condition not met within {timeout:.0f} s" + (f": {what()}" if what else ""))
