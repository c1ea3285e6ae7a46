"""The sandbox page's server, over real HTTP, with a small fake bot on loopback.

The fake bot checks Slack's request signature with slack_sdk's SignatureVerifier and answers
the way ResearchBot does, in miniature: a command posts a draft with decision buttons, a
button opens a modal (or refuses someone who may not decide), a submission answers errors or
closes the modal. The sandbox must carry all of that exactly as Slack would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.demo_workspace import ADA, GENERAL, GRACE, LINUS, RESEARCH
from sandbox.server import SandboxServer

SECRET = "test-signing-secret"
MAY_DECIDE = {ADA, GRACE}  # Linus may not


# ------------------------------------------------------------------ a fake bot


def draft_blocks(question: str, workflow_id: str = "research-1") -> list[dict[str, Any]]:
    """Blocks shaped like slack_ui.thread.draft_messages: header, context, text, sources, decision buttons."""
    value = json.dumps({"wf": workflow_id, "round": 1})
    plain = lambda text: {"type": "plain_text", "text": text, "emoji": True}  # noqa: E731
    confirm = {
        "title": plain("Reject this draft?"),
        "text": plain("The run ends without a report."),
        "confirm": plain("Reject"),
        "deny": plain("Keep it"),
        "style": "danger",
    }
    return [
        {"type": "header", "text": plain("Draft 1 for review")},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*Question:* {question} · asked by <@{ADA}>"}]},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    "*Summary*\nTemporal keeps a workflow's state in its _event history_ &amp; replays it [1].\n"
                    "• Durable timers &lt;days&gt;\n• Signals and `updates`\n"
                    "```worker.run()```"
                ),
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Sources*\n1. <https://docs.temporal.io/|Temporal docs>"},
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "decision-1",
            "elements": [
                {
                    "type": "button",
                    "text": plain("Approve"),
                    "action_id": "approve",
                    "value": value,
                    "style": "primary",
                },
                {"type": "button", "text": plain("Revise"), "action_id": "revise", "value": value},
                {
                    "type": "button",
                    "text": plain("Reject"),
                    "action_id": "reject",
                    "value": value,
                    "style": "danger",
                    "confirm": confirm,
                },
            ],
        },
    ]


def feedback_modal(kind: str, private_metadata: str) -> dict[str, Any]:
    """Shaped like slack_ui.replies.decision_modal."""
    approve = kind == "approve"
    return {
        "type": "modal",
        "callback_id": "decision_modal",
        "title": {"type": "plain_text", "text": f"{'Approve' if approve else 'Revise'} draft 1"},
        "submit": {"type": "plain_text", "text": "Approve" if approve else "Send for revision"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": private_metadata,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Question:* what is Temporal?"}},
            {
                "type": "input",
                "block_id": "feedback",
                "optional": approve,
                "label": {"type": "plain_text", "text": "What should change?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "feedback",
                    "multiline": True,
                    "placeholder": {"type": "plain_text", "text": "e.g. shorten the summary"},
                },
            },
        ],
    }


class LoopbackServer:
    """An ASGI app on 127.0.0.1, in a background thread."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app, self.port = app, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-bot", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "the fake bot did not start"
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.should_exit = True
            self._thread.join(timeout=10)


