"""Child processes that do not outlive their parent: the one place Patron asks Linux (prctl
PR_SET_PDEATHSIG) to send a child SIGTERM when the process that started it dies, even by SIGKILL.

`patron serve` (its supervisor) and `patron worker --concurrency N` both start children with it.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """What a child runs before exec to get SIGTERM if its parent is killed: pass it as Popen's
    `preexec_fn`.

    Linux only (prctl); elsewhere None, and whoever started the children must stop them on every
    orderly exit. libc is looked up here, in the parent, so the child between fork and exec only
    makes one call.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
