"""Bearer-token auth: tokens from settings (`token=role,...`), roles viewer < operator < approver."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Literal, cast

from fastapi import Depends, HTTPException, Request

from governance.gate import Principal

Role = Literal["viewer", "operator", "approver"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "approver")
RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}


def parse_tokens(spec: str) -> dict[str, Role]:
    """`token=role,token=role` -> {token: role}; a bad entry raises ValueError naming it and the roles."""
    out: dict[str, Role] = {}
    for i, part in enumerate(p.strip() for p in spec.split(",")):
        if not part:
            continue
        token, sep, role = part.rpartition("=")
        token, role = token.strip(), role.strip()
        if not sep or not token:
            raise ValueError(f"tokens entry {i + 1}: expected token=role, got {part[:4]!r}...")
        if role not in RANK:
            raise ValueError(f"tokens entry {i + 1}: role {role!r}; allowed: {', '.join(ROLES)}")
        out[token] = cast(Role, role)
    return out


def principal_name(token: str, role: str) -> str:
    """A stable pseudonym for a token (the token itself never reaches logs or the audit trail)."""
    return f"{role}-{hashlib.sha256(token.encode()).hexdigest()[:8]}"


class Unauthorized(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request) -> Principal:
    tokens: dict[str, Role] = request.app.state.tokens
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    token = token.strip()
    for known, role in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return Principal(name=principal_name(known, role), role=role)
    raise Unauthorized("unknown bearer token")


def require(role: Role) -> Callable[..., Principal]:
    """A dependency admitting principals of `role` or above; 403 names the role needed."""

    def dep(principal: Principal = Depends(authenticate)) -> Principal:
        if RANK.get(str(principal.role), -1) < RANK[role]:
            raise HTTPException(403, f"this needs the {role} role or above; your token has {principal.role}")
        return principal

    return dep
