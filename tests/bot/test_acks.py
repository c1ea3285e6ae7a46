"""PendingAcks: work that can wait (starting a run) waits for the acks still owed to Slack."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.acks import PendingAcks

HTTP = {"type": "http", "method": "POST", "path": "/slack/events", "headers": []}


def slack_request(release: asyncio.Event, fail: bool = False) -> Any:
    """An ASGI app that answers once ``release`` is set (or raises instead of answering)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        if fail:
            raise RuntimeError("the listener blew up")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})

    return app


async def nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def sent(message: dict[str, Any]) -> None:
    pass


async def still_waiting(task: asyncio.Task[None]) -> bool:
    await asyncio.sleep(0.1)  # a wait, not a timing assertion: the task must not finish meanwhile
    return not task.done()


async def test_work_waits_until_every_request_in_flight_has_its_answer() -> None:
    acks = PendingAcks(quiet=0.01, max_wait=30)
    first, second = asyncio.Event(), asyncio.Event()
    requests = [asyncio.create_task(acks.track(slack_request(gate))(HTTP, nothing, sent)) for gate in (first, second)]
    await asyncio.sleep(0)
    work = asyncio.create_task(acks.settled())
    assert await still_waiting(work)
    first.set()
    assert await still_waiting(work), "one request still waits for its answer"
    second.set()
    await asyncio.gather(*requests)
    await asyncio.wait_for(work, 30)


async def test_a_request_that_fails_before_answering_is_no_longer_waited_for() -> None:
    acks = PendingAcks(quiet=0.01, max_wait=30)
    gate = asyncio.Event()
    request = asyncio.create_task(acks.track(slack_request(gate, fail=True))(HTTP, nothing, sent))
    await asyncio.sleep(0)
    work = asyncio.create_task(acks.settled())
    gate.set()
    with pytest.raises(RuntimeError):
        await request
    await asyncio.wait_for(work, 30)


async def test_a_request_that_never_ends_holds_work_back_only_for_max_wait() -> None:
    acks = PendingAcks(quiet=0.01, max_wait=0.2)
    request = asyncio.create_task(acks.track(slack_request(asyncio.Event()))(HTTP, nothing, sent))
    await asyncio.sleep(0)
    await asyncio.wait_for(acks.settled(), 30)
    assert not request.done()
    request.cancel()


async def test_with_nothing_tracked_work_goes_ahead_at_once() -> None:
    await asyncio.wait_for(PendingAcks(quiet=0.01, max_wait=30).settled(), 30)


async def test_a_stopping_bot_waits_for_the_work_it_owes_acked_requests() -> None:
    acks = PendingAcks(quiet=0.01, max_wait=30)
    started, finish = asyncio.Event(), asyncio.Event()

    async def start_the_run() -> None:
        async with acks.after_ack():
            started.set()
            await finish.wait()

    owed = asyncio.create_task(start_the_run())
    await started.wait()
    draining = asyncio.create_task(acks.drain(timeout=30))
    assert await still_waiting(draining)
    finish.set()
    await asyncio.wait_for(draining, 30)
    await owed


async def test_drain_gives_up_after_its_timeout() -> None:
    acks = PendingAcks(quiet=0.01, max_wait=30)
    entered = asyncio.Event()

    async def stuck() -> None:
        async with acks.after_ack():
            entered.set()
            await asyncio.Event().wait()

    owed = asyncio.create_task(stuck())
    await entered.wait()
    await asyncio.wait_for(acks.drain(timeout=0.1), 30)
    owed.cancel()
