"""Events API: a mention in a channel and a message to the bot in a DM (or its agent pane) are questions.

Each asking event is started before Bolt acks it (a listener middleware runs before Bolt's automatic
ack of events), so Slack's 200 means the run is written; what the person must hear is said in the
thread after the ack (bot/from_message.py). Everything else the bot is subscribed to is acked and left alone:
edits, deletions and other message subtypes, other bots' messages and its own, and the App Home's
other tab. The DM pane's suggested prompts are set when it opens (``app_home_opened`` on the Messages
tab in the agent experience; ``assistant_thread_started`` for apps still on the assistant one).

https://docs.slack.dev/apis/events-api/ , https://docs.slack.dev/reference/events/app_home_opened ,
https://docs.slack.dev/reference/events/assistant_thread_started/ ,
https://docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts/
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.from_message import asked_by, start_asked, tell_in_thread
from bot.from_thread import Reply, Routed, reply_in, route_reply, tell_replier
from bot.under_way import after_ack
from slack_ui.replies import SUGGESTED_PROMPTS, SUGGESTED_PROMPTS_TITLE

__all__ = ["register"]

log = structlog.get_logger(__name__)


def register(app: AsyncApp) -> None:
    app.event("app_mention", matchers=[said_by_a_person], middleware=[start_before_ack])(tell)
    app.event("app_mention")(leave_alone)  # another app's message that names the bot: never a question
    app.event("message", matchers=[a_person_in_a_dm], middleware=[dm_before_ack])(answer_dm)
    app.event("message", matchers=[a_reply_in_a_thread], middleware=[route_before_ack])(answer_reply)
    app.event("message")(leave_alone)  # the rest: edits, subtypes, bots, chatter
    app.event("app_home_opened")(offer_prompts)
    app.event("assistant_thread_started")(offer_prompts)
    app.event("assistant_thread_context_changed")(leave_alone)


async def said_by_a_person(event: dict[str, Any]) -> bool:
    """Written by a person: an integration that echoes text with @ResearchBot in it (its message has a
    ``bot_id``, or the ``bot_message`` subtype) must not start runs."""
    return not event.get("bot_id") and not event.get("bot_profile") and event.get("subtype") is None


async def a_person_in_a_dm(event: dict[str, Any]) -> bool:
    """A person's own new message in a DM with the bot: no subtype (an edit, a deletion, a join, a bot's
    message all have one) but ``file_share`` (the message carries files), no bot_id."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype", "file_share") == "file_share"
        and not event.get("bot_id")
    )


async def a_reply_in_a_thread(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> bool:
    """A person's own new reply in a thread of a channel the bot is in (message.channels, message.groups);
    a DM's replies were taken by the DM's listener, registered first."""
    return reply_in(body, event, context.bot_user_id) is not None


async def route_before_ack(
    body: dict[str, Any],
    event: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    next: Callable[[], Awaitable[None]],
) -> None:
    """Listener middleware: a follow-up's run is started (or joined) before Bolt's ack (bot/from_thread.py)."""
    reply = reply_in(body, event, context.bot_user_id)
    assert reply is not None  # the matcher said so
    routed = await _routed(reply, client, context)
    context["reply"], context["routed"] = reply, routed
    await next()


async def _routed(reply: Reply, client: AsyncWebClient, context: AsyncBoltContext) -> Routed:
    return await route_reply(
        context["settings"],
        context["temporal"],
        client,
        reply,
        context.bot_user_id,
        context.get("run_threads"),
        context.get("workspace_tokens"),
        context.get("people"),
    )


async def dm_before_ack(
    body: dict[str, Any],
    event: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    next: Callable[[], Awaitable[None]],
) -> None:
    """Listener middleware for a DM: a reply in a run's thread is what it is in a channel (feedback on a
    waiting draft, a follow-up after the finish: "thanks" is not researched); any other message is a
    question, started before Bolt's ack."""
    reply = reply_in(body, event, context.bot_user_id)
    if reply is not None:
        routed = await _routed(reply, client, context)
        if routed.run is not None or routed.say is not None:  # a run's thread, or it could not be told
            context["reply"], context["routed"] = reply, routed
            await next()
            return
    await start_before_ack(body, event, client, context, next)


async def answer_dm(context: AsyncBoltContext, client: AsyncWebClient, request: AsyncBoltRequest) -> None:
    if "routed" in context:
        await answer_reply(context, client, request)
    else:
        await tell(context, client, request)


async def answer_reply(context: AsyncBoltContext, client: AsyncWebClient, request: AsyncBoltRequest) -> None:
    if not request.headers.get("x-slack-retry-num"):  # the first delivery said it already
        after_ack(context, tell_replier(client, context["reply"], context["routed"]), "the reply's answer")


async def start_before_ack(
    body: dict[str, Any],
    event: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    next: Callable[[], Awaitable[None]],
) -> None:
    """Listener middleware: the question is checked and its run started before Bolt's ack."""
    asked = asked_by(body, event)
    outcome = await start_asked(
        context["settings"],
        context["temporal"],
        client,
        asked,
        context.bot_user_id,
        context["under_way"],
        context.get("workspace_tokens"),
        context.get("people"),
    )
    context["asked"], context["outcome"] = asked, outcome
    await next()


async def tell(context: AsyncBoltContext, client: AsyncWebClient, request: AsyncBoltRequest) -> None:
    retried = bool(request.headers.get("x-slack-retry-num"))
    after_ack(context, tell_in_thread(client, context["asked"], context["outcome"], retried), "the question's answer")


async def leave_alone() -> None:
    """Acked (Bolt acks events itself), and nothing else: chatter is not a question."""


async def offer_prompts(
    event: dict[str, Any], set_suggested_prompts: AsyncSetSuggestedPrompts | None, context: AsyncBoltContext
) -> None:
    """The pane's suggested questions. Opened from the Messages tab (the agent experience) the call names
    no thread: with one it would fail silently (setSuggestedPrompts' page); in an assistant thread, its thread."""
    if event.get("type") == "app_home_opened" and event.get("tab") != "messages":
        return
    if set_suggested_prompts is None:  # Bolt attaches it where the event names a conversation
        return
    after_ack(context, _set_prompts(set_suggested_prompts), "the suggested prompts")


async def _set_prompts(set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
    try:
        await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title=SUGGESTED_PROMPTS_TITLE)
    except SlackApiError as error:
        log.info("pane.prompts_not_set", error=error.response.get("error"))
