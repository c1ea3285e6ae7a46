"""Drives the Slack sandbox through its page's own endpoints, as a person clicking would."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from temporalio.client import Client

from sandbox.demo_workspace import ADA, RESEARCH
from sandbox.page_guard import TOKEN_HEADER, token_in_page
from slack_ui.ids import decode_button_value
from slack_ui.replies import FEEDBACK_ACTION, FEEDBACK_BLOCK
from workflows.research import ResearchWorkflow

Message = dict[str, Any]
POLL_SECONDS = 0.1
PATIENCE_SECONDS = 120


class SandboxDriver:
    def __init__(self, page_url: str, user: str = ADA, channel: str = RESEARCH) -> None:
        self._base = page_url.rstrip("/")
        self._user, self._channel = user, channel

    async def run_once(self, client: Client, question: str, feedback: str) -> str:
        async with httpx.AsyncClient(base_url=self._base, timeout=30) as http:
            page = await http.get("/")  # the page carries the token its requests need, as in a browser
            http.headers[TOKEN_HEADER] = token_in_page(page.text)
            await self._post(http, "/sandbox/command", text=f"/research {question}")
            draft = await self._wait_for(http, lambda state: self._find_button(state, "approve"))
            message, block_id = draft
            await self._post(http, "/sandbox/action", message_ts=message["ts"], block_id=block_id, action_id="approve")
            view = await self._wait_for(http, lambda state: state.get("view"))
            await self._post(
                http, "/sandbox/submit", view_id=view["id"], values={FEEDBACK_BLOCK: {FEEDBACK_ACTION: feedback}}
            )
            workflow_id = decode_button_value(_button(message, "approve")["value"])[0]
            await client.get_workflow_handle_for(ResearchWorkflow.run, workflow_id).result()
            state = await self._state(http)
        return render_thread(state["messages"][self._channel], message.get("thread_ts") or message["ts"])

    async def _post(self, http: httpx.AsyncClient, path: str, **fields: Any) -> None:
        response = await http.post(path, json={"user": self._user, "channel": self._channel, **fields})
        answer = response.json()
        if not answer.get("ok"):
            raise RuntimeError(f"the sandbox refused {path}: {answer.get('error')} {answer.get('detail') or ''}")

    async def _state(self, http: httpx.AsyncClient) -> dict[str, Any]:
        return (await http.get("/sandbox/state", params={"user": self._user})).json()

    async def _wait_for(self, http: httpx.AsyncClient, find: Any) -> Any:
        for _ in range(int(PATIENCE_SECONDS / POLL_SECONDS)):
            if found := find(await self._state(http)):
                return found
            await asyncio.sleep(POLL_SECONDS)
        raise RuntimeError("the sandbox never showed what the demo waited for")

    def _find_button(self, state: dict[str, Any], action_id: str) -> tuple[Message, str] | None:
        for message in state["messages"].get(self._channel, []):
            for block in message.get("blocks") or []:
                if block.get("type") == "actions" and any(e.get("action_id") == action_id for e in block["elements"]):
                    return message, block["block_id"]
        return None


def _button(message: Message, action_id: str) -> dict[str, Any]:
    return next(
        element
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("action_id") == action_id
    )


def render_thread(messages: list[Message], thread_ts: str) -> str:
    """The thread as plain text: each message's blocks, buttons in brackets."""
    thread = [m for m in messages if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
    return "\n\n".join(_render_message(m) for m in sorted(thread, key=lambda m: float(m["ts"])))


def _render_message(message: Message) -> str:
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind in ("section", "header") and block.get("text"):
            lines.append(block["text"]["text"])
        if kind == "markdown":
            lines.append(block["text"])
        for field in block.get("fields") or []:
            lines.append(field["text"])
        if kind == "context":
            lines.append(" · ".join(e.get("text", "") for e in block["elements"]))
        if kind == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"] if e.get("text")))
        if kind == "context_actions":
            lines.append("[👍] [👎]")
        if kind == "divider":
            lines.append("---")
    body = "\n".join(lines) or message.get("text", "")
    return f"── {message.get('username') or message.get('user', 'bot')} ({message['ts']})\n{body}"
