"""A command's response_url, end to end (the sandbox Slack, the real bot and a `researchbot worker` process):
it never enters the run's workflow history, and the worker still tells the asker through it, in private,
when it cannot post in their channel (core/response_urls.py)."""

from __future__ import annotations

import contextlib
import uuid

import sqlalchemy as sa
from temporalio.service import RPCError

from sandbox import Channel
from tests.e2e.slack_stack import ASKER, QUESTION, Stack, command_fields, ephemerals, eventually, runs_asked_in


def migrated(stack: Stack) -> bool:
    """Whether the worker has created the table the bot writes the response_urls to."""
    engine = sa.create_engine(f"sqlite:///{stack.data}/archive.db")
    try:
        return "response_urls" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


async def test_the_asker_is_told_through_a_response_url_the_history_never_holds(stack: Stack) -> None:
    secret: Channel = stack.workspace.add_channel(f"secret-{uuid.uuid4().hex[:6]}", private=True, members=[ASKER])
    await eventually(lambda: migrated(stack), "the worker's migration of the archive", stack)
    fields = command_fields(stack, secret, QUESTION)
    token = fields["response_url"].rsplit("/", 1)[1]

    response = await stack.http.command(**fields)
    assert response.status_code == 200 and "Researching" in response.json()["text"]
    told = await eventually(lambda: ephemerals(stack, secret, ASKER), "the asker told the bot cannot post", stack)
    assert "/invite" in told[0]
    assert stack.workspace.response_urls[token]["uses"] == 1, "told through the command's own response_url"

    [workflow_id] = await runs_asked_in(stack, secret)
    history = await stack.handle(workflow_id).fetch_history()
    recorded = b"".join(event.SerializeToString() for event in history.events)
    assert b"response_url" not in recorded and token.encode() not in recorded
    assert b"/response/" not in recorded
    with contextlib.suppress(RPCError):  # a run that cannot post in its channel may have ended already
        await stack.handle(workflow_id).terminate("test over")
