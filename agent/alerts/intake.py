"""AlertIntake: Alertmanager notifications -> incidents -> an investigation -> the Slack thread.

`receive` runs on the request: it deduplicates (an open incident of the same group key, or one already
holding one of the alerts' fingerprints, absorbs the notification), persists the incident, and queues its
work; it returns at once, well inside Alertmanager's webhook timeout. One worker thread then, in order per
incident:
- investigates: `AgentService.ask` as principal `alertmanager` (role operator) on a request built only from
  inventory names and a fixed phrase (`agent.alerts.mapping.request_text`), under the gate at the configured
  autonomy: anything above what an operator may run without a person waits for an approver;
- posts the summary (findings, oversight, approval buttons) to Slack;
- when every alert of the incident has resolved, posts a short update in the same thread.
Incidents whose investigation was queued or running when the process stopped are picked up at start.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from agent.alerts.mapping import Resolve, alert_services, request_text, symptom
from agent.alerts.payload import AlertmanagerWebhook
from agent.alerts.slack import ThreadPoster, alert_context, resolved_message
from agent.alerts.store import Incident, IncidentStore, new_incident_id
from agent.observe import metrics
from agent.observe.logs import log_context
from governance.gate import Principal
from runtime.conversation import Conversation

log = logging.getLogger(__name__)

PRINCIPAL = Principal(name="alertmanager", role="operator")
CHANNEL = "alertmanager"
MAX_QUEUE = 256


class AlertIntake:
    def __init__(self, service: Any, store: IncidentStore, poster: ThreadPoster, resolve: Resolve) -> None:
        self.service, self.store, self.poster, self.resolve = service, store, poster, resolve
        self._jobs: queue.Queue[tuple[str, str] | None] = queue.Queue(MAX_QUEUE)
        self._guard = threading.Lock()  # dedup and create happen as one step
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ request side
    def receive(self, hook: AlertmanagerWebhook) -> dict[str, Any]:
        """Record the notification; queue what it needs. Returns what happened to it."""
        now = time.time()
        firing = [a for a in hook.alerts if a.status == "firing"]
        fps = [a.fingerprint for a in hook.alerts]
        metrics.ALERTS.labels(status=hook.status).inc(len(hook.alerts))
        with self._guard:
            inc = self.store.open_for(hook.groupKey, fps)
            if inc is None and not firing:
                return {"action": "ignored", "incident": None,
                        "reason": "resolved alerts that belong to no open incident"}
            if inc is None:
                inc = self._open(hook, now)
                action = "opened"
            else:
                action = "deduplicated"
                self._merge(inc, hook)
            if all(a["status"] == "resolved" for a in inc.alerts):
                inc.status, inc.closed_at, action = "closed", now, "closed"
            self.store.save(inc)
        if action == "opened":
            metrics.INCIDENTS_OPENED.inc()
            self._enqueue("investigate", inc.id)
        elif action == "closed":
            self._enqueue("resolved", inc.id)
        with log_context(incident_id=inc.id):
            log.info("alertmanager notification %s: %s incident %s (%s)", hook.status, action, inc.id,
                     ", ".join(inc.services) or "no known service")
        return {"action": action, "incident": inc.id, "services": inc.services, "status": inc.status}

    def _open(self, hook: AlertmanagerWebhook, now: float) -> Incident:
        firing = [a for a in hook.alerts if a.status == "firing"]
        services = alert_services([a.labels for a in firing], self.resolve)
        phrase = symptom(a.name for a in firing)
        title = f"{phrase} on {', '.join(services)}" if services else f"{phrase} on an unknown service"
        inc = Incident(id=new_incident_id(), group_key=hook.groupKey, title=title[0].upper() + title[1:],
                       services=services, symptom=phrase, request=request_text(services, phrase), opened_at=now)
        self._merge(inc, hook)
        inc.conversation_id = f"alert-{inc.id}"
        return inc

    @staticmethod
    def _merge(inc: Incident, hook: AlertmanagerWebhook) -> None:
        """Add new alerts, update the status of known ones (by fingerprint)."""
        known = {a["fingerprint"]: a for a in inc.alerts}
        for a in hook.alerts:
            if a.fingerprint in known:
                known[a.fingerprint]["status"] = a.status
            else:  # (a payload may list one fingerprint twice: the later entry's status wins)
                known[a.fingerprint] = {"fingerprint": a.fingerprint, "name": a.name, "status": a.status,
                                        "starts_at": a.startsAt.isoformat(), "labels": dict(a.labels),
                                        "annotations": dict(a.annotations)}
                inc.alerts.append(known[a.fingerprint])

    # ------------------------------------------------------------------ worker
    def _enqueue(self, kind: str, incident_id: str) -> None:
        self.start()
        try:
            self._jobs.put_nowait((kind, incident_id))
        except queue.Full:
            log.error("alert work queue full: %s of incident %s not queued", kind, incident_id)
            self.store.update(incident_id, investigation={"status": "error", "error": "work queue full"})

    def start(self) -> AlertIntake:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="keel-alerts", daemon=True)
            self._worker.start()
        return self

    def recover(self) -> list[str]:
        """Queue the work of open incidents left queued or running (by a process that stopped)."""
        ids = [i.id for i in self.store.list(status="open", limit=500)
               if i.investigation.get("status") in ("queued", "running")]
        for i in reversed(ids):
            self._enqueue("investigate", i)
        return ids

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until the queued work is done (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._jobs.unfinished_tasks

    def close(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join(timeout=30)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                kind, incident_id = job
                with log_context(incident_id=incident_id):
                    if kind == "investigate":
                        self.investigate(incident_id)
                    else:
                        self.post_resolved(incident_id)
            except Exception:
                log.exception("alert work %s failed", job)
            finally:
                self._jobs.task_done()

    def investigate(self, incident_id: str) -> Incident:
        inc = self.store.update(incident_id, investigation={"status": "running", "started_at": time.time()})
        cid = inc.conversation_id or f"alert-{inc.id}"
        try:
            with log_context(conversation_id=cid):
                # the alert's services reach the planner in the request text (inventory names only) and, as the
                # services the alert labels, count as grounded targets
                reply = self.service.ask(inc.request, PRINCIPAL, cid, CHANNEL,
                                         context=Conversation(alert_services=tuple(inc.services)))
        except Exception as e:  # queue full, a paused conversation, a bug: recorded on the incident
            log.exception("investigation of %s failed", inc.id)
            return self.store.update(inc.id, investigation={"status": "error", "error": f"{type(e).__name__}: {e}"})
        from agent.summary.findings import findings_from_agent_steps
        from agent.summary.post import compose

        f = findings_from_agent_steps(inc.request, reply.steps, cid, inc.services[0] if inc.services else None)
        f.title = inc.title
        f.source = {"incident": inc.id, "conversation_id": cid, "principal": PRINCIPAL.name}
        message, _ = compose(f)  # template narrative: nothing from the alert goes through a model
        extra = alert_context(inc.id, [a["name"] for a in inc.alerts], _annotations(inc))
        message["blocks"] = message["blocks"][: 50 - len(extra)] + extra
        delivery = self.poster.post(message)
        found = {"status": reply.status, "finished_at": time.time(), "text": reply.text,
                 "root_cause": f.root_cause.service if f.root_cause else None,
                 "findings_status": f.status, "pending_approvals": [p.get("approval_id") for p in reply.pending],
                 "steps": [{"tool": s["tool"], "args": s["args"], "status": (s.get("result") or {}).get("status"),
                            "oversight": s.get("oversight")} for s in reply.steps]}
        slack = {**inc.slack, "thread": delivery.get("thread"), "summary": delivery}
        log.info("investigation of %s: %s, root cause %s, slack %s", inc.id, reply.status, found["root_cause"],
                 delivery["status"])
        return self.store.update(inc.id, investigation=found, slack=slack)

    def post_resolved(self, incident_id: str) -> Incident | None:
        inc = self.store.get(incident_id)
        if inc is None:
            return None
        msg = resolved_message(inc.id, inc.title, inc.opened_at, inc.closed_at or time.time(),
                               inc.investigation.get("root_cause"))
        delivery = self.poster.post(msg, thread=inc.slack.get("thread"))
        return self.store.update(inc.id, slack={**inc.slack, "resolved": delivery})


def _annotations(inc: Incident) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in inc.alerts:
        for k, v in (a.get("annotations") or {}).items():
            out.setdefault(k, v)
    return out
