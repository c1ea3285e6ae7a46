"""Research on a schedule, end to end (the sandbox Slack, the real bot over signed HTTP, a `researchbot worker`
process, the Temporal dev server: the time-skipping one has no schedules): `/research every …` makes a Temporal
Schedule in the asker's time zone, once however often Slack delivers the command; `/research schedules` lists
it with its buttons, which its creator and the approvers may press and nobody else; Run now and a backfill
start runs in the channel; words that cannot be read get one line saying what to write."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from bot.schedules import schedule_id_for
from sandbox import Channel, SlackApiServer
from slack_ui.ids import parse_workflow_id
from slack_ui.what_changed import FIRST_RUN
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    QUESTION,
    STRANGER,
    Stack,
    ask,
    clicked,
    command_fields,
    draft,
    eventually,
    messages,
    report,
    runs_asked_in,
    status_of,
    workflow_id_of,
)
from workflows.models import Outcome, ResearchRequest
from workflows.publication import PUBLISHER

T = TypeVar("T")
PARIS = ZoneInfo("Europe/Paris")
GUEST = "UGUESTSCHED"
WEEKLY = "every monday 09:00 What did Temporal change about retries?"


@pytest.fixture(scope="module", autouse=True)
def people(slack: SlackApiServer) -> None:
    """The asker's Slack profile says Paris; the guest is a multi-channel guest."""
    slack.workspace.users[ASKER].tz = "Europe/Paris"
    slack.workspace.add_user("guest", id=GUEST).is_restricted = True


