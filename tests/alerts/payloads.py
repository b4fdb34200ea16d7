"""Alertmanager webhook payloads (version 4) as Alertmanager sends them."""

from __future__ import annotations

from typing import Any


def alert(fingerprint: str, labels: dict[str, str], annotations: dict[str, str] | None = None,
          status: str = "firing") -> dict[str, Any]:
    return {"status": status, "labels": labels, "annotations": annotations or {},
            "startsAt": "2026-12-05T04:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-05T04:10:00.000Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": fingerprint}


def webhook(group_key: str, alerts: list[dict[str, Any]], status: str | None = None) -> dict[str, Any]:
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    common = alerts[0]["labels"] if alerts else {}
    return {"version": "4", "status": status, "receiver": "keel", "groupKey": group_key,
            "groupLabels": {"alertname": common.get("alertname", "")}, "commonLabels": common,
            "commonAnnotations": alerts[0]["annotations"] if alerts else {}, "externalURL": "http://am:9093",
            "truncatedAlerts": 0, "alerts": alerts}
