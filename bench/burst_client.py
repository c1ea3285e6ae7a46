"""The load generator of bench/acks.py, in a process of its own.

    python -m bench.burst_client     # then one JSON line per burst on stdin, one answer line on stdout

The benchmark's own process also serves the sandbox Slack (from a thread) to the worker posting its runs;
a load generator sharing its interpreter would wait for the GIL and add that wait to the acks it times.
Each input line is ``{"url": ..., "requests": [[body, headers], ...]}``: every request is sent at once,
on a connection of its own, and the answer line lists ``[seconds, status or null, text]`` in order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

__all__ = ["fire"]


async def fire(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[tuple[float, int | None, str]]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(body: str, headers: dict[str, str]) -> tuple[float, int | None, str]:
            started = time.perf_counter()
            try:
                response = await http.post(url, content=body.encode(), headers=headers)
            except httpx.HTTPError:
                return time.perf_counter() - started, None, ""
            seconds = time.perf_counter() - started
            try:
                text = str(response.json().get("text", "")) if response.content else ""
            except ValueError:
                text = ""
            return seconds, response.status_code, text

        return await asyncio.gather(*(one(body, headers) for body, headers in requests))


async def serve() -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        burst: dict[str, Any] = json.loads(line)
        answers = await fire(burst["url"], [(body, headers) for body, headers in burst["requests"]])
        sys.stdout.write(json.dumps(answers) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(serve())
