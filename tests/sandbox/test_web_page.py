"""The page's server: one port for the page, its static files and the Web API; what a person sees;
plain messages; and the bot's own Slack client against it."""

from __future__ import annotations

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.demo_workspace import ADA, GENERAL, GRACE, LINUS
from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import FakeBot
from tests.sandbox.page_client import ask, post, state
from tests.support.waiting import eventually


async def test_one_port_serves_the_page_the_static_files_and_the_web_api(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        page = await http.get("/")
        script = await http.get("/static/app.js")
        style = await http.get("/static/style.css")
        auth = await http.post("/api/auth.test", headers={"Authorization": f"Bearer {sandbox.workspace.bot_token}"})
    assert page.status_code == 200 and "/static/app.js" in page.text and "text/html" in page.headers["content-type"]
    assert script.status_code == 200 and style.status_code == 200
    assert auth.json()["ok"] is True and auth.json()["user_id"] == sandbox.workspace.bot_user_id
    seen = await state(sandbox, GRACE)
    assert {c["name"] for c in seen["channels"]} == {"research", "general"}
    assert {u["name"] for u in seen["users"] if not u["is_bot"]} == {"ada", "grace", "linus"}
    assert (await state(sandbox, ""))["me"] == ADA  # no one chosen: the first person


async def test_unknown_commands_and_plain_messages(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    assert (await ask(sandbox, "/nope x"))["error"] == "invalid_command"
    assert fake_bot.received == []
    assert "not a valid command" in (await state(sandbox, ADA))["ephemerals"][0]["text"]
    sent = await post(sandbox, "/sandbox/message", user=GRACE, channel=GENERAL, text="a < b & c > d")
    assert sent["ok"] is True
    assert sandbox.workspace.messages[GENERAL][-1]["text"] == "a &lt; b &amp; c &gt; d"
    reply = await post(sandbox, "/sandbox/message", user=ADA, channel=GENERAL, text="indeed", thread_ts=sent["ts"])
    assert sandbox.workspace.replies(GENERAL, sent["ts"])[1]["ts"] == reply["ts"]
    assert (await post(sandbox, "/sandbox/message", user="UNOBODY", channel=GENERAL, text="x"))[
        "error"
    ] == "user_not_found"
    assert (await post(sandbox, "/sandbox/message", user=ADA, channel="CNOPE", text="x"))[
        "error"
    ] == "channel_not_found"


async def test_the_sandbox_answers_the_bots_own_slack_client(sandbox: SandboxServer) -> None:
    """What the bot's activities do against Slack works unchanged against the sandbox."""
    client = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url, retry_handlers=[])
    root = await client.chat_postMessage(channel=GENERAL, text="root")  # chat:write.public
    assert (await client.conversations_join(channel=GENERAL))["channel"]["is_member"] is True
    await client.chat_postMessage(channel=GENERAL, text="in the thread", thread_ts=root["ts"])
    seen = await state(sandbox, LINUS)
    assert [m["text"] for m in seen["messages"][GENERAL]][-2:] == ["root", "in the thread"]
    await eventually(lambda: sandbox.workspace.messages[GENERAL][-1]["text"] == "in the thread", "the reply")
