"""The page's live updates: server-sent events that say what changed, only to who may see it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.demo_workspace import ADA, GRACE, RESEARCH
from sandbox.server import SandboxServer


async def read_events(response: httpx.Response, queue: asyncio.Queue[dict[str, Any]]) -> None:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            await queue.put(json.loads(line.removeprefix("data: ")))


async def next_event(queue: asyncio.Queue[dict[str, Any]], kind: str | None = None) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(queue.get(), 5)
        if kind is None or event["type"] == kind:
            return event


async def test_events_stream_chat_update_and_keep_ephemerals_private(sandbox: SandboxServer) -> None:
    client = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url, retry_handlers=[])
    posted = await client.chat_postMessage(channel=RESEARCH, text="Planning…")
    async with (
        httpx.AsyncClient(base_url=sandbox.url, timeout=None) as http,
        http.stream("GET", "/events", params={"user": GRACE}) as grace_stream,
    ):
        assert grace_stream.headers["content-type"].startswith("text/event-stream")
        grace: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        reader = asyncio.create_task(read_events(grace_stream, grace))
        try:
            assert (await next_event(grace))["type"] == "hello"
            await client.chat_update(channel=RESEARCH, ts=posted["ts"], text="Searching…")
            changed = await next_event(grace)
            assert changed == {"type": "message_changed", "channel": RESEARCH, "ts": posted["ts"]}

            await client.chat_postEphemeral(channel=RESEARCH, user=ADA, text="only for Ada")
            await client.chat_postMessage(channel=RESEARCH, text="for everyone")
            following = await next_event(grace)
            assert following["type"] == "message"  # Ada's ephemeral never reached Grace's stream
        finally:
            reader.cancel()
    assert sandbox.workspace.message(RESEARCH, posted["ts"])["text"] == "Searching…"