class FakeBot:
    """ResearchBot in miniature, at ``url``: verifies each request's signature, records it, answers."""

    def __init__(self, signing_secret: str = SECRET, token: str = "xoxb-sandbox-token") -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.token = token
        self.api_url = ""  # the sandbox's Web API, set once it runs
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[str] = []
        self.app = Starlette(routes=[Route("/slack/events", self.events, methods=["POST"])])
        self._server = LoopbackServer(self.app)

    @property
    def url(self) -> str:
        return f"{self._server.url}/slack/events"

    def __enter__(self) -> FakeBot:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.received if k == kind]

    def client(self) -> AsyncWebClient:
        return AsyncWebClient(token=self.token, base_url=self.api_url, retry_handlers=[])

    async def events(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not self.verifier.is_valid(body, timestamp, request.headers.get("x-slack-signature", "")):
            self.rejected.append(body.decode())
            return PlainTextResponse("invalid signature", status_code=401)
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if "payload" not in form:
            self.received.append(("command", form))
            return await self.command(form)
        payload = json.loads(form["payload"])
        self.received.append((payload["type"], payload))
        if payload["type"] == "block_actions":
            return await self.action(payload)
        if payload["type"] == "view_submission":
            return await self.submission(payload)
        return Response()

    async def command(self, form: dict[str, str]) -> Response:
        text = form["text"]
        if text == "slow":
            await asyncio.sleep(4)
            return Response()
        if text == "help":
            return JSONResponse({"response_type": "ephemeral", "text": "*Usage:* `/research &lt;question&gt;`"})
        if text == "shout":
            return JSONResponse({"response_type": "in_channel", "text": "Everyone: research is open"})
        await self.client().chat_postMessage(
            channel=form["channel_id"], text=f"Draft 1 is ready: {text}", blocks=draft_blocks(text)
        )
        async with httpx.AsyncClient() as http:
            await http.post(
                form["response_url"],
                json={"response_type": "ephemeral", "text": f"Started research on “{text}” for you"},
            )
        return Response()

    async def action(self, payload: dict[str, Any]) -> Response:
        action = payload["actions"][0]
        user = payload["user"]["id"]
        async with httpx.AsyncClient() as http:
            if user not in MAY_DECIDE:
                await http.post(
                    payload["response_url"],
                    json={
                        "response_type": "ephemeral",
                        "replace_original": False,
                        "text": f"Sorry <@{user}>, you may not decide on this draft.",
                    },
                )
            elif action["action_id"] == "reject":
                await http.post(
                    payload["response_url"],
                    json={
                        "replace_original": True,
                        "text": "Rejected",
                        "blocks": [
                            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"❌ Rejected by <@{user}>"}]}
                        ],
                    },
                )
            else:
                metadata = json.dumps(
                    {
                        **json.loads(action["value"]),
                        "kind": action["action_id"],
                        "channel": payload["channel"]["id"],
                        "ts": payload["container"]["message_ts"],
                    }
                )
                await self.client().views_open(
                    trigger_id=payload["trigger_id"], view=feedback_modal(action["action_id"], metadata)
                )
        return Response()

    async def submission(self, payload: dict[str, Any]) -> Response:
        value = payload["view"]["state"]["values"]["feedback"]["feedback"]["value"] or ""
        if value.strip().lower() in ("bad", "") and json.loads(payload["view"]["private_metadata"])["kind"] == "revise":
            return JSONResponse(
                {"response_action": "errors", "errors": {"feedback": "Say what should change, in a few words."}}
            )
        where = json.loads(payload["view"]["private_metadata"])
        who = payload["user"]["id"]
        verb = "Approved" if where["kind"] == "approve" else "Revision requested"
        await self.client().chat_update(
            channel=where["channel"],
            ts=where["ts"],
            text=f"{verb} by {who}",
            blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": f"✅ {verb} by <@{who}>: “{value}”"}]}],
        )
        await self.client().chat_postMessage(
            channel=where["channel"], thread_ts=where["ts"], text=f"Thanks <@{who}>, noted: _{value}_"
        )
        return Response()


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def fake_bot() -> Iterator[FakeBot]:
    with FakeBot() as bot:
        yield bot


@pytest.fixture
def sandbox(fake_bot: FakeBot, tmp_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=tmp_path / "sandbox.json") as server:
        fake_bot.api_url = server.base_url
        yield server


