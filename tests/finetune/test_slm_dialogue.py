"""Planner v2 data: generated inventories (no outside-check names, held-out stems), copied spans, dialogue kinds."""

from __future__ import annotations

import random

from finetune.slm import names
from finetune.slm.dialogue import KIND_WEIGHTS, NOTHING_PENDING, WHY_PREFIX, dialogue_examples, inventory_single
from finetune.slm.phrasing import WHICH_SERVICE
from runtime.prompt import decode_call

OUTSIDE = ("ts-travel-service", "compose-post", "home-timeline", "user-timeline", "geo", "rate", "reservation",
           "profile", "search", "media", "url-shorten", "social-graph", "movie-info")


def test_generated_names_avoid_the_outside_check_systems_and_split_stems() -> None:
    rng = random.Random(0)
    train = {n for _ in range(300) for n in names.inventory(rng, "train")}
    dev = {n for _ in range(100) for n in names.inventory(rng, "dev")}
    assert len(train) > 1500 and len(dev) > 500
    for n in train | dev:
        assert names.allowed(n), n
        assert n.lower() not in OUTSIDE
    style_words = {w for fmts in names.STYLES.values() for f in fmts
                   for w in names._words(f.replace("{", " ").replace("}", " "))}
    train_words = {w for n in train for w in names._words(n)} - style_words
    dev_words = {w for n in dev for w in names._words(n)} - style_words
    assert not train_words & set(names._DEV_STEMS)
    assert not dev_words & set(names._TRAIN_STEMS)
    assert any("-v" in n for n in dev) and not any(n.endswith(("-v1", "-v2", "-v3", "-v4")) for n in train)
    assert not names.allowed("ts-order-service") and not names.allowed("home-timeline-api")


def test_single_step_targets_copy_the_span_written_in_the_request() -> None:
    rng = random.Random(1)
    for _ in range(300):
        ex = inventory_single(rng, "train")
        svc = ex["args"].get("service")
        if svc is not None:
            assert svc in ex["prompt"], (svc, ex["prompt"])
        assert decode_call(ex["target"])[0] == ex["tool"]


def test_dialogue_kinds_and_their_targets() -> None:
    rows = dialogue_examples(random.Random(2), 600, "train")
    kinds = {r["kind"] for r in rows}
    assert kinds == set(KIND_WEIGHTS)
    for r in rows:
        prompt, tool, args = r["prompt"], r["tool"], r["args"]
        earlier = [ln for ln in prompt.splitlines() if ln.startswith("Earlier:")]
        if r["kind"] == "unnamed":
            assert (tool, args["text"]) == ("respond", WHICH_SERVICE)
            assert not any("| about " in ln for ln in earlier)  # nothing to point at
        if r["kind"] in ("pronoun", "correct_tool", "ellipsis"):
            assert f"| about {args['service']}" in earlier[-1]  # the entity the planner sees
        if r["kind"] == "accept" and tool != "respond":
            assert any(f"| next {decode_call(r['target'])[0]}" in ln for ln in earlier)
        if r["kind"] == "accept" and tool == "respond":
            assert args["text"] == NOTHING_PENDING and not any("| next " in ln for ln in earlier)
        if r["kind"] == "why" and earlier:
            assert args["text"].removeprefix(WHY_PREFIX) in earlier[-1]
        if r["kind"] in ("same_for", "correct_name") and r["services"]:  # generated names: the span is copied
            assert args["service"] in prompt.split("Request:")[1]


def test_dev_dialogue_uses_held_out_phrasings() -> None:
    train = {r["prompt"].split("Request: ")[1] for r in dialogue_examples(random.Random(3), 400, "train")
             if r["kind"] in ("accept", "why", "unnamed")}
    dev = {r["prompt"].split("Request: ")[1] for r in dialogue_examples(random.Random(4), 200, "dev")
           if r["kind"] in ("accept", "why", "unnamed")}
    assert dev and not (dev & train)
