"""What `/research every monday 09:00 <question>` means: the words of a schedule, read into a Temporal
``ScheduleSpec`` in the asker's time zone.

Understood (case does not matter, ``at`` is optional, the time defaults to 09:00):

- ``every day [at] 8:30 <q>``, ``every weekday 09:00 <q>`` (Monday to Friday);
- ``every monday 09:00 <q>``, ``every mon,thu 17:00 <q>``, ``every week [on friday] <q>``;
- ``every 2 weeks [on friday] [at 17:00] <q>``, ``every 3 days <q>``: a fixed interval. Temporal counts
  intervals in UTC, so the local time is the one at the first run and moves by an hour when the clocks do;
- ``cron "0 9 * * 1" <q>``: five cron fields, in quotes; Temporal checks the ranges when it is created.

Calendars and cron follow the time zone (daylight saving included). Anything else that starts like a
schedule gets :class:`PhraseError`, one line that says what to write instead; text that does not start
like one (``every language with tail calls``) is an ordinary question (:func:`looks_like_schedule`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import ScheduleCalendarSpec, ScheduleIntervalSpec, ScheduleRange, ScheduleSpec

from slack_ui.mrkdwn import escape
from workflows.models import clean_question

__all__ = [
    "DEFAULT_TIME",
    "EXAMPLES",
    "WORKSPACE_TIME_ZONE",
    "Phrase",
    "PhraseError",
    "looks_like_schedule",
    "parse_schedule",
    "split_flags",
    "zone_or_default",
]

DEFAULT_TIME = time(9, 0)
WORKSPACE_TIME_ZONE = "UTC"  # Slack gives an app no workspace time zone: the default when the asker has none
MAX_WEEKS = 52
MAX_DAYS = 365
FLAGS = ("--publish", "--review-plan", "--no-review-plan")
EXAMPLES = (  # mrkdwn: escaped, so Slack shows <question> rather than reading a link
    f"`/research every monday 09:00 {escape('<question>')}`, `every day at 8:30 …`, `every weekday 09:00 …`, "
    '`every 2 weeks on friday at 17:00 …` or `cron "0 9 * * 1" …`'
)

# Temporal's day_of_week: 0 is Sunday.
_DAYS = {
    "sunday": 0,
    "sun": 0,
    "monday": 1,
    "mon": 1,
    "tuesday": 2,
    "tue": 2,
    "tues": 2,
    "wednesday": 3,
    "wed": 3,
    "thursday": 4,
    "thu": 4,
    "thur": 4,
    "thurs": 4,
    "friday": 5,
    "fri": 5,
    "saturday": 6,
    "sat": 6,
}
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_TIME = re.compile(r"^([0-9]{1,2})(?::([0-9]{2}))?\s*(am|pm)?$")
_COUNT = re.compile(r"^[0-9]{1,3}$")
_CRON_MINUTE = re.compile(r"^[0-9]{1,2}$")
_CRON_HOURS = re.compile(r"^[0-9,\-]+$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/\-?#]+$")
_QUOTES = "\"'“”‘’"  # Slack turns typed quotes into curly ones
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PhraseError(ValueError):
    """Words that start like a schedule but cannot be read; its message is the line to show the asker."""

    def __init__(self, why: str) -> None:
        super().__init__(f"I couldn't read that schedule: {why}. Write it like {EXAMPLES}.")


@dataclass(frozen=True)
class Phrase:
    """A schedule as read: its spec (time zone set), what it says in words, and the question it asks."""

    spec: ScheduleSpec
    says: str  # "every Monday at 09:00"
    time_zone: str
    question: str


def split_flags(text: str) -> tuple[set[str], str]:
    """The leading flags (``--publish``, ``--review-plan``, ``--no-review-plan``) and the text after them."""
    flags: set[str] = set()
    rest = text.strip()
    while True:
        first, _, after = rest.partition(" ")
        if first.lower() not in FLAGS:
            return flags, rest
        flags.add(first.lower())
        rest = after.strip()


def looks_like_schedule(text: str) -> bool:
    """Whether the text (after its flags) asks for a schedule, rather than being a question that happens to
    start with "every" or "cron"."""
    words = text.strip().lower().split()
    if len(words) < 2:
        return False
    if words[0] == "cron":
        return words[1][0] in _QUOTES
    if words[0] != "every":
        return False
    second = words[1].rstrip(",")
    if second in ("day", "weekday", "weekdays", "week", "daily") or _days(second) is not None:
        return True
    return bool(_COUNT.match(second)) and len(words) > 2 and words[2] in ("day", "days", "week", "weeks")


def zone_or_default(name: str | None) -> str:
    """The IANA zone Slack names for a person, if this machine knows it; else the workspace default."""
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return WORKSPACE_TIME_ZONE
        return name
    return WORKSPACE_TIME_ZONE


def parse_schedule(text: str, time_zone: str, now: datetime) -> Phrase:
    """Read ``every …`` or ``cron "…"`` followed by a question. ``time_zone``: an IANA name (see
    :func:`zone_or_default`); ``now`` anchors the intervals. Raises PhraseError on words it cannot read."""
    words = text.strip().split()
    if not words or words[0].lower() not in ("every", "cron"):
        raise PhraseError('start with "every" or "cron"')
    if words[0].lower() == "cron":
        return _cron(text.strip()[4:].strip(), time_zone)
    return _every(words[1:], time_zone, now)


# ------------------------------------------------------------------ every …


def _every(words: list[str], time_zone: str, now: datetime) -> Phrase:
    if not words:
        raise PhraseError("say how often after “every”")
    head, rest = words[0].lower().rstrip(","), words[1:]
    if _COUNT.match(head):
        count = int(head)
        unit = rest[0].lower() if rest else ""
        if unit not in ("day", "days", "week", "weeks"):
            raise PhraseError(f"“every {head}” needs “days” or “weeks” after it")
        return _interval(count, unit.startswith("week"), rest[1:], time_zone, now)
    if head == "week":
        return _interval(1, True, rest, time_zone, now)
    if head in ("day", "daily"):
        at, rest = _at(rest)
        return _calendar(list(range(7)), "every day", at, rest, time_zone)
    if head in ("weekday", "weekdays"):
        at, rest = _at(rest)
        return _calendar(list(range(1, 6)), "every weekday", at, rest, time_zone)
    days = _days(head)
    if days is None:
        raise PhraseError(f"“{head}” is not a day; use a day's name, “day” or “weekday”")
    at, rest = _at(rest)
    return _calendar(days, "every " + ", ".join(_DAY_NAMES[d] for d in days), at, rest, time_zone)


def _interval(count: int, weeks: bool, words: list[str], time_zone: str, now: datetime) -> Phrase:
    day: int | None = None
    if words and words[0].lower() == "on":
        if len(words) < 2 or (days := _days(words[1].lower().rstrip(","))) is None or len(days) != 1:
            raise PhraseError("after “on”, name one day, such as “on friday”")
        if not weeks:
            raise PhraseError("“on <day>” goes with weeks, not days")
        day, words = days[0], words[2:]
    at, words = _at(words)
    if not weeks and count == 1:
        return _calendar(list(range(7)), "every day", at, words, time_zone)
    if weeks and count == 1:  # a calendar keeps the local time through daylight saving
        first = day if day is not None else _weekday(now.astimezone(ZoneInfo(time_zone)))
        return _calendar([first], f"every {_DAY_NAMES[first]}", at, words, time_zone)
    limit, unit = (MAX_WEEKS, "weeks") if weeks else (MAX_DAYS, "days")
    if not 1 <= count <= limit:
        raise PhraseError(f"choose between 1 and {limit} {unit}")
    every = timedelta(weeks=count) if weeks else timedelta(days=count)
    first = _first_run(now, time_zone, at, day)
    offset = (first - _EPOCH) % every
    says = f"every {count} {unit}" + (f" on {_DAY_NAMES[day]}" if day is not None else "")
    says += f" at {at:%H:%M}, from {first.astimezone(ZoneInfo(time_zone)):%a %d %b}"
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=offset)], time_zone_name=time_zone)
    return Phrase(spec=spec, says=says, time_zone=time_zone, question=_question(words))


def _first_run(now: datetime, time_zone: str, at: time, day: int | None) -> datetime:
    """The first local ``at`` on ``day`` (any day if None) after ``now``, in UTC."""
    local = now.astimezone(ZoneInfo(time_zone))
    for ahead in range(8):
        date = (local + timedelta(days=ahead)).date()
        candidate = datetime.combine(date, at, tzinfo=ZoneInfo(time_zone))
        if candidate > local and (day is None or _weekday(candidate) == day):
            return candidate.astimezone(UTC)
    raise AssertionError("a week always holds the day")  # pragma: no cover


def _calendar(days: list[int], says: str, at: time, words: list[str], time_zone: str) -> Phrase:
    calendar = ScheduleCalendarSpec(
        day_of_week=_ranges(days), hour=[ScheduleRange(at.hour)], minute=[ScheduleRange(at.minute)]
    )
    spec = ScheduleSpec(calendars=[calendar], time_zone_name=time_zone)
    return Phrase(spec=spec, says=f"{says} at {at:%H:%M}", time_zone=time_zone, question=_question(words))


def _ranges(days: list[int]) -> list[ScheduleRange]:
    """Sorted days as runs of consecutive ones: Monday to Friday is one range."""
    ranges: list[ScheduleRange] = []
    for day in days:
        if ranges and ranges[-1].end == day - 1:
            ranges[-1] = ScheduleRange(ranges[-1].start, day)
        else:
            ranges.append(ScheduleRange(day, day))
    return ranges


def _at(words: list[str]) -> tuple[time, list[str]]:
    """An optional ``at`` and a time (``9``, ``09:00``, ``8:30``, ``5pm``, ``5:30 pm``) at the front."""
    rest = words[1:] if words and words[0].lower() == "at" else words
    said_at = rest is not words
    if rest and len(rest) > 1 and rest[1].lower() in ("am", "pm") and _TIME.match(rest[0]):
        rest = [rest[0] + rest[1].lower(), *rest[2:]]
    match = _TIME.match(rest[0].lower()) if rest else None
    if match is None or (match.group(2) is None and match.group(3) is None and not said_at):
        if said_at:
            raise PhraseError("after “at”, write a time such as 09:00, 8:30 or 5pm")
        return DEFAULT_TIME, rest  # "every monday 3 things…" is a question, not 3 o'clock
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            raise PhraseError(f"{rest[0]} is not a time; with am or pm the hour is 1 to 12")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise PhraseError(f"{rest[0]} is not a time of day; write 00:00 to 23:59")
    return time(hour, minute), rest[1:]


def _days(word: str) -> list[int] | None:
    """``monday``, ``mondays``, ``mon,thu``: the days named, in week order; None if any is not a day."""
    found: set[int] = set()
    for part in word.split(","):
        name = part.strip()
        if not name:
            continue
        day = _DAYS.get(name, _DAYS.get(name.removesuffix("s")))
        if day is None:
            return None
        found.add(day)
    return sorted(found) or None


def _weekday(moment: datetime) -> int:
    return (moment.weekday() + 1) % 7  # Python's Monday 0 to Temporal's Sunday 0


def _question(words: list[str]) -> str:
    try:
        return clean_question(" ".join(words))
    except ValueError as refused:
        raise PhraseError(str(refused)) from None


# ------------------------------------------------------------------ cron "…"


def _cron(text: str, time_zone: str) -> Phrase:
    if not text or text[0] not in _QUOTES:
        raise PhraseError('put the cron expression in quotes, as in cron "0 9 * * 1"')
    end = next((i for i in range(1, len(text)) if text[i] in _QUOTES), None)
    if end is None:
        raise PhraseError("the cron expression's closing quote is missing")
    expression, question = text[1:end].strip(), text[end + 1 :]
    fields = expression.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise PhraseError(f"“{expression[:60]}” is not five cron fields (minute hour day month weekday)")
    if not _CRON_MINUTE.match(fields[0]) or not _CRON_HOURS.match(fields[1]):
        raise PhraseError("a schedule here names its minute (one number) and its hours (numbers, not *)")
    spec = ScheduleSpec(cron_expressions=[" ".join(fields)], time_zone_name=time_zone)
    return Phrase(spec=spec, says=f"cron `{' '.join(fields)}`", time_zone=time_zone, question=_question([question]))
