"""Planner training data: every generated call satisfies the contract, splits hold out whole templates."""

from __future__ import annotations

import random

import pytest

from agent.planner.validate import check_call
from finetune.slm.data import FAMILIES, is_dev_family, render
from finetune.slm.dataset import build_dataset
from finetune.slm.investigations import SYMPTOMS, investigation_examples
from finetune.slm.trajectories import trajectory_examples
from runtime.prompt import decode_call
from tools.contract import TOOLS


@pytest.fixture(scope="module")
def data() -> tuple[list[dict], list[dict]]:
    return build_dataset(seed=3, n_single=1500, n_dev=300, n_traj=40, n_summary=30, n_investigations=30)


def test_every_template_renders_a_valid_call() -> None:
    rng = random.Random(0)
    for tool, fams in FAMILIES.items():
        for template in fams:
            for _ in range(3):
                request, args = render(tool, template, rng)
                assert request.strip() and "{" not in request.replace("{}", "")
                checked = check_call(tool, args)
                assert checked.ok, (tool, template, args, checked.error)


def test_targets_decode_to_contract_calls(data: tuple[list[dict], list[dict]]) -> None:
    train, dev = data
    for e in train + dev:
        if e["kind"] == "summary":
            assert e["prompt"].startswith("Findings: ") and e["target"].endswith("\n")
            continue
        tool, args = decode_call(e["target"])
        assert tool == e["tool"] and check_call(tool, args).ok, e


def test_dev_templates_never_in_train(data: tuple[list[dict], list[dict]]) -> None:
    train, dev = data
    train_fams = {e["family"] for e in train if e["kind"] == "single"}
    dev_fams = {e["family"] for e in dev if e["kind"] == "single"}
    assert train_fams and dev_fams and not (train_fams & dev_fams)
    assert not ({e["prompt"] for e in train} & {e["prompt"] for e in dev})
    for tool, fams in FAMILIES.items():
        assert any(not is_dev_family(tool, i) for i in range(len(fams))), tool
        assert any(is_dev_family(tool, i) for i in range(len(fams))), tool


def test_training_covers_every_tool_and_argument(data: tuple[list[dict], list[dict]]) -> None:
    train, _ = data
    seen: dict[str, set[str]] = {}
    for e in train:
        if e["kind"] != "summary":
            seen.setdefault(e["tool"], set()).update(e["args"])
    # run 7's data (reproduced here) predates check_health; planner v2's dialogue data carries it (below)
    tools = {t: spec for t, spec in TOOLS.items() if t != "check_health"}
    assert set(tools) | {"respond"} <= set(seen)
    for tool, spec in tools.items():
        assert set(spec.args.model_fields) <= seen[tool], (tool, seen[tool])


def test_v2_dialogue_data_asks_for_check_health() -> None:
    from finetune.slm.dialogue import dialogue_example

    rng = random.Random(5)
    rows = [dialogue_example(rng, "train", "health") for _ in range(40)]
    calls = [decode_call(r["target"]) for r in rows if r is not None]
    assert calls and all(tool == "check_health" for tool, _ in calls)
    assert any("service" in args for _, args in calls) and any("service" not in args for _, args in calls)


def test_trajectories_follow_observations() -> None:
    ex = trajectory_examples(random.Random(1), 80, "train")
    multi = [e for e in ex if "\nSeen: " in e["prompt"]]
    assert multi, "scripts must record steps after observations"
    assert any(e["tool"] == "respond" for e in multi)
    assert any(e["tool"] != "respond" for e in multi)


def test_investigations_act_on_the_analysis_and_name_the_root_cause() -> None:
    """After root_cause_analysis, the next write is the one the top candidate's signature suggests, on that
    service; the answer names it as the root cause."""
    ex = investigation_examples(random.Random(4), 40, "train")
    writes = 0
    for e in ex:
        seen = [line for line in e["prompt"].splitlines() if line.startswith("Seen: root_cause_analysis")]
        if not seen or "->" not in seen[0]:
            continue
        top, _, rest = seen[0].split(": ", 2)[-1].partition(" ")
        action = rest.split("->")[1].split(";")[0].strip()
        if e["tool"] in ("restart_service", "rollback_deployment", "scale_service"):
            writes += 1
            assert e["tool"] == action and e["args"]["service"] == top, e
        if e["tool"] == "respond":
            assert e["args"]["text"].startswith(f"Root cause: {top} "), e
    assert writes >= 10


def test_investigation_request_families_split_train_and_dev() -> None:
    def families(seed: int, split: str) -> set[str]:
        return {e["family"] for e in investigation_examples(random.Random(seed), 30, split)
                if e["family"].startswith("symptom")}

    train, dev = families(5, "train"), families(6, "dev")
    assert train and dev and not (train & dev)
    assert all(is_dev_family("symptom", int(f.split(".")[1])) for f in dev)
    assert len(SYMPTOMS) >= 30
