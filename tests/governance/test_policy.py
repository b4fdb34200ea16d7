"""Policy loading: the shipped default, files and keel.toml overrides, and precise errors for bad policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import get_settings
from governance.policy import DEFAULT_POLICY_PATH, PolicyError, deep_merge, load_policy


def test_default_policy_loads() -> None:
    p = load_policy()
    assert p.oversight[3]["medium"] == "notification" and p.oversight[3]["high"] == "approval"
    assert all(p.oversight[lv]["critical"] == "blocking" for lv in range(6))
    assert p.tool_risk["run_runbook"] == "high"
    assert p.rate_limit_window_s == 600 and p.rate_limit_max_writes == 3
    assert p.self_approval_max_risk == "medium"
    assert len(p.digest) == 16 and p.source == "default"


def test_policy_file_is_deep_merged(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text("rate_limit: {max_writes: 5}\noversight:\n  3: {medium: approval}\n")
    p = load_policy(f)
    assert p.rate_limit_max_writes == 5 and p.rate_limit_window_s == 600
    assert p.oversight[3] == {"low": "logging", "medium": "approval", "high": "approval", "critical": "blocking"}
    assert p.digest != load_policy().digest


def test_keel_toml_policy_table_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "extra.yaml").write_text("risk: {protected_services: [paymentservice]}\n")
    (tmp_path / "keel.toml").write_text(
        'policy_file = "extra.yaml"\n\n[policy.rate_limit]\nmax_writes = 1\n\n'
        '[policy.oversight.4]\nmedium = "notification"\n'
    )
    monkeypatch.chdir(tmp_path)
    s = get_settings()
    p = load_policy(s.policy_file, s.policy)
    assert p.protected_services == frozenset({"paymentservice"})
    assert p.rate_limit_max_writes == 1
    assert p.oversight[4]["medium"] == "notification" and p.oversight[4]["high"] == "approval"
    assert "keel.toml" in p.source


@pytest.mark.parametrize(("override", "message"), [
    ({"oversight": {"2": {"critical": "approval"}}}, "critical must be blocking"),
    ({"oversight": {"2": {"medium": "logging", "low": "approval"}}}, "must not decrease"),
    ({"oversight": {"7": {"low": "logging"}}}, "autonomy levels"),
    ({"oversight": {"3": {"medium": "shout"}}}, "oversight.3.medium"),
    ({"risk": {"tools": {"delete_cluster": "low"}}}, "unknown tools"),
    ({"risk": {"tools": {"query_metrics": "high"}}}, "read tools are low"),
    ({"risk": {"protected_services": ["db"]}}, "unknown services"),
    ({"risk": {"scaling": {"max_step_ratio": -1}}}, "risk.scaling.max_step_ratio"),
    ({"replicas": {"default": {"min": 5, "max": 2}}}, "min (5) is above max (2)"),
    ({"rate_limit": {"window": "soon"}}, "rate_limit.window"),
    ({"approvals": {"self_approval_max_risk": "critical"}}, "approvals.self_approval_max_risk"),
    ({"surprise": 1}, "surprise: unknown key"),
])
def test_bad_policies_name_the_field(override: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_policy(overrides=override)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("oversight: [1, 2\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    bad.write_text("- a list\n")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(bad)


def test_deep_merge_replaces_lists_and_scalars() -> None:
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_shipped_default_is_packaged() -> None:
    assert DEFAULT_POLICY_PATH.is_file()
