"""bot/under_way.py: what the bot acknowledged and has not finished is finished, or its failure logged."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from bot.under_way import UnderWay


async def test_work_after_the_ack_runs_and_a_stopping_bot_waits_for_it() -> None:
    under_way, release, done = UnderWay(), asyncio.Event(), []

    async def answer() -> None:
        await release.wait()
        done.append("answered")

    under_way.after_ack(answer(), "an answer")
    draining = asyncio.create_task(under_way.drain())
    await asyncio.sleep(0)
    assert not draining.done()  # it waits for the answer still on its way
    release.set()
    await draining
    assert done == ["answered"]


async def test_a_failure_after_the_ack_is_logged_with_what_it_was() -> None:
    under_way = UnderWay()

    async def broken() -> None:
        raise RuntimeError("Slack went away")

    with capture_logs() as logs:
        under_way.after_ack(broken(), "the decision modal")
        await under_way.drain()
    failed = [entry for entry in logs if entry["event"] == "bot.after_ack_failed"]
    assert [entry["what"] for entry in failed] == ["the decision modal"]
    assert failed[0]["log_level"] == "error"


async def test_drain_gives_up_at_its_timeout() -> None:
    under_way, never = UnderWay(), asyncio.Event()
    under_way.after_ack(never.wait(), "a start that never ends")
    await under_way.drain(timeout=0.05)  # returns; the bot stops anyway
