"""How the fuzzy threshold and margin of `tools.resolution` were chosen: on our own name lists (`evals/names/`).

Each system has service names in one naming style, `typos` (a misspelt name and the service meant) and
`absent` (names of services the system does not have). For each (threshold, margin) a read's fuzzy match
is counted as right (a typo resolved to the service meant), wrong (to another service) or a false accept
(an absent name resolved to anything). The dev systems choose; the held-out systems (other styles: a
`ts-` prefix, camelCase/snake_case IoT) report. `python -m evals.resolution_names [--json PATH]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tools import resolution
from tools.inventory import from_names

NAMES = Path(__file__).resolve().parent / "names" / "name_lists.json"
THRESHOLDS = (80.0, 84.0, 86.0, 88.0, 90.0, 92.0, 95.0)
MARGINS = (0.0, 4.0, 8.0, 12.0)


def score(systems: dict[str, Any], threshold: float, margin: float) -> dict[str, float]:
    old = resolution.FUZZY_MIN, resolution.FUZZY_MARGIN
    resolution.FUZZY_MIN, resolution.FUZZY_MARGIN = threshold, margin
    try:
        right = wrong = false = n_typo = n_absent = 0
        for spec in systems.values():
            inv = from_names(spec["names"], "names")
            for asked, meant in spec["typos"]:
                n_typo += 1
                r = resolution.resolve(asked, inv, for_write=False)
                right += r.name == meant
                wrong += r.name is not None and r.name != meant
            for asked in spec["absent"]:
                n_absent += 1
                false += resolution.resolve(asked, inv, for_write=False).name is not None
    finally:
        resolution.FUZZY_MIN, resolution.FUZZY_MARGIN = old
    return {"typo_recall": round(right / max(1, n_typo), 3), "typo_wrong": round(wrong / max(1, n_typo), 3),
            "false_accept": round(false / max(1, n_absent), 3), "n_typo": n_typo, "n_absent": n_absent}


def main(argv: list[str]) -> None:
    data = json.loads(NAMES.read_text())
    rows: list[dict[str, Any]] = []
    for t in THRESHOLDS:
        for m in MARGINS:
            rows.append({"threshold": t, "margin": m, "dev": score(data["dev"], t, m),
                         "heldout": score(data["heldout"], t, m)})
    print(f"{'thr':>5} {'margin':>6} | dev recall wrong false | heldout recall wrong false")
    for r in rows:
        d, h = r["dev"], r["heldout"]
        mark = " <- shipped" if (r["threshold"], r["margin"]) == (resolution.FUZZY_MIN, resolution.FUZZY_MARGIN) else ""
        print(f"{r['threshold']:5.0f} {r['margin']:6.0f} | {d['typo_recall']:10.3f} {d['typo_wrong']:5.3f} "
              f"{d['false_accept']:5.3f} | {h['typo_recall']:14.3f} {h['typo_wrong']:5.3f} "
              f"{h['false_accept']:5.3f}{mark}")
    if "--json" in argv:
        path = Path(argv[argv.index("--json") + 1])
        path.write_text(json.dumps({"eval": "resolution_names", "dataset": str(NAMES),
                                    "config": {"shipped": [resolution.FUZZY_MIN, resolution.FUZZY_MARGIN]},
                                    "results": {f"t{r['threshold']:.0f}_m{r['margin']:.0f}": {
                                        **{f"dev_{k}": v for k, v in r["dev"].items()},
                                        **{f"heldout_{k}": v for k, v in r["heldout"].items()}} for r in rows}},
                                   indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
