"""Run a blocking event iterator in one thread of its own and read it from async code.

LangGraph runs a graph in the thread that iterates it (context variables included), so the whole
iteration stays on one thread; the async side awaits items through an asyncio queue.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Pump:
    def __init__(self, it: Iterator[Any]) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._it = it
        threading.Thread(target=self._run, name="keel-turn", daemon=True).start()

    def _put(self, item: Any) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        try:
            for item in self._it:
                self._put(item)
        except BaseException as e:  # handed to the reader, which decides how to report it
            self._put(_Raised(e))
        finally:
            self._put(_END)

    async def next(self) -> Any:
        """The next item; raises what the iterator raised; StopAsyncIteration at the end."""
        item = await self._queue.get()
        if item is _END:
            raise StopAsyncIteration
        if isinstance(item, _Raised):
            raise item.exc
        return item

    async def rest(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.next()
            except StopAsyncIteration:
                return
