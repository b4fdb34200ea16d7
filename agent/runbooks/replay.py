"""Rebuild the simulated world of a run started from the command line, so it can resume in a new process.

The embedded simulator lives in memory: a `keel runbook run` process that pauses on an approval takes its
simulator with it. The simulator is deterministic, so `keel runbook resume` rebuilds it from the same
scenario and replays what the run did to it (its completed write actions, each at the simulated minute it
ran, and the time its waits let pass) before continuing. Nothing is re-decided or re-audited: these
actions already happened and are in the audit log.
"""

from __future__ import annotations

from typing import Any

from agent.runbooks.store import RunRecord
from tools.contract import WRITE_TOOLS

_ACTIONS = {"scale_service": "scale", "restart_service": "restart", "rollback_deployment": "rollback"}


def replay(sim: Any, run: RunRecord) -> int:
    """Apply the run's completed write steps to a fresh simulator at their minutes; return the minute reached."""
    minute = int(sim.minute)
    for step in run.steps:
        if step.minute is None:
            continue
        sim.run_until(step.minute)
        minute = max(minute, step.minute)
        if step.kind == "tool" and step.tool in WRITE_TOOLS and step.status == "ok" and step.tool in _ACTIONS:
            args = dict(step.args or {})
            service = args.pop("service")
            getattr(sim, _ACTIONS[step.tool])(service, *args.values())
    sim.run_until(minute)
    return minute
