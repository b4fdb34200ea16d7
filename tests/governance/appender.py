"""A separate process appending to an audit log, for the concurrency and crash tests.

usage: python -m tests.governance.appender DB TAG COUNT SYNC [GO_FILE]
COUNT > 0: append COUNT request records tagged TAG (after GO_FILE exists, if given), then exit.
COUNT = 0: append action_started/action_result pairs forever; after the 50th pair, an action_started
for action "final" with no result, printing "final" once it is durable. Meant to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from governance.audit import SqliteAuditStore
from governance.chain import NewRecord


def main() -> None:
    db, tag, count, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    go = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    store = SqliteAuditStore(db, sync=sync)  # type: ignore[arg-type]
    while go is not None and not go.exists():
        time.sleep(0.005)
    if count > 0:
        for i in range(count):
            store.append(NewRecord("request", {"writer": tag, "i": i}, actor=tag))
        return
    i = 0
    while True:
        aid = f"{tag}-{i}"
        store.append(NewRecord("action_started", {"i": i}, action_id=aid, tool="scale_service", service="cartservice"))
        store.append(NewRecord("action_result", {"i": i, "status": "ok"}, action_id=aid, tool="scale_service"))
        i += 1
        if i == 50:
            store.append(NewRecord("action_started", {}, action_id="final", tool="restart_service", service="frontend"))
            print("final", flush=True)


if __name__ == "__main__":
    main()
