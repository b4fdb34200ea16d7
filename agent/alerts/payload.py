"""Alertmanager's webhook payload (version 4), validated at the edge.

Alertmanager posts `{"version": "4", "status", "receiver", "groupKey", "groupLabels", "commonLabels",
"commonAnnotations", "externalURL", "truncatedAlerts", "alerts": [...]}`; each alert carries `status`,
`labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL` and `fingerprint`. Everything in labels and
annotations is untrusted text: it is stored and shown, never planned from (see `agent.alerts.mapping`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ALERTS = 200
MAX_TEXT = 4000  # per label or annotation value


def _bounded(d: dict[str, str], what: str) -> dict[str, str]:
    if len(d) > 100:
        raise ValueError(f"at most 100 {what}, got {len(d)}")
    for k, v in d.items():
        if len(k) > 200 or len(v) > MAX_TEXT:
            raise ValueError(f"{what} {k[:40]!r}: names up to 200 and values up to {MAX_TEXT} characters")
    return d


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = Field("", max_length=2000)
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return _bounded(v, "labels")

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, str]) -> dict[str, str]:
        return _bounded(v, "annotations")

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class AlertmanagerWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"] = "4"
    status: Literal["firing", "resolved"]
    receiver: str = Field("", max_length=200)
    groupKey: str = Field(min_length=1, max_length=2000)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = Field("", max_length=2000)
    truncatedAlerts: int = Field(0, ge=0)
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS)
