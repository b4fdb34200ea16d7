"""Request traces for the scaling policy: reading with the clock, train/test splits, rescaling, augmentation.

Rescaling: a trace's request counts are multiplied so that its 99th-percentile minute (over the whole file,
or the chosen/summed column) offers the controlled service 60 % of its capacity at maximum replicas. The
rare minutes above that percentile can approach or exceed full capacity. Load enters at the frontend, so
the entry rate is that offered load divided by the service's visits per request.

Splits: a trace of at least 14 days is split by whole weeks: the last 7 days are the test split and
everything before them the training split (for the NASA July 1995 trace: weeks 1-3 train, week 4
test). A shorter trace is test data only (the Azure Functions day: never used in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.backends.sim.scenario import read_trace
from tools.services import current_topology
from tools.topology import Topology

REFERENCE_QUANTILE = 99.0
PEAK_FRACTION = 0.6
DAY = 1440
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class Trace:
    """Per-minute request counts and the clock time (minutes after midnight) of the first minute."""

    counts: np.ndarray
    clock0: int
    name: str

    def __len__(self) -> int:
        return len(self.counts)


def load_trace(path: Path, column: str | None = None) -> Trace:
    """Read `minute,[timestamp,]requests` or one-column-per-function files (`column` picks one, else summed)."""
    counts = read_trace(path, column)
    clock0 = 0
    with path.open() as fh:
        header = fh.readline().strip().split(",")
        first = fh.readline().strip().split(",")
    if "timestamp" in header and len(first) == len(header):
        clock0 = _clock(first[header.index("timestamp")])
    name = path.name if column is None else f"{path.name}:{column}"
    return Trace(np.nan_to_num(np.asarray(counts, dtype=float)), clock0, name)


def _clock(stamp: str) -> int:
    """Minutes after midnight of a timestamp (ISO text or epoch seconds); 0 when it cannot be read."""
    import pandas as pd

    stamp = stamp.strip().strip('"')
    try:
        value = float(stamp)
        t = pd.Timestamp(value, unit="s")
    except ValueError:
        try:
            t = pd.Timestamp(stamp)
        except (ValueError, TypeError):
            return 0
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return 0
    if pd.isna(t):
        return 0
    return int(t.hour * 60 + t.minute)


def split_bounds(n: int, split: str) -> tuple[int, int]:
    """[start, end) minutes of a split; see the module docstring."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if split == "all":
        return 0, n
    if n >= 14 * DAY:
        cut = n - 7 * DAY if n % DAY == 0 else (n // DAY - 6) * DAY
        return (0, cut) if split == "train" else (cut, n)
    if split == "train":
        raise ValueError(f"a trace of {n / DAY:.1f} days has no training split (needs at least 14 days)")
    return 0, n


def has_train_split(n: int) -> bool:
    return n >= 14 * DAY


def entry_scale(counts: np.ndarray, service: str, peak_fraction: float = PEAK_FRACTION,
                topology: Topology | None = None) -> float:
    """Factor turning request counts into entry requests/s for `service` (see the module docstring)."""
    ref = float(np.percentile(counts, REFERENCE_QUANTILE))
    if not np.isfinite(ref) or ref <= 0:
        ref = float(counts.max())
    if ref <= 0:
        raise ValueError("trace has no positive request counts")
    topo = topology or current_topology()
    i = topo.idx[service]
    a = topo.arrays
    target_rps = peak_fraction * topo.services[i].max_replicas * a.capacity[i]
    return target_rps / a.visits[i] / ref


def describe_scaling(service: str, scale: float, peak_fraction: float = PEAK_FRACTION,
                     topology: Topology | None = None) -> str:
    spec = (topology or current_topology()).spec(service)
    return (f"counts x{scale:.4g} -> entry rps: the trace's p{REFERENCE_QUANTILE:g} minute offers {service} "
            f"{peak_fraction:.0%} of its capacity at max replicas ({spec.max_replicas} x "
            f"{spec.capacity_rps:g} rps)")


PERIODS = (15, 20, 30, 60)  # minutes between scheduled spikes (periods dividing the hour)


def augment(load: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training-only variations: level, random bursts, flash crowds and scheduled spikes.

    Scheduled spikes stand for cron-like jobs: every `PERIODS` minutes at a random phase, each occurrence
    present with a random probability, one to three minutes at 1.5-4x. None of this is fitted to a test trace.
    """
    x = load * rng.uniform(0.5, 1.3)
    n = len(x)
    t = np.arange(n)
    if rng.random() < 0.5:  # short bursts: a few minutes at 1.3-2x
        for _ in range(int(rng.integers(1, max(2, n // 60)))):
            s, d = int(rng.integers(0, n)), int(rng.integers(1, 6))
            x[s : s + d] *= rng.uniform(1.3, 2.0)
    if rng.random() < 0.3:  # a flash crowd: fast rise, slow exponential decay
        s = int(rng.integers(0, n))
        rise, decay, amp = rng.uniform(1, 6), rng.uniform(10, 90), rng.uniform(0.5, 2.5)
        dt = t - s
        shape = np.where(dt < 0, 0.0, np.where(dt < rise, dt / rise, np.exp(-(dt - rise) / decay)))
        x = x * (1.0 + amp * shape)
    if rng.random() < 0.3:  # scheduled spikes
        period = int(rng.choice(PERIODS))
        keep, width = rng.uniform(0.5, 1.0), int(rng.integers(1, 4))
        for s in range(int(rng.integers(period)), n, period):
            if rng.random() < keep:
                x[s : s + width] *= rng.uniform(1.5, 4.0)
    return x
