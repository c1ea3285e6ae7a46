"""The list `/research schedules` shows, the schedule buttons' values, and the ids of runs a schedule starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_ui.blocks import MAX_BLOCKS
from slack_ui.ids import MalformedId, RunAddress, parse_workflow_id
from slack_ui.schedules import (
    SCHEDULE_DELETE,
    SCHEDULE_PAUSE,
    SCHEDULE_RESUME,
    SCHEDULE_RUN_NOW,
    ScheduleEntry,
    decode_schedule_value,
    schedule_list_message,
)

SCHEDULE_ID = "schedule-T1-C1-0123456789abcdef"


def entry(paused: bool = False, question: str = "What shipped?") -> ScheduleEntry:
    return ScheduleEntry(
        schedule_id=SCHEDULE_ID,
        says="every Monday at 09:00",
        question=question,
        creator="UASKER",
        time_zone="Europe/Paris",
        paused=paused,
        next_run=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
    )


def buttons(message: dict[str, object]) -> list[str]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_a_schedule_shows_its_next_run_in_its_creators_zone_and_its_buttons() -> None:
    shown = schedule_list_message([entry()])
    text = json.dumps(shown["blocks"])
    assert "every Monday at 09:00" in text and "next run Mon 07 Dec 09:00" in text and "<@UASKER>" in text
    assert buttons(shown) == [SCHEDULE_PAUSE, SCHEDULE_RUN_NOW, SCHEDULE_DELETE]
    paused = schedule_list_message([entry(paused=True)])
    assert buttons(paused) == [SCHEDULE_RESUME, SCHEDULE_RUN_NOW, SCHEDULE_DELETE]
    assert "paused" in json.dumps(paused["blocks"])


def test_many_schedules_fit_in_one_message_and_a_question_cannot_mention_anyone() -> None:
    shown = schedule_list_message([entry(question="<!channel> hello")] * 40)
    assert len(shown["blocks"]) <= MAX_BLOCKS and "and 25 more" in json.dumps(shown["blocks"])
    assert "<!channel>" not in json.dumps(shown["blocks"])
    assert "no research schedules" in schedule_list_message([])["text"]


def test_a_button_value_is_a_schedule_id_or_refused() -> None:
    assert decode_schedule_value(SCHEDULE_ID) == SCHEDULE_ID
    for junk in (None, 3, "", "schedule-T1-C1-xyz", "research-T1-U1-C1-0123456789abcdef0123", SCHEDULE_ID + "\n"):
        with pytest.raises(MalformedId):
            decode_schedule_value(junk)


@given(st.text(max_size=80))
def test_any_value_decodes_or_is_malformed(value: str) -> None:
    try:
        decoded = decode_schedule_value(value)
    except MalformedId:
        decoded = None
    assert decoded in (None, value)


def test_a_scheduled_runs_id_says_who_made_it_and_where() -> None:
    run = "research-T1-UASKER-C1-0123456789abcdef0123"
    assert parse_workflow_id(f"{run}-2026-12-07T08:00:00Z") == RunAddress("T1", "UASKER", "C1")
    assert parse_workflow_id(f"{run}-2026-12-07T08:00:00") is None
    assert parse_workflow_id(f"{run}-later") is None
