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
import subprocess
import sys
import time
from typing import Any

import httpx

from sandbox.signing import signed_headers

__all__ = ["Answer", "BurstClient", "fire"]

Answer = tuple[float, int | None, str]  # seconds, HTTP status (None: no answer), the answer's text


async def fire(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[Answer]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(body: str, headers: dict[str, str]) -> Answer:
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


class BurstClient:
    """This module in a process of its own: the bursts are sent and timed away from this process,
    whose thread serving the sandbox Slack would otherwise add its GIL waits to the acks."""

    def __init__(self, signing_secret: str) -> None:
        self._secret = signing_secret
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.burst_client"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    async def fire(self, url: str, bodies: list[str]) -> list[Answer]:
        """Every body at once, each signed as Slack signs it; the time of each HTTP round trip."""
        assert self._process.stdin is not None and self._process.stdout is not None
        burst = {"url": url, "requests": [(body, signed_headers(self._secret, body)) for body in bodies]}
        self._process.stdin.write(json.dumps(burst) + "\n")
        self._process.stdin.flush()
        answers = json.loads(await asyncio.to_thread(self._process.stdout.readline))
        return [(float(seconds), status, str(text)) for seconds, status, text in answers]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        burst: dict[str, Any] = json.loads(line)
        answers = await fire(burst["url"], [(body, headers) for body, headers in burst["requests"]])
        sys.stdout.write(json.dumps(answers) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(serve())
