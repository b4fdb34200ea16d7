"""The server's fixed mmap threshold: large buffers freed after a busy moment go back to the OS."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
sys.path.insert(0, {root!r})
from agent.malloc_tuning import fix_mmap_threshold

def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024

fixed = fix_mmap_threshold({kb})
big = bytearray(4 << 20); del big  # a freed 4 MB block: by default glibc raises its mmap threshold past it
burst = [bytearray(2 << 20) for _ in range(100)]  # a busy moment: 200 MB of 2 MB buffers
pin = bytearray(200_000)  # allocated after them, so the heap cannot simply shrink from its top
del burst
print(fixed, rss_mb())
"""


def rss_after_burst(kb: int) -> tuple[str, float]:
    run = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), kb=kb)], capture_output=True,
                         text=True, timeout=60, check=True)
    fixed, mb = run.stdout.split()
    return fixed, float(mb)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_MMAP_THRESHOLD) is glibc's")
def test_buffers_freed_after_a_burst_leave_resident_memory_with_the_fixed_threshold_only() -> None:
    kept_default, default_mb = rss_after_burst(0)
    kept_fixed, fixed_mb = rss_after_burst(1024)
    assert (kept_default, kept_fixed) == ("False", "True")
    assert default_mb - fixed_mb > 150  # glibc's default keeps the ~200 MB; the fixed threshold returns it
