"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis, in-process ASGI): no 5xx, no unhandled error.

Every operation in the schema gets generated requests (valid and invalid) with an approver token, the
most privileged role, so requests get past authentication into the handlers; each must be answered with
a status below 500. The app runs on the shipped keyword planner and the embedded simulator.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from agent.composition import build_service
from agent.http.app import create_app
from agent.planner import load_planner
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "evals" / "scenarios" / "e2e" / "crash-cartservice.yaml"
TOKEN = "fuzz-approver-token-0123456789"
EXAMPLES = int(os.environ.get("KEEL_FUZZ_EXAMPLES", "30"))


def _app():  # type: ignore[no-untyped-def]
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="keel-fuzz-"))
    cfg = Settings(home=home, tokens=f"{TOKEN}=approver,fuzz-viewer-token-0123=viewer", sim_tick_s=3600.0,
                   slack_signing_secret="fuzz-signing-secret")
    service = build_service(cfg, SCENARIO, planner=load_planner("keyword"), live=False)
    return create_app(cfg, service)


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
SEEN: Counter[int] = Counter()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    SEEN[response.status_code // 100 * 100] += 1
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"


def test_the_fuzzer_got_past_authentication() -> None:
    if not SEEN:
        import pytest

        pytest.skip("run with the fuzz test to check what it reached")
    print(f"\nAPI fuzz: {sum(SEEN.values())} requests, by status class {dict(sorted(SEEN.items()))}")
    assert SEEN[200] >= 20 and SEEN[400] >= 20 and SEEN[500] == 0


def test_the_schema_covers_the_api() -> None:
    paths = set(APP.openapi()["paths"])
    for p in ("/v1/chat/completions", "/v1/models", "/api/approvals", "/api/approvals/{approval_id}/approve",
              "/api/audit", "/api/audit/verify", "/api/incidents", "/healthz"):
        assert p in paths, p
