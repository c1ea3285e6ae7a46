"""What `/research schedules` shows: a channel's schedules (bot/schedules.py), each with its words, its
question, its next run in its creator's time zone, and the buttons Pause or Resume, Run now and Delete.

A button's value is the schedule's id, ``schedule-<team>-<channel>-<digest>``; a value that is not one
raises MalformedId, which the bot answers with a 400.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_ui.blocks import Block, Message, context, message, section
from slack_ui.ids import MalformedId
from slack_ui.mrkdwn import mention, safe

__all__ = [
    "SCHEDULE_ACTIONS",
    "SCHEDULE_DELETE",
    "SCHEDULE_PAUSE",
    "SCHEDULE_RESUME",
    "SCHEDULE_RUN_NOW",
    "ScheduleEntry",
    "decode_schedule_value",
    "local_time",
    "schedule_list_message",
]

SCHEDULE_PAUSE = "schedule_pause"
SCHEDULE_RESUME = "schedule_resume"
SCHEDULE_RUN_NOW = "schedule_run_now"
SCHEDULE_DELETE = "schedule_delete"
SCHEDULE_ACTIONS = (SCHEDULE_PAUSE, SCHEDULE_RESUME, SCHEDULE_RUN_NOW, SCHEDULE_DELETE)
MAX_LISTED = 15  # three blocks each, inside Slack's 50
_SCHEDULE_ID = re.compile(r"schedule-[A-Za-z0-9]{1,32}-[A-Za-z0-9]{1,32}-[0-9a-f]{16}")


@dataclass(frozen=True)
class ScheduleEntry:
    """One schedule as the list shows it."""

    schedule_id: str
    says: str  # "every Monday at 09:00"
    question: str
    creator: str
    time_zone: str
    paused: bool
    next_run: datetime | None
    publish: bool = False


def decode_schedule_value(value: object) -> str:
    """The schedule id a schedule button carries; MalformedId if it is not one of ours."""
    if not isinstance(value, str) or not _SCHEDULE_ID.fullmatch(value):
        raise MalformedId("not a schedule button value")
    return value


def schedule_list_message(entries: Sequence[ScheduleEntry]) -> Message:
    if not entries:
        text = "This channel has no research schedules. Make one with `/research every monday 09:00 <question>`."
        return message("This channel has no research schedules.", [section(text.replace("<", "&lt;"))])
    blocks: list[Block] = []
    for entry in entries[:MAX_LISTED]:
        blocks += _entry_blocks(entry)
    if len(entries) > MAX_LISTED:
        blocks.append(context(f"…and {len(entries) - MAX_LISTED} more"))
    return message(f"This channel has {len(entries)} research schedule(s)", blocks)


def _entry_blocks(entry: ScheduleEntry) -> list[Block]:
    state = "⏸ paused" if entry.paused else f"next run {local_time(entry.next_run, entry.time_zone)}"
    review = "publishes directly when every claim is verified" if entry.publish else "drafts for review"
    text = f"*{safe(entry.says, 120)}* ({safe(entry.time_zone, 60)}): {safe(entry.question, 300)}"
    toggle = _button("Resume", SCHEDULE_RESUME, entry) if entry.paused else _button("Pause", SCHEDULE_PAUSE, entry)
    delete = _button("Delete", SCHEDULE_DELETE, entry) | {
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": "Delete this schedule?"},
            "text": {"type": "plain_text", "text": "No more runs will start. Runs already started go on."},
            "confirm": {"type": "plain_text", "text": "Delete"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }
    return [
        section(text),
        context(f"{state} · {review} · made by {mention(entry.creator)}"),
        {
            "type": "actions",
            "block_id": f"schedule-{entry.schedule_id.rsplit('-', 1)[-1]}",
            "elements": [toggle, _button("Run now", SCHEDULE_RUN_NOW, entry), delete],
        },
    ]


def _button(label: str, action_id: str, entry: ScheduleEntry) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": entry.schedule_id,
    }


def local_time(moment: datetime | None, time_zone: str) -> str:
    """A run's time as its creator reads it: ``Mon 07 Dec 09:00``."""
    if moment is None:
        return "not planned"
    return f"{moment.astimezone(ZoneInfo(time_zone)):%a %d %b %H:%M}"
