"""The planner model card's per-kind table reads both eval JSON layouts (cases by method, or one list)."""

from __future__ import annotations

from finetune.slm.card import _kind_table


def _row(method: str, kind: str, ok: bool) -> dict[str, object]:
    return {"method": method, "kind": kind, "args_ok": ok}


def test_kind_table_from_a_list_of_cases_and_from_cases_by_method() -> None:
    rows = [_row("keel", "pronoun", True), _row("keel", "pronoun", False), _row("keel", "accept", True),
            _row("keyword", "pronoun", False), _row("keyword", "pronoun", False), _row("keyword", "accept", True)]
    table = _kind_table({"cases": rows})
    assert table[0] == "| kind | keel | keyword | n |"
    assert "| accept | 1.000 | 1.000 | 1 |" in table and "| pronoun | 0.500 | 0.000 | 2 |" in table
    by_method = {"keel": [r for r in rows if r["method"] == "keel"],
                 "keyword": [r for r in rows if r["method"] == "keyword"]}
    assert _kind_table({"cases": by_method}) == table
    assert _kind_table({"cases": []}) == []
