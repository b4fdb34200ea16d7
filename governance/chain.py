"""The audit hash chain, independent of storage: canonical JSON, record hashes, streaming verification.

A record's body is the canonical JSON (`json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`) of {seq, ts, kind, actor, conversation_id, action_id, tool, service, data}.
Its hash is SHA-256 over (previous record's hash + body), hex-encoded; the first record links to
GENESIS (64 zeros). Stores keep each field in its own column and `data` as canonical JSON text;
verification rebuilds the body from the columns by string concatenation (`body_text`, equal to
`canonical_json(body)` without parsing anything), so an edit to any column breaks that record's hash.

A hash chain alone cannot see its tail cut off, so every store also keeps an anchor, the (seq, hash)
of the newest record, written in the same transaction as the record; verification compares the
chain's end with it. See `governance.audit` for where the anchor lives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, Literal, NamedTuple

GENESIS = "0" * 64
KINDS = (
    "request", "proposal", "decision", "approval", "denial", "expiry", "action_started", "action_result", "error",
)
RecordKind = Literal[
    "request", "proposal", "decision", "approval", "denial", "expiry", "action_started", "action_result", "error",
]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _s(v: str | None) -> str:
    return "null" if v is None else encode_basestring(v)


def body_text(seq: int, ts: float, kind: str, actor: str | None, conversation_id: str | None,
              action_id: str | None, tool: str | None, service: str | None, data_json: str) -> str:
    """canonical_json of the record body, built from its fields (`data_json` already canonical), keys sorted."""
    return (f'{{"action_id":{_s(action_id)},"actor":{_s(actor)},"conversation_id":{_s(conversation_id)},'
            f'"data":{data_json},"kind":{_s(kind)},"seq":{int(seq)},"service":{_s(service)},'
            f'"tool":{_s(tool)},"ts":{float(ts)!r}}}')


@dataclass(frozen=True)
class NewRecord:
    """A record to append; the store assigns seq, ts (unless given), prev_hash and hash."""

    kind: RecordKind
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None
    conversation_id: str | None = None
    action_id: str | None = None
    tool: str | None = None
    service: str | None = None
    ts: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed: {', '.join(KINDS)}")

    def body(self, seq: int, ts: float) -> dict[str, Any]:
        return {
            "seq": seq, "ts": round(ts, 6), "kind": self.kind, "actor": self.actor,
            "conversation_id": self.conversation_id, "action_id": self.action_id, "tool": self.tool,
            "service": self.service, "data": dict(self.data),
        }


class StoredRecord(NamedTuple):
    """One stored record: its fields, `data_json` (canonical JSON of data), the link and the hash.

    A named tuple: verification builds one per row, and tuples are cheap to make."""

    seq: int
    ts: float
    kind: str
    actor: str | None
    conversation_id: str | None
    action_id: str | None
    tool: str | None
    service: str | None
    data_json: str
    prev_hash: str
    hash: str

    @property
    def body(self) -> str:
        """The exact text that was hashed (with prev_hash in front)."""
        return body_text(self.seq, self.ts, self.kind, self.actor, self.conversation_id, self.action_id,
                         self.tool, self.service, self.data_json)

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.data_json))

    def to_dict(self) -> dict[str, Any]:
        """The record for export: the hashed body's fields plus prev_hash and hash."""
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "actor": self.actor,
                "conversation_id": self.conversation_id, "action_id": self.action_id, "tool": self.tool,
                "service": self.service, "data": self.data, "prev_hash": self.prev_hash, "hash": self.hash}


def seal(rec: NewRecord, seq: int, ts: float, prev_hash: str) -> StoredRecord:
    """Give a new record its place in the chain."""
    ts = round(ts, 6)
    data_json = canonical_json(dict(rec.data))
    body = body_text(seq, ts, rec.kind, rec.actor, rec.conversation_id, rec.action_id, rec.tool, rec.service,
                     data_json)
    return StoredRecord(seq, ts, rec.kind, rec.actor, rec.conversation_id, rec.action_id, rec.tool, rec.service,
                        data_json, prev_hash, record_hash(prev_hash, body))


@dataclass(frozen=True)
class Broken:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.reason}"


@dataclass(frozen=True)
class Incomplete:
    seq: int
    action_id: str
    tool: str | None
    service: str | None
    ts: float


