"""CPU work off the event loop, in a pool of its own.

``asyncio.to_thread``'s default pool (cores + 4 threads) also runs the quick blocking calls: a database row,
a corpus file's part, a page kept for the evidence archive. Queued there behind model steps and citation
checks when many runs work at once, those quick calls waited past their activity's timeout and were done
again (bench.scale, 100 runs on one worker: 49 ``read_page`` attempts). CPU work waits here for a core
instead, one thread per core, and the quick calls keep the default pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["compute"]

P = ParamSpec("P")
T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="compute")


async def compute(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` in the CPU pool, with the caller's context (its log fields, its trace),
    as ``asyncio.to_thread`` would run it."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
