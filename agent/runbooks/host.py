"""Running runbooks inside a long-lived process (the HTTP server, Slack): a worker pool, the tool context
with a waiter that lets the live simulator tick, and a watcher that resumes runs once their approval is
decided (by HTTP, Slack, or `keel approvals` in another process)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from agent.runbooks.engine import RunbookEngine
from agent.runbooks.model import RunbookError
from agent.runbooks.store import RunRecord, RunStore
from governance.gate import Principal
from tools.backends.base import ToolContext

log = logging.getLogger(__name__)


class RunbookHost:
    def __init__(self, engine: RunbookEngine, ctx: ToolContext, *, tick_s: float | None = None,
                 poll_s: float = 2.0, workers: int = 2) -> None:
        """`tick_s`: real seconds per simulated minute when a ticker advances the simulator (a `wait` step
        then sleeps that long per minute instead of stepping the simulator itself)."""
        self.engine = engine
        self._ctx = ctx
        self.tick_s = tick_s
        self.poll_s = poll_s
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keel-runbook")
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def ctx(self) -> ToolContext:
        if self.tick_s is None:
            return self._ctx
        tick = self.tick_s

        def wait(seconds: int) -> None:
            self._stop.wait(max(1, seconds // 60) * tick)

        return self._ctx.with_deps(wait=wait)

    # ------------------------------------------------------------------ work
    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self.pool.submit(self._guard, fn, *args)

    @staticmethod
    def _guard(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("runbook work failed")
            raise

    def start(self, name: str, params: dict[str, Any], principal: Principal) -> tuple[RunRecord, Future[RunRecord]]:
        """Create the run now (parameters validated, id known) and execute it in the pool."""
        run = self.engine.create(name, params, principal, {"host": "server"})
        return run, self.submit(self.engine.execute, run.id, self.ctx())

    def resume(self, run_id: str) -> Future[RunRecord]:
        self.engine.get_run(run_id)  # unknown run -> RunbookError now, not in the pool
        return self.submit(self.engine.resume, run_id, self.ctx())

    def sweep(self) -> list[str]:
        """Resume every paused run whose approval is no longer pending; return their ids."""
        started = []
        self.engine.gate.expire_due()
        for run in self.engine.store.list(status="paused", limit=200):
            step = run.pending
            if step is None or step.approval_id is None:
                continue
            approval = self.engine.gate.approvals.get(step.approval_id)
            if approval is not None and approval.status != "pending":
                try:
                    self.resume(run.id)
                    started.append(run.id)
                except RunbookError:
                    log.warning("could not resume run %s", run.id, exc_info=True)
        return started

    # ------------------------------------------------------------------ the watcher
    def start_watcher(self) -> None:
        if self.poll_s <= 0 or self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch, name="keel-runbook-watcher", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sweep()
            except Exception:  # a store hiccup must not kill the watcher
                log.warning("runbook resume sweep failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)



def service_host(service: Any, settings: Any) -> RunbookHost:
    """The runbook host of an agent service (its watcher not started): an engine over the service's gate and
    `$KEEL_HOME/runbooks.db`, the service's live tool context with the planner as summary model (under the
    agent's model lock) and the Slack webhook, and the simulator's tick when a ticker advances it."""
    from agent.summary.narrative import LockedSummarizer

    engine = RunbookEngine(service.gate, RunStore(settings.ensure_home() / "runbooks.db"))
    live = service.live
    tick = live.info.get("tick_s") if getattr(live, "ticker", None) is not None else None
    summarizer = LockedSummarizer(service.planner, service.nodes.planner_lock())
    ctx = live.tools.with_deps(summarizer=summarizer, slack_webhook_url=settings.slack_webhook_url.get_secret_value())
    return RunbookHost(engine, ctx, tick_s=tick, poll_s=settings.runbook_resume_poll_s)