async def until(find: Callable[[], Awaitable[T | None]], what: str, seconds: float = 60) -> T:
    """Poll an async ``find`` until it returns something truthy (Temporal's visibility trails a write)."""
    deadline = time.monotonic() + seconds
    while not (found := await find()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened")
        await asyncio.sleep(0.2)
    return found


def ephemeral_messages(stack: Stack, channel: Channel, user: str) -> list[dict[str, Any]]:
    with stack.workspace.lock:
        return [dict(e) for e in stack.workspace.ephemerals if e["channel"] == channel.id and e["user"] == user]


async def listed(stack: Stack, channel: Channel, user: str, wanted: Callable[[str], bool]) -> dict[str, Any]:
    """`/research schedules` until its private answer shows what ``wanted`` looks for: that answer."""

    async def find() -> dict[str, Any] | None:
        seen = len(ephemeral_messages(stack, channel, user))
        assert (await ask(stack, channel, "schedules", user)).status_code == 200
        answer = (await eventually(lambda: ephemeral_messages(stack, channel, user)[seen:], "the list"))[0]
        return answer if wanted(str(answer.get("text")) + str(answer.get("blocks"))) else None

    return await until(find, "the schedule in the channel's list")


async def press(stack: Stack, channel: Channel, shown: dict[str, Any], label: str, user: str) -> str:
    """``user`` presses ``label`` on the (private) list: the one line they are told."""
    block = next(b for b in shown["blocks"] if b["type"] == "actions")
    button = next(e for e in block["elements"] if e["text"]["text"] == label)
    seen = len(ephemeral_messages(stack, channel, user))
    payload = clicked(stack, channel, shown, button, block["block_id"], user, ephemeral=True)
    assert (await stack.http.interaction(payload)).status_code == 200
    return str(
        (await eventually(lambda: ephemeral_messages(stack, channel, user)[seen:], f"{label}'s answer"))[0]["text"]
    )


async def request_of(stack: Stack, described: ScheduleDescription) -> ResearchRequest:
    """The request each run of the schedule starts with (a describe hands back its payload undecoded)."""
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    (request,) = await stack.client.data_converter.decode(action.args, [ResearchRequest])  # type: ignore[arg-type]
    return request


async def paused(handle: ScheduleHandle) -> bool:
    return (await handle.describe()).schedule.state.paused


async def test_a_weekly_schedule_is_made_listed_paused_resumed_run_and_deleted(stack: Stack, channel: Channel) -> None:
    fields = command_fields(stack, channel, WEEKLY)
    made = await stack.http.command(**fields)
    said = made.json()["text"]
    assert made.status_code == 200 and said.startswith(
        "📅 Scheduled every Monday at 09:00 (Europe/Paris, your time zone)"
    )
    again = await stack.http.command(**fields)  # Slack's retry of the same command
    assert again.status_code == 200 and "already set in this channel" in again.json()["text"]

    schedule_id = schedule_id_for(stack.workspace.team_id, channel.id, WEEKLY)
    handle = stack.client.get_schedule_handle(schedule_id)
    described = await handle.describe()
    (calendar,) = described.schedule.spec.calendars
    assert (described.schedule.spec.time_zone_name, calendar.hour[0].start, calendar.day_of_week[0].start) == (
        "Europe/Paris",
        9,
        1,
    )
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert described.schedule.policy.catchup_window == timedelta(hours=1)
    first = described.info.next_action_times[0].astimezone(PARIS)
    assert (first.weekday(), first.hour, first.minute) == (0, 9, 0) and first > datetime.now(UTC)
    assert f"The first run: {first:%a %d %b %H:%M}." in said
    memo = await described.memo()
    assert (memo["creator"], memo["channel"], memo["question"]) == (ASKER, channel.id, WEEKLY.split(" ", 3)[3])
    request = await request_of(stack, described)
    assert request.schedule is not None and request.schedule.schedule_id == schedule_id
    assert not request.publish_when_verified and request.requested_by == ASKER

    shown = await listed(stack, channel, ASKER, lambda text: "every Monday at 09:00" in text)
    assert f"next run {first:%a %d %b %H:%M}" in str(shown["blocks"]) and str(shown["blocks"]).count("Pause") == 1
    assert str(shown["blocks"]).count("Run now") == 1  # Slack's retry made no second schedule

    refused = await press(stack, channel, shown, "Pause", STRANGER)
    assert refused.startswith(f"Only <@{ASKER}>, who made this schedule") and not await paused(handle)
    assert (await press(stack, channel, shown, "Pause", ASKER)).startswith("⏸ Paused") and await paused(handle)
    shown = await listed(stack, channel, APPROVER, lambda text: "Resume" in text and "paused" in text)
    assert (await press(stack, channel, shown, "Resume", APPROVER)).startswith("▶️ Resumed")
    assert not await paused(handle)

    assert (await press(stack, channel, shown, "Run now", ASKER)).startswith("🔎 Started a run now")
    message = await eventually(lambda: draft(stack, channel, 1), "the scheduled run's draft", stack)
    workflow_id = workflow_id_of(message)
    address = parse_workflow_id(workflow_id)
    assert address is not None and (address.user_id, address.channel_id) == (ASKER, channel.id)
    assert workflow_id.startswith(described.schedule.action.id + "-")  # type: ignore[union-attr]
    assert (await press(stack, channel, shown, "Run now", ASKER)).startswith("Its last run is still going")

    assert (await press(stack, channel, shown, "Delete", ASKER)).startswith("🗑 Deleted")
    with pytest.raises(RPCError) as gone:
        await handle.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    await listed(stack, channel, ASKER, lambda text: "no research schedules" in text)
    assert (await press(stack, channel, shown, "Delete", ASKER)).startswith("That schedule no longer exists")
    await stack.handle(workflow_id).terminate("the test is over")


async def test_a_published_cron_schedule_keeps_its_choice_and_its_time_zone(stack: Stack, channel: Channel) -> None:
    text = f'--publish cron "30 7 * * 1-5" {QUESTION}'
    made = await ask(stack, channel, text)
    assert made.status_code == 200 and made.json()["text"].startswith("📅 Scheduled cron `30 7 * * 1-5`")
    assert "publishes its report directly when every claim is verified" in made.json()["text"]
    handle = stack.client.get_schedule_handle(schedule_id_for(stack.workspace.team_id, channel.id, text))
    described = await handle.describe()
    request = await request_of(stack, described)
    assert request.publish_when_verified and request.question == QUESTION
    for moment in described.info.next_action_times[:5]:
        local = moment.astimezone(PARIS)
        assert (local.weekday() < 5, local.hour, local.minute) == (True, 7, 30)
    await handle.trigger()
    published = await eventually(lambda: report(stack, channel), "the report, published without review", stack)
    assert f"approved by {PUBLISHER}" in str(published["blocks"])
    (run_id,) = await runs_asked_in(stack, channel)
    result = await stack.handle(run_id).result()
    assert result.outcome is Outcome.APPROVED and [d.decided_by for d in result.decisions] == [PUBLISHER]
    await handle.delete()


async def test_the_second_run_of_a_schedule_shows_what_changed_since_the_first(stack: Stack, channel: Channel) -> None:
    text = f"--publish every day 07:00 {QUESTION}"
    assert (await ask(stack, channel, text)).json()["text"].startswith("📅 Scheduled")
    handle = stack.client.get_schedule_handle(schedule_id_for(stack.workspace.team_id, channel.id, text))
    await handle.trigger()
    (first,) = await until(lambda: _runs(runs_asked_in(stack, channel), 1), "the first run")
    assert (await stack.handle(first).result()).outcome is Outcome.APPROVED  # archived once it returns
    await handle.trigger()
    runs = await until(lambda: _runs(runs_asked_in(stack, channel), 2), "the second run")
    (second,) = [run_id for run_id in runs if run_id != first]
    assert (await stack.handle(second).result()).outcome is Outcome.APPROVED
    by_thread = {m.get("thread_ts"): _what_changed(m) for m in messages(stack, channel) if _what_changed(m)}
    threads = [(await status_of(stack, run_id)).thread_ts for run_id in (first, second)]
    assert by_thread[threads[0]] == f"*What changed:* {FIRST_RUN}"
    # The same question over the same corpus: the offline model writes the same claims from the same sources.
    assert by_thread[threads[1]].startswith("*What changed since ") and "(previous run)*" in by_thread[threads[1]]
    assert by_thread[threads[1]].endswith("Nothing: the same sources and claims as then.")
    await handle.delete()


async def _runs(found: Awaitable[list[str]], count: int) -> list[str] | None:
    runs = await found
    return runs if len(runs) == count else None


def _what_changed(message: dict[str, Any]) -> str | None:
    """The "What changed" section a draft opens with (after its header and question), if any."""
    blocks = message.get("blocks") or []
    if not blocks or blocks[0].get("type") != "header" or not blocks[0]["text"]["text"].startswith("Draft "):
        return None
    text = blocks[2].get("text", {}).get("text", "") if len(blocks) > 2 else ""
    return text if text.startswith("*What changed") else None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("every monday 25:00 What changed?", "I couldn't read that schedule: 25:00 is not a time of day"),
        ('cron "0 99 * * 1" What changed?', "Temporal refused that schedule"),
        ("--publish What changed?", "`--publish` goes with a schedule"),
    ],
)
async def test_words_that_cannot_be_a_schedule_make_nothing_and_say_what_to_write(
    stack: Stack, channel: Channel, text: str, said: str
) -> None:
    answer = await ask(stack, channel, text)
    assert answer.status_code == 200 and answer.json()["text"].startswith(said)
    assert "every monday 09:00 &lt;question&gt;" in answer.json()["text"] or "Temporal" in said
    prefix = f"schedule-{stack.workspace.team_id}-{channel.id}-"
    assert [s.id async for s in await stack.client.list_schedules(f"ScheduleId STARTS_WITH '{prefix}'")] == []
    assert await runs_asked_in(stack, channel) == []


