"""/research <question> | status | schedules | every … | help: answer within Slack's 3 seconds.

Empty or `help`: how to use it. `status`: the asker's recent runs (bot/from_command.py). `every …` or
`cron "…"` makes a schedule, `schedules` lists the channel's (bot/schedules.py). A question, after
an optional `--review-plan` (or `--no-review-plan`: the plan waits for a review before searching, or not), is
checked, then started before it is acked, so a 200 means a run (or an honest "queued"; see
bot/start_in_time.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.from_command import review_flag, start_research, your_runs
from bot.schedule_phrases import EXAMPLES, looks_like_schedule, split_flags
from bot.schedules import channel_schedules, create_schedule
from bot.under_way import after_ack
from slack_ui.mrkdwn import unescape
from slack_ui.replies import help_message, usage_message
from workflows.models import clean_question

__all__ = ["register", "research"]

PUBLISH_NEEDS_SCHEDULE = f"`--publish` goes with a schedule, such as {EXAMPLES}. Nothing was started."


def register(app: AsyncApp) -> None:
    app.command("/research")(research)


async def research(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    text = unescape(str(command.get("text") or "")).strip()
    if text.lower() in ("", "help"):
        await ack(**(help_message() if text else usage_message()))
    elif text.lower() == "status":
        await ack()
        after_ack(context, _answer_status(respond, context, client, command), "status")
    elif text.lower() == "schedules":
        await ack()
        after_ack(context, _answer_schedules(respond, context, command), "schedules")
    elif looks_like_schedule(split_flags(text)[1]):
        start = await create_schedule(
            context["settings"], context["temporal"], command, text, context["under_way"], context.get("people")
        )
        await ack(response_type="ephemeral", **start.ack)
        if start.later is not None:
            after_ack(context, _answer_later(respond, start.later), "a queued schedule's answer")
    elif "--publish" in split_flags(text)[0]:
        await ack(response_type="ephemeral", text=PUBLISH_NEEDS_SCHEDULE)
    else:
        review_plan, text = review_flag(text)
        try:
            question = clean_question(text)
        except ValueError as refused:
            await ack(response_type="ephemeral", text=f"Sorry, I can't research that: {refused}.")
            return
        start = await start_research(
            context["settings"],
            context["temporal"],
            command,
            question,
            context["under_way"],
            review_plan,
            context.get("response_urls"),
            context.get("workspace_tokens"),
            context.get("people"),
        )
        await ack(response_type="ephemeral", **start.ack)
        if start.later is not None:
            after_ack(context, _answer_later(respond, start.later), "a queued start's answer")


async def _answer_status(
    respond: AsyncRespond, context: AsyncBoltContext, client: AsyncWebClient, command: dict[str, Any]
) -> None:
    await respond(response_type="ephemeral", **await your_runs(context["temporal"], client, command))


async def _answer_schedules(respond: AsyncRespond, context: AsyncBoltContext, command: dict[str, Any]) -> None:
    await respond(response_type="ephemeral", **await channel_schedules(context["temporal"], command))


async def _answer_later(respond: AsyncRespond, later: Awaitable[dict[str, Any]]) -> None:
    await respond(response_type="ephemeral", **await later)
