"""The sandbox's Web API answers servers only: its own Host, no Origin, Slack's bodies, and a bot token
made for each start. A page in the developer's browser (cross-site, or by DNS rebinding) cannot post
as the bot; slack_sdk, as the bot and the worker use it, still can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sandbox.demo_workspace import GENERAL, RESEARCH
from sandbox.server import SandboxServer
from sandbox.workspace_file import to_dict
from tests.sandbox.fake_bot import SECRET

OLD_PUBLIC_TOKEN = "xoxb-sandbox-token"


def texts(sandbox: SandboxServer) -> list[str]:
    return [m["text"] for m in sandbox.workspace.messages[GENERAL]]


def cross_site_requests(sandbox: SandboxServer) -> dict[str, dict[str, Any]]:
    """Posts a page could make, each with the right token (the worst case): what each must be refused."""
    token, port = sandbox.workspace.bot_token, sandbox.port
    form = {"token": token, "channel": GENERAL, "text": "pwned"}
    return {
        "a rebound Host": {"headers": {"Host": f"evil.example:{port}"}, "data": form},
        "our name on another port": {"headers": {"Host": f"127.0.0.1:{port + 1}"}, "data": form},
        "a cross-site Origin": {"headers": {"Origin": "https://evil.example"}, "data": form},
        "even our own Origin": {"headers": {"Origin": sandbox.url.rstrip("/")}, "data": form},
        "a text/plain form": {
            "headers": {"Content-Type": "text/plain"},
            "content": f"token={token}&channel={GENERAL}&text=pwned",
        },
        "a body without a type": {"headers": {"Authorization": f"Bearer {token}"}, "content": b"channel=x"},
    }


EXPECTED = {
    "a rebound Host": (403, "forbidden_host"),
    "our name on another port": (403, "forbidden_host"),
    "a cross-site Origin": (403, "forbidden_origin"),
    "even our own Origin": (403, "forbidden_origin"),
    "a text/plain form": (415, "invalid_post_type"),
    "a body without a type": (415, "missing_post_type"),
}


async def test_pages_cannot_post_as_the_bot(sandbox: SandboxServer) -> None:
    before = texts(sandbox)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as http:
        answers = {
            name: await http.post("chat.postMessage", **request)
            for name, request in cross_site_requests(sandbox).items()
        }
    assert {name: (a.status_code, a.json()["ok"], a.json()["error"]) for name, a in answers.items()} == {
        name: (status, False, error) for name, (status, error) in EXPECTED.items()
    }
    assert texts(sandbox) == before and sandbox.calls_to("chat.postMessage") == []


async def test_slack_sdk_still_works_form_json_get_and_multipart(sandbox: SandboxServer) -> None:
    token = sandbox.workspace.bot_token
    client = AsyncWebClient(token=token, base_url=sandbox.base_url, retry_handlers=[])
    assert (await client.auth_test())["ok"] is True  # a form
    posted = await client.chat_postMessage(channel=RESEARCH, text="hello", blocks=[])  # JSON, token in Authorization
    history = await client.conversations_history(channel=RESEARCH)  # GET with a query string
    assert history["messages"][0]["ts"] == posted["ts"]
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as http:
        # multipart/form-data, as a file upload sends it; its fields count, files are left out
        multipart = await http.post(
            "chat.postMessage",
            data={"token": token, "channel": RESEARCH, "text": "from a form with a file"},
            files={"file": ("notes.txt", b"ignored", "text/plain")},
        )
        # with JSON, Slack takes the token only from Authorization
        token_in_json = await http.post(
            "auth.test", content=json.dumps({"token": token}), headers={"Content-Type": "application/json"}
        )
    assert multipart.json()["ok"] is True
    assert sandbox.workspace.messages[RESEARCH][-1]["text"] == "from a form with a file"
    assert token_in_json.json() == {"ok": False, "error": "not_authed"}


async def test_the_old_public_token_is_refused_and_each_start_has_its_own(sandbox: SandboxServer) -> None:
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token=OLD_PUBLIC_TOKEN, base_url=sandbox.base_url, retry_handlers=[]).auth_test()
    assert refused.value.response["error"] == "invalid_auth"
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET) as other:
        assert other.workspace.bot_token.startswith("xoxb-") and other.workspace.app_token.startswith("xapp-")
        assert other.workspace.bot_token != sandbox.workspace.bot_token
        assert other.workspace.app_token != sandbox.workspace.app_token


async def test_a_state_file_never_pins_a_token(tmp_path: Path) -> None:
    """An older version saved the public token in the file; a start ignores it, and saves none."""
    state_file = tmp_path / "sandbox.json"
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET, state_file=state_file) as first:
        saved = to_dict(first.workspace)
    state_file.write_text(
        json.dumps({**saved, "bot_token": OLD_PUBLIC_TOKEN, "app_token": "xapp-1-A0BOT-sandbox-token"})
    )
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET, state_file=state_file) as second:
        assert second.workspace.bot_token not in (OLD_PUBLIC_TOKEN, first.workspace.bot_token)
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as http:
            old = await http.post("auth.test", headers={"Authorization": f"Bearer {OLD_PUBLIC_TOKEN}"})
        assert old.json() == {"ok": False, "error": "invalid_auth"}
        assert to_dict(second.workspace)["channels"] == saved["channels"]  # the history is still there
    written = state_file.read_text()
    assert "xoxb-" not in written and "xapp-" not in written


async def test_the_socket_mode_link_takes_only_a_ticket_it_handed_out_from_a_server(sandbox: SandboxServer) -> None:
    opened = await AsyncWebClient(token=sandbox.workspace.app_token, base_url=sandbox.base_url).apps_connections_open(
        app_token=sandbox.workspace.app_token
    )
    url = opened["url"]
    made_up = url.split("?")[0] + "?ticket=guessed"
    for refused, origin in ((made_up, None), (url, "https://evil.example")):
        with pytest.raises(InvalidStatus):
            async with connect(refused, origin=origin):
                pass
    async with connect(url) as link:  # what slack_sdk does: the ticket it was given, no Origin
        assert json.loads(await link.recv())["type"] == "hello"
    with pytest.raises(InvalidStatus):  # a ticket is good for one connection
        async with connect(url):
            pass
