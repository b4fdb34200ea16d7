"""`/api/services`: the inventory (names, aliases, replica bounds, protection, the source of each fact)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from agent.http.auth import require
from governance.gate import Principal
from tools.services import current_inventory

router = APIRouter(prefix="/api/services", tags=["services"])


@router.get("")
async def services(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The current inventory as `keel services --json` prints it (discovered again once its TTL has passed)."""
    inventory = await run_in_threadpool(current_inventory)
    return inventory.to_dict()
