"""Fault types the simulator can inject, and the Fault record (service, start, duration, intensity)."""

from __future__ import annotations

from dataclasses import dataclass

FAULT_TYPES: dict[str, str] = {
    "cpu_hog": "a noisy process eats CPU: capacity falls, CPU and latency rise (mitigated by scaling out)",
    "memory_leak": "memory grows until the container is OOM-killed and restarts (cleared by restart_service)",
    "latency_injection": "network delay added to every request of the service; callers slow down too",
    "error_burst": "a bad deploy returns 5xx for a share of requests (cleared by rollback_deployment)",
    "crash": "the service crash-loops and serves nothing (cleared by restart_service)",
    "traffic_spike": "incoming load to the service multiplies (mitigated by scaling out)",
}

# Which write action clears which fault type.
CLEARED_BY: dict[str, str] = {"memory_leak": "restart", "crash": "restart", "error_burst": "rollback"}


@dataclass
class Fault:
    type: str
    service: str
    start: int  # minute
    duration: int  # minutes
    intensity: float = 0.8
    cleared_at: int | None = None

    def __post_init__(self) -> None:
        if self.type not in FAULT_TYPES:
            raise ValueError(f"unknown fault type {self.type!r}; allowed: {', '.join(FAULT_TYPES)}")
        if not 0.0 < self.intensity <= 1.0:
            raise ValueError(f"fault intensity must be in (0, 1], got {self.intensity}")
        if self.start < 0 or self.duration <= 0:
            raise ValueError("fault start must be >= 0 and duration > 0 minutes")

    def active(self, minute: int) -> bool:
        if minute < self.start or minute >= self.start + self.duration:
            return False
        return self.cleared_at is None or minute < self.cleared_at
