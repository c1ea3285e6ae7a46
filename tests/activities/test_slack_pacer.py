"""The Slack write scheduler: what people wait for goes first, informing writes coalesce to each
message's latest state and are never starved, posts are spaced per channel, 429s are absorbed.

The scheduler runs on a fake clock whose sleeps the tests release one slot at a time, so the tests
assert orders and counts, never durations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from activities.slack.limits import INFORMING_BURST, Budget, digest
from activities.slack.reporter import SlackReporter
from activities.slack.writes import SlackWrites, Superseded, TooLate
from sandbox import SlackApiServer
from slack_ui import thread
from tests.activities.slack_runs import ALICE, RecordingReporter, Run, context_in
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, DecisionRecord, Draft, Stage

ONE_A_SLOT = {
    "chat.update": Budget(interval=1.0, burst=1),
    "chat.postMessage": Budget(interval=1.0, burst=1),
}


class Slots:
    """A fake clock whose sleeps wait until the test lets one slot pass."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleepers = self.passed = 0
        self._tick = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        async with self._tick:
            self.sleepers += 1
            try:
                await self._tick.wait()
            finally:  # woken early by a waited write, the scheduler cancels its sleep
                self.sleepers -= 1
            self.passed += 1
        self.now += seconds

    async def next(self) -> None:
        """Let the scheduler take its next slot."""
        await until(lambda: self.sleepers > 0)
        target = self.passed + 1
        async with self._tick:
            self._tick.notify_all()
        await until(lambda: self.passed >= target)
        for _ in range(5):
            await asyncio.sleep(0)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Let slots pass, one at a time, until ``condition`` holds."""
        for _ in range(10_000):
            if condition():
                return
            if self.sleepers:
                await self.next()
            else:
                await asyncio.sleep(0.001)
        raise AssertionError("never happened")


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("never happened")


def writes_on(slots: Slots, **options: Any) -> SlackWrites:
    return SlackWrites(ONE_A_SLOT, clock=slots.clock, sleep=slots.sleep, **options)


def recorder(sent: list[str]) -> Callable[[str], Callable[[], Awaitable[str]]]:
    def send(label: str) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            sent.append(label)
            return label

        return call

    return send


async def test_waited_writes_go_before_informing_ones_that_came_first() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    first = asyncio.create_task(writes.write("chat.update", "C1", send("refresh-0"), waited=False, message="m0"))
    await until(lambda: sent == ["refresh-0"])  # the first takes the free slot at once
    informing = [
        asyncio.create_task(writes.write("chat.update", f"C{i}", send(f"refresh-{i}"), waited=False, message=f"m{i}"))
        for i in range(1, 4)
    ]
    await asyncio.sleep(0)
    decision = asyncio.create_task(writes.write("chat.update", "C9", send("decision"), waited=True, message="d"))
    await asyncio.sleep(0)
    while len(sent) < 5:
        await slots.next()
    await asyncio.gather(first, decision, *informing)
    assert sent == ["refresh-0", "decision", "refresh-1", "refresh-2", "refresh-3"]


@pytest.mark.parametrize("finals", [1, 2, 4])
async def test_final_states_spend_their_share_of_the_burst_and_leave_the_rest_to_a_click(finals: int) -> None:
    slots, sent = Slots(), []
    budget = Budget(interval=1.0, burst=finals + 1, finals=finals)
    writes, send = SlackWrites({"chat.update": budget}, clock=slots.clock, sleep=slots.sleep), recorder(sent)
    progress = [
        asyncio.create_task(writes.write("chat.update", "C1", send(f"final {n}"), waited=False, message=n, final=True))
        for n in range(finals + 2)
    ]
    await until(lambda: len(sent) == finals and slots.sleepers > 0)  # their share, at once: no slot passed
    decision = asyncio.create_task(writes.write("chat.update", "C1", send("decision"), waited=True))
    await until(lambda: "decision" in sent)  # the slot kept for the click, still without a slot passing
    assert slots.passed == 0
    await slots.until(lambda: len(sent) == finals + 3)
    await asyncio.gather(decision, *progress)
    assert sent.index("decision") == finals


async def test_intermediate_states_leave_the_burst_to_final_ones() -> None:
    slots, sent = Slots(), []
    budget = Budget(interval=1.0, burst=8, finals=6)
    writes, send = SlackWrites({"chat.update": budget}, clock=slots.clock, sleep=slots.sleep), recorder(sent)
    steps = [
        asyncio.create_task(writes.write("chat.update", "C1", send(f"step {n}"), waited=False, message=n))
        for n in range(6)
    ]
    await until(lambda: len(sent) == INFORMING_BURST and slots.sleepers > 0)
    finals = [
        asyncio.create_task(
            writes.write("chat.update", "C1", send(f"final {n}"), waited=False, message=f"f{n}", final=True)
        )
        for n in range(6)
    ]
    # The finals find the burst the intermediate states left: 6 - INFORMING_BURST more, no slot passing.
    await until(lambda: len(sent) == 6 and slots.sleepers > 0)
    assert slots.passed == 0 and sent[INFORMING_BURST:] == [f"final {n}" for n in range(6 - INFORMING_BURST)]
    await slots.until(lambda: len(sent) == 12)
    await asyncio.gather(*steps, *finals)


def test_a_budget_never_lets_informing_writes_spend_more_than_its_burst() -> None:
    assert Budget(interval=1.0, burst=2, finals=6).informing_burst(final=True) == 2
    assert Budget(interval=1.0, burst=5, finals=0).informing_burst(final=True) == 1  # the average rate, at least
    assert Budget(interval=1.0, burst=9, finals=6).informing_burst(final=False) == INFORMING_BURST


async def test_informing_writes_coalesce_to_the_latest_state_of_each_message() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    await writes.write("chat.update", "C1", send("other"), waited=False, message="other")  # uses the free slot
    progress = [
        asyncio.create_task(writes.write("chat.update", "C1", send(f"progress v{n}"), waited=False, message="p"))
        for n in range(1, 4)
    ]
    root = asyncio.create_task(writes.write("chat.update", "C1", send("root v1"), waited=False, message="r"))
    newest = asyncio.create_task(writes.write("chat.update", "C1", send("progress v4"), waited=False, message="p"))
    await asyncio.sleep(0)
    while len(sent) < 3:
        await slots.next()
    results = await asyncio.gather(*progress, root, newest, return_exceptions=True)
    # Only the newest progress is sent, and in the place of the first one: before the root's refresh.
    assert sent == ["other", "progress v4", "root v1"]
    assert [isinstance(r, Superseded) for r in results] == [True, True, True, False, False]


async def test_a_waited_write_replaces_a_waiting_informing_write_of_the_same_message() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    await writes.write("chat.update", "C1", send("other"), waited=False, message="other")
    stale = asyncio.create_task(writes.write("chat.update", "C1", send("root status"), waited=False, message="r"))
    await asyncio.sleep(0)
    final = asyncio.create_task(writes.write("chat.update", "C1", send("root final"), waited=True, message="r"))
    await asyncio.sleep(0)
    while len(sent) < 2:
        await slots.next()
    with pytest.raises(Superseded):
        await stale
    assert await final == "root final" and sent == ["other", "root final"]


async def test_an_informing_write_that_waited_long_enough_goes_before_waited_ones() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots, starve_after=3.0), recorder(sent)
    tasks = [asyncio.create_task(writes.write("chat.update", "C1", send("w0"), waited=True))]
    await until(lambda: sent == ["w0"])
    tasks.append(asyncio.create_task(writes.write("chat.update", "C1", send("progress"), waited=False, message="p")))
    await asyncio.sleep(0)
    for n in range(1, 8):  # a steady stream of waited writes, one more for every slot
        tasks.append(asyncio.create_task(writes.write("chat.update", "C1", send(f"w{n}"), waited=True)))
        await asyncio.sleep(0)
        await slots.next()
    while len(sent) < 9:
        await slots.next()
    await asyncio.gather(*tasks)
    # One slot a second: three seconds after it came, the progress refresh goes ahead of the waited line.
    assert sent.index("progress") == 3
    assert [s for s in sent if s != "progress"] == [f"w{n}" for n in range(8)]


async def test_a_message_refreshed_again_and_again_still_gets_its_turn() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots, starve_after=3.0), recorder(sent)
    tasks = [asyncio.create_task(writes.write("chat.update", "C1", send("w0"), waited=True))]
    await until(lambda: sent == ["w0"])
    for n in range(1, 6):  # every slot, a click and a newer state of the checklist
        tasks.append(asyncio.create_task(writes.write("chat.update", "C1", send(f"w{n}"), waited=True)))
        tasks.append(
            asyncio.create_task(writes.write("chat.update", "C1", send(f"progress v{n}"), waited=False, message="p"))
        )
        await asyncio.sleep(0)
        if n < 5:
            await slots.next()
    await slots.until(lambda: len(sent) == 8)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # Replaced by newer states, the checklist keeps its wait so far: three slots after its first state
    # came, its latest state goes, between the clicks.
    assert sent == ["w0", "w1", "w2", "progress v3", "w3", "w4", "progress v5", "w5"]
    assert sum(isinstance(r, Superseded) for r in results) == 3


async def test_a_backlog_of_starving_informing_writes_takes_every_other_slot_only() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots, starve_after=3.0), recorder(sent)
    tasks = [asyncio.create_task(writes.write("chat.update", "C1", send("w0"), waited=True))]
    await until(lambda: sent == ["w0"])
    for n in range(6):  # a backlog of refreshes of six messages
        tasks.append(asyncio.create_task(writes.write("chat.update", "C1", send(f"i{n}"), waited=False, message=n)))
    await slots.until(lambda: len(sent) == 4)  # three slots pass: the backlog has waited three seconds
    for n in range(1, 3):  # two clicks come in
        tasks.append(asyncio.create_task(writes.write("chat.update", "C1", send(f"w{n}"), waited=True)))
    await asyncio.sleep(0)
    await slots.until(lambda: len(sent) == 9)
    await asyncio.gather(*tasks)
    # The starving backlog and the clicks take turns, instead of the clicks waiting behind it all.
    assert sent == ["w0", "i0", "i1", "i2", "i3", "w1", "i4", "w2", "i5"]


async def test_posts_are_spaced_per_channel_and_updates_per_workspace() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    tasks = [
        asyncio.create_task(writes.write("chat.postMessage", "C1", send("C1 first"), waited=True)),
        asyncio.create_task(writes.write("chat.postMessage", "C1", send("C1 second"), waited=True)),
        asyncio.create_task(writes.write("chat.postMessage", "C2", send("C2 first"), waited=True)),
        asyncio.create_task(writes.write("chat.update", "C1", send("C1 update"), waited=True, message="a")),
        asyncio.create_task(writes.write("chat.update", "C2", send("C2 update"), waited=True, message="b")),
    ]
    await until(lambda: len(sent) == 3)
    # Each channel's first post and the first update go at once: their budgets are separate.
    assert sorted(sent) == ["C1 first", "C1 update", "C2 first"]
    await slots.until(lambda: len(sent) == 5)
    await asyncio.gather(*tasks)
    assert sorted(sent[3:]) == ["C1 second", "C2 update"]


async def test_a_burst_goes_at_once_then_one_write_a_slot() -> None:
    slots, sent = Slots(), []
    writes = SlackWrites({"chat.postMessage": Budget(interval=1.0, burst=3)}, clock=slots.clock, sleep=slots.sleep)
    send = recorder(sent)
    tasks = [
        asyncio.create_task(writes.write("chat.postMessage", "C1", send(f"post {n}"), waited=True)) for n in range(5)
    ]
    await until(lambda: len(sent) == 3)
    await asyncio.sleep(0.01)
    assert len(sent) == 3  # the rest wait for their slots
    await slots.next()
    assert len(sent) == 4
    await slots.next()
    await asyncio.gather(*tasks)
    assert sent == [f"post {n}" for n in range(5)]


async def test_unchanged_content_is_remembered_per_message() -> None:
    writes = SlackWrites({})
    assert writes.already_sent(("C1", "1.2"), digest({"text": "a"})) is False
    writes.sent(("C1", "1.2"), digest({"text": "a"}))
    assert writes.already_sent(("C1", "1.2"), digest({"text": "a"})) is True
    assert writes.already_sent(("C1", "1.2"), digest({"text": "b"})) is False


# ------------------------------------------------------------------ through the reporter, into the sandbox Slack


@pytest.fixture
async def scheduled(slack: SlackApiServer) -> AsyncIterator[tuple[SlackReporter, Slots, SlackWrites]]:
    slots = Slots()
    writes = SlackWrites({"chat.update": Budget(interval=1.0, burst=1)}, clock=slots.clock, sleep=slots.sleep)
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        yield SlackReporter(client, RecordingReporter(), http, writes=writes), slots, writes


def draft_of(round: int = 1) -> Draft:
    return Draft(round=round, text="The answer [1].", sources=[])


async def awaiting(reporter: SlackReporter, name: str) -> Run:
    run = Run(reporter, context_in())
    run.status = run.status.model_copy(update={"workflow_id": name})
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.PROGRESS, stage=Stage.SEARCHING, searches_total=3)
    return run


async def test_a_decision_is_shown_before_the_progress_refreshes_queued_before_it(
    slack: SlackApiServer, scheduled: tuple[SlackReporter, Slots, SlackWrites]
) -> None:
    reporter, slots, _ = scheduled
    decided = await awaiting(reporter, "research-decided")
    await decided.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=draft_of(), draft_round=1)
    others = [await awaiting(reporter, f"research-{n}") for n in range(4)]
    for n, run in enumerate(others):  # four runs move on: their checklists and roots wait for updates
        await run.send(ProgressKind.PROGRESS, stage=Stage.SEARCHING, searches_total=3, searches_done=1 + n % 2)
    record = DecisionRecord(
        kind=DecisionKind.APPROVE, draft_round=1, decided_by=ALICE, at=datetime.now(UTC), via="update"
    )
    before = len(slack.calls_to("chat.update"))
    decision = asyncio.create_task(decided.send(ProgressKind.DECISION, decisions=[record]))
    await slots.until(decision.done)
    await decision
    updated = [call.params["ts"] for call in slack.calls_to("chat.update")[before:]]
    # At most the one update already granted when the decision came in goes before it.
    assert decided.messages["draft-1"] in updated[:2]
    await slots.until(lambda: not reporter._refreshing)
    await reporter.settle()
    for run in [decided, *others]:  # and every checklist ends in its latest state
        shown = next(m for m in slack.workspace.messages["CRESEARCH"] if m["ts"] == run.messages["progress"])
        assert shown["text"] == thread.progress_message(run.status)["text"]


async def test_a_429_pauses_the_line_and_the_write_is_sent_again_once(slack: SlackApiServer) -> None:
    writes = SlackWrites({})
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    reporter = SlackReporter(client, RecordingReporter(), writes=writes)
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    slack.rate_limit("chat.postMessage", times=2, retry_after=0)
    await run.send(ProgressKind.PLAN, draft_round=1, sub_questions=["q"])
    assert writes.rate_limited == 2
    assert len(slack.calls_to("chat.postMessage")) == 4  # root, two 429s, the plan
    plans = [m for m in slack.workspace.messages["CRESEARCH"] if (m.get("metadata") or {}).get("event_payload")]
    assert sorted(m["metadata"]["event_payload"]["step"] for m in plans) == ["plan-1", "root"]


async def test_an_informing_write_goes_through_however_many_429s_and_a_waited_one_gives_up(
    slack: SlackApiServer,
) -> None:
    writes = SlackWrites({}, rate_limited_tries=2)
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    await client.conversations_join(channel="CRESEARCH")
    posted = await client.chat_postMessage(channel="CRESEARCH", text="v1")
    slack.rate_limit("chat.update", times=3, retry_after=0)
    update = lambda: client.chat_update(channel="CRESEARCH", ts=posted["ts"], text="v2")  # noqa: E731
    await writes.write("chat.update", "CRESEARCH", update, waited=False, message=("CRESEARCH", posted["ts"]))
    assert writes.rate_limited == 3 and slack.workspace.messages["CRESEARCH"][0]["text"] == "v2"

    slack.rate_limit("chat.update", times=2, retry_after=0)
    with pytest.raises(SlackApiError) as limited:  # the reporter makes it a Temporal retry after Retry-After
        await writes.write("chat.update", "CRESEARCH", update, waited=True)
    assert limited.value.response.status_code == 429 and writes.rate_limited == 5


async def test_a_final_state_goes_before_the_intermediate_states_of_other_messages() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    await writes.write("chat.update", "C1", send("other"), waited=False, message="other")  # uses the free slot
    waiting = [
        asyncio.create_task(writes.write("chat.update", "C1", send(f"progress {n}"), waited=False, message=n))
        for n in range(3)
    ]
    last = asyncio.create_task(writes.write("chat.update", "C1", send("final 9"), waited=False, message=9, final=True))
    await asyncio.sleep(0)
    while len(sent) < 5:
        await slots.next()
    await asyncio.gather(*waiting, last)
    assert sent == ["other", "final 9", "progress 0", "progress 1", "progress 2"]


async def test_finals_go_in_the_order_their_runs_ended_not_in_line_order() -> None:
    slots, sent = Slots(), []
    writes, send = writes_on(slots), recorder(sent)
    await writes.write("chat.update", "C1", send("other"), waited=False, message="other")  # uses the free slot
    # Three progress messages wait in line, 0 first; run 2 ends first, run 0 a slot's time later.
    waiting = [
        asyncio.create_task(writes.write("chat.update", "C1", send(f"progress {n}"), waited=False, message=n))
        for n in range(3)
    ]
    await asyncio.sleep(0)
    ended = [
        asyncio.create_task(writes.write("chat.update", "C1", send("final 2"), waited=False, message=2, final=True))
    ]
    await asyncio.sleep(0)
    slots.now += 0.5  # the clock moves on, no slot taken
    ended.append(
        asyncio.create_task(writes.write("chat.update", "C1", send("final 0"), waited=False, message=0, final=True))
    )
    await asyncio.sleep(0)
    while len(sent) < 4:
        await slots.next()
    await asyncio.gather(*ended, *waiting, return_exceptions=True)
    assert sent == ["other", "final 2", "final 0", "progress 1"]


async def test_a_write_not_granted_within_its_deadline_is_withdrawn_and_never_sent() -> None:
    sent: list[str] = []
    writes, send = SlackWrites({"chat.postMessage": Budget(interval=2.0, burst=1)}), recorder(sent)
    await writes.write("chat.postMessage", "C1", send("first"), waited=True)  # spends the burst
    with pytest.raises(TooLate):  # its turn is 2 s away
        await writes.write("chat.postMessage", "C1", send("held"), waited=True, within=0.05)
    # The same when the attempt holding it is cancelled (a heartbeat found it timed out).
    cancelled = asyncio.create_task(writes.write("chat.postMessage", "C1", send("cancelled"), waited=True, within=60))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await writes.write("chat.postMessage", "C1", send("next"), waited=True)
    assert sent == ["first", "next"]