@dataclass
class VerifyReport:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    anchor: tuple[int, str] | None
    broken: Broken | None = None
    incomplete: list[Incomplete] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "anchor": {"seq": self.anchor[0], "hash": self.anchor[1]} if self.anchor else None,
            "broken": {"seq": self.broken.seq, "reason": self.broken.reason} if self.broken else None,
            "incomplete": [i.__dict__ for i in self.incomplete],
        }


def _row_problem(row: StoredRecord, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        if row.seq > expected_seq:
            missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}..{row.seq - 1}"
            return f"sequence gap: record(s) {missing} missing before {row.seq}"
        return f"sequence out of order: found {row.seq} where {expected_seq} was expected"
    if row.prev_hash != prev_hash:
        if expected_seq == 1:
            return "broken link: the first record does not start from the genesis hash"
        return (f"broken link: prev_hash does not match record {expected_seq - 1}'s hash "
                f"(record {expected_seq - 1} was altered, replaced or inserted, or this one's prev_hash edited)")
    try:
        body = row.body
    except (TypeError, ValueError):
        return "hash mismatch: a field has the wrong type"
    if record_hash(prev_hash, body) != row.hash:
        return "hash mismatch: SHA-256(prev_hash + body) differs from the stored hash (a field or the hash edited)"
    return None


def verify_chain(
    rows: Iterable[StoredRecord], anchor: tuple[int, str] | None, expect: tuple[int, str] | None = None
) -> VerifyReport:
    """Walk the rows in seq order (streamed); stop at the first broken record, then check the anchor.

    `expect` is an externally kept checkpoint (seq, hash): the record at that seq must still carry that
    hash. Also lists actions started without a result (`incomplete`) among the records verified.
    """
    prev_hash, expected, count = GENESIS, 1, 0
    open_actions: dict[str, Incomplete] = {}
    broken: Broken | None = None
    sha256 = hashlib.sha256
    for row in rows:
        # fast path inlined (this loop bounds verification speed); _row_problem explains any failure
        try:
            good = row.seq == expected and row.prev_hash == prev_hash and sha256(
                (prev_hash + body_text(*row[:9])).encode("utf-8")).hexdigest() == row.hash
        except (TypeError, ValueError):
            good = False
        if not good:
            broken = Broken(expected, _row_problem(row, expected, prev_hash) or "inconsistent record")
            break
        if expect is not None and row.seq == expect[0] and row.hash != expect[1]:
            broken = Broken(row.seq, f"checkpoint mismatch: the expected head {expect[0]}:{expect[1][:16]}... "
                                     f"differs from the stored record (the log was rewritten)")
            break
        count += 1
        prev_hash, expected = row.hash, expected + 1
        if row.kind == "action_started" and row.action_id:
            open_actions[row.action_id] = Incomplete(row.seq, row.action_id, row.tool, row.service, row.ts)
        elif row.kind == "action_result" and row.action_id:
            open_actions.pop(row.action_id, None)
    head_seq = expected - 1
    if broken is None and anchor is not None:
        a_seq, a_hash = anchor
        if a_seq > head_seq:
            broken = Broken(head_seq + 1, f"tail truncated: the anchor records seq {a_seq}, "
                                          f"the log ends at {head_seq}")
        elif a_seq < head_seq:
            broken = Broken(a_seq + 1, f"appended outside the store: the anchor records seq {a_seq}, "
                                       f"the log continues to {head_seq}")
        elif a_hash != prev_hash:
            broken = Broken(head_seq, "anchor mismatch: the newest record's hash differs from the anchor "
                                      "(the record or the anchor was edited)")
    if broken is None and expect is not None and expect[0] > head_seq:
        broken = Broken(head_seq + 1, f"tail truncated: the expected checkpoint is at seq {expect[0]}, "
                                      f"the log ends at {head_seq}")
    if broken is None and anchor is None and head_seq > 0:
        broken = Broken(head_seq, "no anchor: the log has records but no anchor to check its tail against")
    return VerifyReport(
        ok=broken is None, records=count, head_seq=head_seq, head_hash=prev_hash, anchor=anchor,
        broken=broken, incomplete=sorted(open_actions.values(), key=lambda i: i.seq),
    )