async def test_a_guest_may_not_make_a_schedule(stack: Stack, channel: Channel) -> None:
    channel.members.append(GUEST)
    answer = await ask(stack, channel, WEEKLY, GUEST)
    assert answer.status_code == 200 and answer.json()["text"].startswith("Guests can't start research here")
    with pytest.raises(RPCError):
        await stack.client.get_schedule_handle(schedule_id_for(stack.workspace.team_id, channel.id, WEEKLY)).describe()


async def test_three_weeks_of_a_weekly_schedule_start_three_runs(stack: Stack, channel: Channel) -> None:
    question = f"every monday 09:00 What shipped this week? {uuid.uuid4().hex[:6]}"
    assert (await ask(stack, channel, question)).json()["text"].startswith("📅 Scheduled")
    handle = stack.client.get_schedule_handle(schedule_id_for(stack.workspace.team_id, channel.id, question))
    await handle.pause()  # only the backfill starts runs, whatever today is
    now = datetime.now(UTC)
    await handle.backfill(
        ScheduleBackfill(start_at=now - timedelta(weeks=3), end_at=now, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    )
    started = await until(
        lambda: _three(runs_asked_in(stack, channel)), "three runs from three weeks of Mondays", seconds=120
    )
    times = sorted(datetime.fromisoformat(run_id[-20:]).astimezone(PARIS) for run_id in started)
    assert [(t.weekday(), t.hour) for t in times] == [(0, 9)] * 3
    assert [(b - a) for a, b in itertools.pairwise(times)] == [timedelta(weeks=1)] * 2
    for run_id in started:
        await stack.handle(run_id).terminate("the test is over")
    await handle.delete()


async def _three(runs: Awaitable[list[str]]) -> list[str] | None:
    found = await runs
    assert len(found) <= 3, f"more runs than Mondays: {found}"
    return found if len(found) == 3 else None
