"""What `/research every …` and `/research cron "…"` mean: the words read into a Temporal ScheduleSpec in the
asker's time zone, one clear line for words that cannot be read, and no crash on any text.
(Temporal's own reading of the specs, next run times and a backfill: tests/e2e/test_schedules.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import ScheduleRange

from bot.schedule_phrases import (
    WORKSPACE_TIME_ZONE,
    Phrase,
    PhraseError,
    looks_like_schedule,
    parse_schedule,
    split_flags,
    zone_or_default,
)

NOW = datetime(2026, 12, 6, 4, 50, tzinfo=UTC)  # a Sunday
PARIS = "Europe/Paris"


def test_a_weekly_day_and_time_is_a_calendar_in_the_askers_zone() -> None:
    phrase = parse_schedule("every monday 09:00 What did competitors ship?", PARIS, NOW)
    assert phrase.says == "every Monday at 09:00"
    assert phrase.question == "What did competitors ship?"
    assert phrase.spec.time_zone_name == PARIS
    (calendar,) = phrase.spec.calendars
    assert (calendar.day_of_week, calendar.hour, calendar.minute) == (
        [ScheduleRange(1, 1)],
        [ScheduleRange(9)],
        [ScheduleRange(0)],
    )


@pytest.mark.parametrize(
    ("words", "says", "days", "hour", "minute"),
    [
        ("every day at 8:30 q", "every day at 08:30", [ScheduleRange(0, 6)], 8, 30),
        ("every day 8:30 q", "every day at 08:30", [ScheduleRange(0, 6)], 8, 30),
        ("every weekday 09:00 q", "every weekday at 09:00", [ScheduleRange(1, 5)], 9, 0),
        ("EVERY Mon,Thu at 5pm q", "every Monday, Thursday at 17:00", [ScheduleRange(1), ScheduleRange(4)], 17, 0),
        ("every fridays 5:30 pm q", "every Friday at 17:30", [ScheduleRange(5)], 17, 30),
        ("every week on friday at 17:00 q", "every Friday at 17:00", [ScheduleRange(5)], 17, 0),
        ("every week q", "every Sunday at 09:00", [ScheduleRange(0)], 9, 0),  # today's day, the default time
        ("every 1 day at 12am q", "every day at 00:00", [ScheduleRange(0, 6)], 0, 0),
    ],
)
def test_calendar_phrases(words: str, says: str, days: list[ScheduleRange], hour: int, minute: int) -> None:
    phrase = parse_schedule(words, PARIS, NOW)
    (calendar,) = phrase.spec.calendars
    assert (phrase.says, calendar.day_of_week, calendar.hour, calendar.minute, phrase.question) == (
        says,
        days,
        [ScheduleRange(hour)],
        [ScheduleRange(minute)],
        "q",
    )


def _next_interval_run(words: str, now: datetime) -> tuple[timedelta, datetime]:
    phrase = parse_schedule(words, PARIS, now)
    (interval,) = phrase.spec.intervals
    assert interval.offset is not None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    periods = (now - epoch - interval.offset) // interval.every + 1
    return interval.every, (epoch + interval.offset + periods * interval.every).astimezone(ZoneInfo(PARIS))


def test_every_two_weeks_on_a_day_runs_first_on_the_next_such_day_at_that_local_time() -> None:
    every, first = _next_interval_run("every 2 weeks on friday at 17:00 Regulation news?", NOW)
    assert every == timedelta(weeks=2)
    assert (first.date().isoformat(), first.hour, first.minute) == ("2026-12-11", 17, 0)
    assert parse_schedule("every 2 weeks on friday at 17:00 q", PARIS, NOW).says.startswith("every 2 weeks on Friday")


def test_every_two_weeks_without_a_day_starts_on_the_next_time_of_day() -> None:
    _, first = _next_interval_run("every 2 weeks at 06:30 q", NOW)  # 04:50 UTC is 05:50 in Paris
    assert (first.date().isoformat(), first.hour, first.minute) == ("2026-12-06", 6, 30)
    _, first = _next_interval_run("every 2 weeks at 05:30 q", NOW)
    assert (first.date().isoformat(), first.hour, first.minute) == ("2026-12-07", 5, 30)
    every, first = _next_interval_run("every 3 days q", NOW)
    assert every == timedelta(days=3) and (first.day, first.hour) == (6, 9)


def test_a_quoted_cron_expression_keeps_its_five_fields() -> None:
    for words in ('cron "0 9 * * 1" q', "cron “0 9 * * 1”   q", "cron '0 9 * * 1' q"):
        phrase = parse_schedule(words, PARIS, NOW)
        assert (phrase.spec.cron_expressions, phrase.spec.time_zone_name, phrase.question) == (
            ["0 9 * * 1"],
            PARIS,
            "q",
        )


@pytest.mark.parametrize(
    ("words", "why"),
    [
        ("every monday 25:00 q", "25:00 is not a time of day"),
        ("every day at noon q", "after “at”, write a time"),
        ("every 2 months q", "“every 2” needs “days” or “weeks”"),
        ("every monday 13pm q", "with am or pm the hour is 1 to 12"),
        ("every 2 weeks on funday q", "after “on”, name one day"),
        ("every 3 days on monday q", "“on <day>” goes with weeks"),
        ("every 0 weeks q", "choose between 1 and 52 weeks"),
        ("every 400 days q", "choose between 1 and 365 days"),
        ("every day at 8:30", "the question is empty"),
        ('cron "0 9 * *" q', "is not five cron fields"),
        ('cron "*/5 * * * *" q', "names its minute"),
        ('cron "0 9 * * 1 q', "closing quote is missing"),
        ("cron 0 9 * * 1 q", "in quotes"),
        ("every fortnight q", "“fortnight” is not a day"),
    ],
)
def test_words_that_cannot_be_read_get_one_line_that_says_what_to_write(words: str, why: str) -> None:
    with pytest.raises(PhraseError) as refused:
        parse_schedule(words, PARIS, NOW)
    line = str(refused.value)
    assert why in line and "\n" not in line
    assert "every monday 09:00 &lt;question&gt;" in line and 'cron "0 9 * * 1"' in line


@pytest.mark.parametrize(
    ("text", "is_schedule"),
    [
        ("every monday 09:00 q", True),
        ("every 2 weeks q", True),
        ("every weekday q", True),
        ('cron "0 9 * * 1" q', True),
        ("every language with tail calls", False),  # a question that starts with "every"
        ("every 3 people in a team", False),
        ("cron jobs or systemd timers?", False),
        ("every", False),
        ("How often is every monday busy?", False),
    ],
)
def test_only_schedule_words_make_a_schedule(text: str, is_schedule: bool) -> None:
    assert looks_like_schedule(text) is is_schedule


def test_flags_come_first_in_any_order() -> None:
    assert split_flags("--publish --REVIEW-PLAN every day q") == ({"--publish", "--review-plan"}, "every day q")
    assert split_flags("every day q --publish") == (set(), "every day q --publish")


def test_a_zone_this_machine_does_not_know_is_the_workspace_default() -> None:
    assert zone_or_default("America/New_York") == "America/New_York"
    assert zone_or_default("Mars/Olympus") == WORKSPACE_TIME_ZONE
    assert zone_or_default("../../etc/passwd") == WORKSPACE_TIME_ZONE
    assert zone_or_default(None) == WORKSPACE_TIME_ZONE


_WORDS = st.sampled_from(
    [
        "every",
        "cron",
        "at",
        "on",
        "day",
        "weeks",
        "monday",
        "mon,",
        "9",
        "09:00",
        "25:61",
        "pm",
        '"',
        "“",
        "0",
        "*",
        "q",
    ]
)


@given(
    st.one_of(st.text(max_size=300), st.lists(_WORDS, max_size=12).map(" ".join)),
    st.sampled_from([PARIS, "UTC", "Pacific/Kiritimati"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_any_text_is_read_or_refused_in_one_line_never_a_crash(text: str, zone: str, now: datetime) -> None:
    phrase: Phrase | str
    try:
        phrase = parse_schedule(text, zone, now)
    except PhraseError as refused:
        phrase = str(refused)
    if isinstance(phrase, str):
        assert "\n" not in phrase and phrase.startswith("I couldn't read that schedule: ")
        return
    assert phrase.question and phrase.spec.time_zone_name == zone
    assert len(phrase.spec.calendars) + len(phrase.spec.intervals) + len(phrase.spec.cron_expressions) == 1
