"""Large allocations go back to the OS when freed: a fixed glibc mmap threshold for long-running servers.

glibc serves a large allocation (>= 128 KB at first) with its own mmap and unmaps it on free, but each such free
raises the threshold (up to 32 MB), after which large buffers come from the heap and stay there when freed. A
server's busiest moment (ten users at once: prompts, analyses, batched decoding) then left its high-water mark
in resident memory for good: about 170 MB that the 10-minute soak counted as growth. `fix_mmap_threshold(kb)`
calls `mallopt(M_MMAP_THRESHOLD, kb * 1024)`, which also turns the adjustment off; `build_service` calls it
before the planner and the server allocate. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc malloc.h


def fix_mmap_threshold(kb: int) -> bool:
    """Serve allocations of at least `kb` KiB with mmap, always (0 keeps glibc's default). True if set."""
    if kb <= 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, kb * 1024))
