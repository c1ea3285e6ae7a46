"""Only the sandbox page may act as a person on it: its POST endpoints take JSON, from this server's
own Host and Origin, with the token written into the page; anything else is refused and changes
nothing. The static files are not the page's API and answer as before; the Web API answers servers
only (tests/sandbox/test_api_guard.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.demo_workspace import ADA, GENERAL, RESEARCH
from sandbox.page_guard import TOKEN_HEADER, token_in_page
from sandbox.server import SandboxServer
from sandbox.workspace_file import to_dict
from tests.sandbox.fake_bot import FakeBot

JSON = "application/json"
COMMAND = b'{"user": "%s", "channel": "%s", "text": "/research hello"}' % (ADA.encode(), RESEARCH.encode())


def own_headers(sandbox: SandboxServer, **changes: str | None) -> dict[str, str]:
    """What the page sends, with ``changes`` (None: left out)."""
    headers = {"Content-Type": JSON, TOKEN_HEADER: sandbox.page_token, "Origin": sandbox.url.rstrip("/")}
    headers.update(changes)
    return {name: value for name, value in headers.items() if value is not None}


def foreign_page_requests(sandbox: SandboxServer) -> dict[str, dict[str, Any]]:
    port = sandbox.port
    return {
        "a cross-site form (form-encoded)": own_headers(
            sandbox, **{"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "a cross-site form (text/plain)": own_headers(sandbox, **{"Content-Type": "text/plain"}),
        "no content type": own_headers(sandbox, **{"Content-Type": None}),
        "a foreign Origin": own_headers(sandbox, Origin="https://evil.example"),
        "an Origin on another port": own_headers(sandbox, Origin=f"http://127.0.0.1:{port + 1}"),
        "a foreign Host (DNS rebinding)": own_headers(sandbox, Host=f"evil.example:{port}"),
        "our name on another port": own_headers(sandbox, Host=f"localhost:{port + 1}"),
        "no token": own_headers(sandbox, **{TOKEN_HEADER: None}),
        "a wrong token": own_headers(sandbox, **{TOKEN_HEADER: "not-the-token"}),
        "an empty token": own_headers(sandbox, **{TOKEN_HEADER: ""}),
    }


EXPECTED = {
    "a cross-site form (form-encoded)": (415, "unsupported_media_type"),
    "a cross-site form (text/plain)": (415, "unsupported_media_type"),
    "no content type": (415, "unsupported_media_type"),
    "a foreign Origin": (403, "forbidden_origin"),
    "an Origin on another port": (403, "forbidden_origin"),
    "a foreign Host (DNS rebinding)": (403, "forbidden_host"),
    "our name on another port": (403, "forbidden_host"),
    "no token": (403, "invalid_token"),
    "a wrong token": (403, "invalid_token"),
    "an empty token": (403, "invalid_token"),
}

ENDPOINTS = {
    "/sandbox/command": COMMAND,
    "/sandbox/message": b'{"user": "%s", "channel": "%s", "text": "hi"}' % (ADA.encode(), GENERAL.encode()),
    "/sandbox/action": b'{"user": "%s", "channel": "%s", "message_ts": "1.0"}' % (ADA.encode(), RESEARCH.encode()),
    "/sandbox/submit": b'{"user": "%s", "view_id": "V1", "values": {}}' % ADA.encode(),
    "/sandbox/close": b'{"user": "%s", "view_id": "V1"}' % ADA.encode(),
    "/sandbox/dismiss": b'{"user": "%s", "ts": "1.0"}' % ADA.encode(),
}


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_requests_not_from_the_page_are_refused_and_change_nothing(
    sandbox: SandboxServer, fake_bot: FakeBot, path: str
) -> None:
    before = to_dict(sandbox.workspace)
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        answers = {
            name: await http.post(path, content=ENDPOINTS[path], headers=headers)
            for name, headers in foreign_page_requests(sandbox).items()
        }
    got = {name: (answer.status_code, answer.json()["error"]) for name, answer in answers.items()}
    assert got == EXPECTED
    assert fake_bot.received == [] and fake_bot.rejected == []
    assert to_dict(sandbox.workspace) == before


async def test_the_page_carries_its_token_and_its_requests_pass(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        page = await http.get("/")
        token = token_in_page(page.text)
        assert token == sandbox.page_token and len(token) >= 32
        sent = await http.post("/sandbox/command", content=COMMAND, headers=own_headers(sandbox))
        # A charset in the content type, localhost for 127.0.0.1, and no Origin (same-origin GET-style) pass too.
        also = own_headers(sandbox, **{"Content-Type": "application/json; charset=utf-8", "Origin": None})
        also["Host"] = f"localhost:{sandbox.port}"
        message = await http.post(
            "/sandbox/message", json={"user": ADA, "channel": GENERAL, "text": "hello"}, headers=also
        )
    assert sent.json() == {"ok": True} and len(fake_bot.of_kind("command")) == 1
    assert message.json()["ok"] is True and sandbox.workspace.messages[GENERAL][-1]["text"] == "hello"


async def test_a_new_server_has_a_new_token(fake_bot: FakeBot, sandbox: SandboxServer) -> None:
    with SandboxServer(bot_url=fake_bot.url, signing_secret="s") as other:
        assert other.page_token != sandbox.page_token
        async with httpx.AsyncClient(timeout=10) as http:
            stale = await http.post(
                f"{other.url}sandbox/command", content=COMMAND, headers=own_headers(sandbox, Origin=None)
            )
    assert stale.status_code == 403 and stale.json()["error"] == "invalid_token"


async def test_the_page_its_state_and_its_events_answer_only_their_own_host(sandbox: SandboxServer) -> None:
    rebound = {"Host": f"evil.example:{sandbox.port}"}
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        for path in ("/", f"/sandbox/state?user={ADA}", f"/events?user={ADA}"):
            refused = await http.get(path, headers=rebound)
            assert refused.status_code == 403, path
            assert sandbox.page_token not in refused.text
        assert (await http.get("/", headers={"Origin": "https://evil.example"})).status_code == 403
        script = await http.get("/static/api.js", headers=rebound)  # the static files hold no secret
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
