"""Governance: risk rules, oversight and autonomy levels, approvals, the hash-chained audit log."""
