"""Loaded by `make test-future` (on PYTHONPATH) into every Python process the suite starts.

The suite runs under libfaketime with the wall clock a year ahead and the monotonic clock left
real (FAKETIME_DONT_FAKE_MONOTONIC=1): with a faked monotonic clock every timed lock wait
(`threading.Event.wait(1)`) computes its deadline a year ahead and never returns. With it left
real, libfaketime 0.9.10 (Debian 12) fails `clock_nanosleep`, which `time.sleep` uses, with
EINVAL. So `time.sleep` here waits in `select`, whose relative timeout libfaketime leaves alone.
"""

import os
import select
import time

if "FAKETIME" in os.environ:

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
