"""Slack users -> keel principals, from the `slack_users` setting: `U123=approver,U456=operator`."""

from __future__ import annotations

import re

from governance.gate import Principal

ROLES = ("viewer", "operator", "approver")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def parse_slack_users(spec: str) -> dict[str, str]:
    """`U123=approver,...` -> {user_id: role}; a bad entry raises ValueError naming it and the allowed roles."""
    out: dict[str, str] = {}
    for i, part in enumerate(p.strip() for p in spec.split(",")):
        if not part:
            continue
        user, sep, role = (x.strip() for x in part.partition("="))
        if not sep or not _USER.match(user):
            raise ValueError(f"slack_users entry {i + 1}: expected SLACKUSERID=role (e.g. U0123ABCD=approver), "
                             f"got {part!r}")
        if role not in ROLES:
            raise ValueError(f"slack_users entry {i + 1}: role {role!r}; allowed: {', '.join(ROLES)}")
        out[user] = role
    return out


def principal_for(users: dict[str, str], user_id: str) -> Principal | None:
    """The keel principal of a Slack user (named `slack:<user id>`), or None when the user is not mapped."""
    role = users.get(user_id)
    return Principal(name=f"slack:{user_id}", role=role) if role else None  # type: ignore[arg-type]
