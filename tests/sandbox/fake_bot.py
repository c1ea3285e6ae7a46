"""A small fake bot for the sandbox page's tests, on loopback: it checks Slack's request signature
with slack_sdk's SignatureVerifier and answers the way ResearchBot does, in miniature. A command posts
a draft with decision buttons, a button opens a modal (or refuses someone who may not decide), a
submission answers errors or closes the modal. :func:`bolt_bot` is the same in Bolt, as the real bot
is built.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.asgi_server import AsgiServer
from sandbox.demo_workspace import ADA, GRACE
from sandbox.slack_api import SlackApiServer

__all__ = ["MAY_DECIDE", "SECRET", "FakeBot", "bolt_bot", "draft_blocks", "feedback_modal"]

SECRET = "test-signing-secret"
MAY_DECIDE = {ADA, GRACE}  # Linus may not


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


class FakeBot:
    """ResearchBot in miniature, at ``url``: verifies each request's signature, records it, answers."""

    def __init__(self, signing_secret: str = SECRET) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.token = self.api_url = ""  # the sandbox's bot token and Web API: talk_to() once it runs
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[str] = []
        self.retries: list[tuple[str, str, str]] = []  # Events API: (event_id, X-Slack-Retry-Num, -Reason)
        self.echo_challenge = True
        self.app = Starlette(routes=[Route("/slack/events", self.events, methods=["POST"])])
        self._server = AsgiServer(self.app, name="fake-bot")

    @property
    def url(self) -> str:
        return f"{self._server.url}slack/events"

    def talk_to(self, slack: SlackApiServer) -> None:
        """Call ``slack``'s Web API with its bot token (made for each start)."""
        self.api_url, self.token = slack.base_url, slack.workspace.bot_token

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
        if request.headers.get("content-type", "").startswith("application/json"):
            return await self.event(json.loads(body), request)
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

    async def event(self, payload: dict[str, Any], request: Request) -> Response:
        """The Events API: the challenge echoed; a mention or a DM answered in its thread (a DM's pane
        status set first; "think" leaves it showing), the pane's prompts set when it opens; "slow" makes
        the first delivery time out, "down" answers it 500."""
        self.received.append((payload["type"], payload))
        if payload["type"] == "url_verification":
            return PlainTextResponse(payload["challenge"] if self.echo_challenge else "no")
        event, retry = payload["event"], request.headers.get("x-slack-retry-num", "")
        self.retries.append((payload["event_id"], retry, request.headers.get("x-slack-retry-reason", "")))
        text = event.get("text", "")
        if "slow" in text and not retry:
            await asyncio.sleep(4)
        if "down" in text and not retry:
            return PlainTextResponse("down", status_code=500)
        client, thread = self.client(), event.get("thread_ts") or event.get("ts")
        if event["type"] == "app_home_opened":
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=event["channel"], title="Try", prompts=[{"title": "Durable?", "message": "What is durable?"}]
            )
        elif event["type"] == "message" and event.get("channel_type") == "im" and "subtype" not in event:
            await client.assistant_threads_setStatus(
                channel_id=event["channel"], thread_ts=thread, status="is thinking…"
            )
            if "think" not in text:
                await client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=f"On it: {text}")
        elif event["type"] == "app_mention":
            await client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=f"On it: {text}")
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
        if action["type"] == "feedback_buttons":
            return Response()  # recorded in self.received; nothing to show
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


def bolt_bot(api_url: str, token: str) -> Starlette:
    """A Bolt AsyncApp (as bot/app.py builds it) behind Starlette: Bolt checks the signature
    and parses each payload, so this shows the sandbox sends what Bolt expects from Slack."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp

    client = AsyncWebClient(token=token, base_url=api_url, retry_handlers=[])
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
