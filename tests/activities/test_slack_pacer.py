"""The Slack pacer: posts spaced per channel after a short burst, stale updates dropped, unchanged ones not sent."""

from __future__ import annotations

import asyncio

from activities.slack_limits import SlackPacer, digest


async def test_pacer_spaces_posts_per_channel_and_drops_stale_updates() -> None:
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)  # let other waiters run, as a real sleep would
        now[0] += seconds

    pacer = SlackPacer(
        post_interval=1.0, update_interval=1.5, post_burst=1, update_burst=1, clock=lambda: now[0], sleep=sleep
    )
    await pacer.before_post("C1")
    await pacer.before_post("C2")
    await pacer.before_post("C1")
    assert slept == [1.0]  # only the second post in C1 waits

    slept.clear()
    assert await pacer.before_update("C1", "1.1") is True
    older, newer = await asyncio.gather(pacer.before_update("C1", "1.2"), pacer.before_update("C1", "1.2"))
    assert (older, newer) == (False, True)  # the older update of 1.2 waited, and a newer one replaced it
    assert pacer.already_sent("C1", "1.2", digest({"text": "a"})) is False
    pacer.sent("C1", "1.2", digest({"text": "a"}))
    assert pacer.already_sent("C1", "1.2", digest({"text": "a"})) is True


async def test_pacer_lets_a_short_burst_through_then_keeps_the_average_rate() -> None:
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = SlackPacer(post_interval=1.0, post_burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await pacer.before_post("C1")
    assert slept == [1.0, 1.0]  # three at once, then one a second