async def post(sandbox: SandboxServer, path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        return (await http.post(path, json=body)).json()


async def state(sandbox: SandboxServer, user: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        answer = (await http.get("/sandbox/state", params={"user": user})).json()
    assert answer["ok"] is True
    return answer


async def ask(sandbox: SandboxServer, text: str, user: str = ADA, channel: str = RESEARCH) -> dict[str, Any]:
    return await post(sandbox, "/sandbox/command", user=user, channel=channel, text=text)


def draft_of(sandbox: SandboxServer) -> dict[str, Any]:
    return next(m for m in sandbox.workspace.messages[RESEARCH] if m.get("blocks"))


async def click(sandbox: SandboxServer, user: str, action_id: str, ts: str) -> dict[str, Any]:
    return await post(
        sandbox,
        "/sandbox/action",
        user=user,
        channel=RESEARCH,
        message_ts=ts,
        block_id="decision-1",
        action_id=action_id,
    )


async def eventually(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------ the tests


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


async def test_a_command_arrives_signed_with_every_field_slack_sends(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    assert await ask(sandbox, "/research what is Temporal?") == {"ok": True}

    assert fake_bot.rejected == []
    [fields] = fake_bot.of_kind("command")
    assert fields["command"] == "/research" and fields["text"] == "what is Temporal?"
    assert fields["user_id"] == ADA and fields["user_name"] == "ada"
    assert fields["channel_id"] == RESEARCH and fields["channel_name"] == "research"
    assert fields["team_id"] == sandbox.workspace.team_id and fields["team_domain"] == sandbox.workspace.domain
    assert fields["api_app_id"] == sandbox.workspace.app_id and fields["token"]
    assert fields["response_url"].startswith(f"{sandbox.url}response/")
    assert fields["trigger_id"] in sandbox.workspace.triggers
    draft = draft_of(sandbox)
    assert draft["user"] == sandbox.workspace.bot_user_id and draft["blocks"][0]["type"] == "header"


async def test_a_wrong_signing_secret_is_refused_by_the_bot(fake_bot: FakeBot, tmp_path: Path) -> None:
    with SandboxServer(bot_url=fake_bot.url, signing_secret="not-the-secret") as sandbox:
        answer = await ask(sandbox, "/research anything")
        shown = await state(sandbox, ADA)
    assert answer["ok"] is False and answer["error"] == "http_service_error" and "401" in answer["detail"]
    assert len(fake_bot.rejected) == 1 and fake_bot.received == []
    assert shown["ephemerals"][-1]["text"] == '/research failed with the error "http_service_error"'


async def test_response_url_ephemerals_show_only_to_their_user(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    await ask(sandbox, "/research help")  # answered in the command's own HTTP response

    ada, grace = await state(sandbox, ADA), await state(sandbox, GRACE)
    assert [e["text"] for e in ada["ephemerals"]] == [
        "Started research on “what is Temporal?” for you",
        "*Usage:* `/research &lt;question&gt;`",
    ]
    assert all(e["channel"] == RESEARCH for e in ada["ephemerals"])
    assert grace["ephemerals"] == []
    assert [m["ts"] for m in ada["messages"][RESEARCH]] == [m["ts"] for m in grace["messages"][RESEARCH]]

    await ask(sandbox, "/research shout")  # in_channel: everyone sees the command and the answer
    texts = [m["text"] for m in (await state(sandbox, GRACE))["messages"][RESEARCH]]
    assert texts[-2:] == ["/research shout", "Everyone: research is open"]

    assert (await post(sandbox, "/sandbox/dismiss", user=ADA, ts=ada["ephemerals"][0]["ts"]))["ok"] is True
    assert len((await state(sandbox, ADA))["ephemerals"]) == 1


async def test_a_button_sends_block_actions_and_its_trigger_opens_a_modal(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    await ask(sandbox, "/research what is Temporal?")
    draft = draft_of(sandbox)
    assert await click(sandbox, GRACE, "revise", draft["ts"]) == {"ok": True}

    [payload] = fake_bot.of_kind("block_actions")
    assert payload["user"]["id"] == GRACE and payload["user"]["username"] == "grace"
    assert payload["api_app_id"] == sandbox.workspace.app_id and payload["token"]
    assert payload["team"] == {"id": sandbox.workspace.team_id, "domain": sandbox.workspace.domain}
    assert payload["channel"] == {"id": RESEARCH, "name": "research"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": draft["ts"],
        "channel_id": RESEARCH,
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == draft["ts"] and payload["message"]["blocks"][-1]["block_id"] == "decision-1"
    assert payload["response_url"].startswith(f"{sandbox.url}response/")
    [action] = payload["actions"]
    assert action["action_id"] == "revise" and action["block_id"] == "decision-1" and action["type"] == "button"
    assert json.loads(action["value"]) == {"wf": "research-1", "round": 1} and float(action["action_ts"]) > 0

    # The bot spent the trigger on views.open: Grace sees the modal, Ada does not.
    view = (await state(sandbox, GRACE))["view"]
    assert view["callback_id"] == "decision_modal" and view["title"]["text"] == "Revise draft 1"
    assert (await state(sandbox, ADA))["view"] is None


async def test_someone_who_may_not_decide_is_told_so_privately(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    assert await click(sandbox, LINUS, "approve", draft_of(sandbox)["ts"]) == {"ok": True}

    linus, grace = await state(sandbox, LINUS), await state(sandbox, GRACE)
    assert [e["text"] for e in linus["ephemerals"]] == [f"Sorry <@{LINUS}>, you may not decide on this draft."]
    assert grace["ephemerals"] == [] and linus["view"] is None
    assert draft_of(sandbox)["blocks"][-1]["type"] == "actions"  # the buttons are still there


async def test_replace_original_through_an_actions_response_url(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    ts = draft_of(sandbox)["ts"]
    assert await click(sandbox, GRACE, "reject", ts) == {"ok": True}
    replaced = sandbox.workspace.message(RESEARCH, ts)
    assert replaced["text"] == "Rejected"
    assert replaced["blocks"][0]["elements"][0]["text"] == f"❌ Rejected by <@{GRACE}>"


async def test_a_view_submission_shows_errors_then_closes(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    await ask(sandbox, "/research what is Temporal?")
    draft = draft_of(sandbox)
    await click(sandbox, GRACE, "revise", draft["ts"])
    view = (await state(sandbox, GRACE))["view"]

    refused = await post(
        sandbox, "/sandbox/submit", user=GRACE, view_id=view["id"], values={"feedback": {"feedback": "bad"}}
    )
    assert refused == {
        "ok": False,
        "response_action": "errors",
        "errors": {"feedback": "Say what should change, in a few words."},
    }
    still_open = (await state(sandbox, GRACE))["view"]
    assert still_open["id"] == view["id"] and still_open["errors"] == refused["errors"]

    closed = await post(
        sandbox,
        "/sandbox/submit",
        user=GRACE,
        view_id=view["id"],
        values={"feedback": {"feedback": "Add the 2023 figures"}},
    )
    assert closed == {"ok": True, "response_action": "close"}
    assert (await state(sandbox, GRACE))["view"] is None

    submitted = fake_bot.of_kind("view_submission")[-1]
    assert submitted["user"]["id"] == GRACE and submitted["api_app_id"] == sandbox.workspace.app_id
    assert submitted["team"]["id"] == sandbox.workspace.team_id and submitted["token"]
    assert submitted["view"]["id"] == view["id"] and submitted["view"]["callback_id"] == "decision_modal"
    assert json.loads(submitted["view"]["private_metadata"])["kind"] == "revise"
    assert submitted["view"]["state"]["values"] == {
        "feedback": {"feedback": {"type": "plain_text_input", "value": "Add the 2023 figures"}}
    }
    updated = sandbox.workspace.message(RESEARCH, draft["ts"])
    assert "Revision requested by" in updated["blocks"][0]["elements"][0]["text"]
    assert [m["text"] for m in sandbox.workspace.replies(RESEARCH, draft["ts"])][1:] == [
        f"Thanks <@{GRACE}>, noted: _Add the 2023 figures_"
    ]


async def test_closing_a_modal_and_submitting_someone_elses_view(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    await click(sandbox, GRACE, "approve", draft_of(sandbox)["ts"])
    view = (await state(sandbox, GRACE))["view"]
    stolen = await post(sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={})
    assert stolen == {"ok": False, "error": "view_not_found"}
    assert await post(sandbox, "/sandbox/close", user=GRACE, view_id=view["id"]) == {"ok": True}
    assert (await state(sandbox, GRACE))["view"] is None


async def test_a_command_the_bot_does_not_answer_in_3_seconds_times_out(sandbox: SandboxServer) -> None:
    answer = await ask(sandbox, "/research slow")
    assert answer["ok"] is False and answer["error"] == "operation_timeout"
    ada, grace = await state(sandbox, ADA), await state(sandbox, GRACE)
    [error] = ada["ephemerals"]
    assert error["text"] == '/research failed with the error "operation_timeout"'
    assert error["username"] == "Slackbot" and "3 seconds" in error["detail"]
    assert grace["ephemerals"] == []


async def test_a_bot_that_is_down_is_shown_as_unreachable(tmp_path: Path) -> None:
    # A port held bound but not listening: connections are refused, and nothing else can take it
    # (a port merely freed could be picked again by the sandbox's own server).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{held.getsockname()[1]}/slack/events"
        with SandboxServer(bot_url=down_url, signing_secret=SECRET) as sandbox:
            answer = await ask(sandbox, "/research anything")
            block = await post(
                sandbox, "/sandbox/action", user=ADA, channel=RESEARCH, message_ts="1.0", block_id="x", action_id="y"
            )
            [error] = (await state(sandbox, ADA))["ephemerals"]
    assert answer["ok"] is False and answer["error"] == "dispatch_failed"
    assert "unreachable" in answer["detail"] and down_url in answer["detail"]
    assert error["text"] == '/research failed with the error "dispatch_failed"'
    assert block == {"ok": False, "error": "message_not_found"}


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


async def test_the_workspace_survives_a_restart_from_its_file(fake_bot: FakeBot, tmp_path: Path) -> None:
    state_file = tmp_path / "data" / "sandbox.json"
    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=state_file) as first:
        fake_bot.api_url = first.base_url
        await ask(first, "/research what is Temporal?")
        before = first.workspace.to_dict()
    assert state_file.exists()

    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=state_file) as second:
        fake_bot.api_url = second.base_url
        after = await state(second, ADA)
        assert second.workspace.to_dict() == before
        assert [m["text"] for m in after["messages"][RESEARCH]] == ["Draft 1 is ready: what is Temporal?"]
        assert after["ephemerals"][0]["text"] == "Started research on “what is Temporal?” for you"
        await ask(second, "/research and again")  # the restarted sandbox still talks to the bot
        assert len(second.workspace.messages[RESEARCH]) == 2


def test_an_unreadable_state_file_is_kept_aside(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    state_file.write_text("{not json")
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET, state_file=state_file) as sandbox:
        assert RESEARCH in sandbox.workspace.channels
    assert [p.name.split("-")[0] for p in tmp_path.iterdir() if p.name != "sandbox.json"] == ["sandbox.json.broken"]
    assert json.loads(state_file.read_text())["team_id"] == sandbox.workspace.team_id


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


async def test_the_sandbox_answers_the_bots_own_slack_client(sandbox: SandboxServer) -> None:
    """What the bot's activities do against Slack works unchanged against the sandbox."""
    client = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url, retry_handlers=[])
    root = await client.chat_postMessage(channel=GENERAL, text="root")  # chat:write.public
    assert (await client.conversations_join(channel=GENERAL))["channel"]["is_member"] is True
    await client.chat_postMessage(channel=GENERAL, text="in the thread", thread_ts=root["ts"])
    seen = await state(sandbox, LINUS)
    assert [m["text"] for m in seen["messages"][GENERAL]][-2:] == ["root", "in the thread"]
    await eventually(lambda: sandbox.workspace.messages[GENERAL][-1]["text"] == "in the thread")


# ------------------------------------------------------------------ Bolt, as the real bot uses it


def bolt_bot(api_url: str) -> Starlette:
    """A Bolt AsyncApp (as bot/app.py builds it) behind Starlette: Bolt checks the signature
    and parses each payload, so this shows the sandbox sends what Bolt expects from Slack."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp

    client = AsyncWebClient(token="xoxb-sandbox-token", base_url=api_url, retry_handlers=[])
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=False)

    @app.command("/research")
    async def research(ack, command, respond, client) -> None:
        await ack(response_type="ephemeral", text=f"Researching “{command['text']}”…")
        await client.chat_postMessage(channel=command["channel_id"], text="draft", blocks=draft_blocks(command["text"]))
        await respond(text="The draft is in the channel.", response_type="ephemeral", replace_original=False)

    @app.action("revise")
    async def revise(ack, body, action, client) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=feedback_modal("revise", action["value"]))

    @app.view("decision_modal")
    async def decided(ack, view) -> None:
        feedback = view["state"]["values"]["feedback"]["feedback"]["value"]
        if feedback == "bad":
            await ack(response_action="errors", errors={"feedback": "Say more."})
        else:
            await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


async def test_a_bolt_app_accepts_what_the_sandbox_sends(tmp_path: Path) -> None:
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET) as sandbox:
        bot = LoopbackServer(bolt_bot(sandbox.base_url)).start()
        try:
            sandbox.bot.url = f"{bot.url}/slack/events"
            assert await ask(sandbox, "/research what is Temporal?") == {"ok": True}
            await eventually(lambda: len(sandbox.workspace.ephemerals) == 2)
            ada = await state(sandbox, ADA)
            assert {e["text"] for e in ada["ephemerals"]} == {
                "Researching “what is Temporal?”…",
                "The draft is in the channel.",
            }
            draft = draft_of(sandbox)
            assert await click(sandbox, ADA, "revise", draft["ts"]) == {"ok": True}
            await eventually(lambda: bool(sandbox.workspace.views))
            view = (await state(sandbox, ADA))["view"]
            refused = await post(
                sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={"feedback": {"feedback": "bad"}}
            )
            assert refused["errors"] == {"feedback": "Say more."}
            closed = await post(
                sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={"feedback": {"feedback": "fine"}}
            )
            assert closed == {"ok": True, "response_action": "close"}
        finally:
            bot.stop()
