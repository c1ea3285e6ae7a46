"""What Slack hands back to us, encoded and decoded in one place: workflow ids, button values, modal metadata.

A run started from Slack has the workflow id ``research-<team>-<user>-<channel>-<digest>``, made
from the command (or the message that asked, for a mention or a DM), so the same request delivered twice
gives the same id and a click can tell who
asked and where without asking Temporal. A decision button's value and a decision modal's
``private_metadata`` carry the run's workflow id and draft round (and the modal its kind) as
compact JSON. Slack sends them back verbatim, but anyone holding the signing secret can send
anything: every decoder raises :class:`MalformedId` on junk, never IndexError or KeyError.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_ui.blocks import MAX_BUTTON_VALUE
from workflows.models import DecisionKind, Rating

__all__ = [
    "MAX_PRIVATE_METADATA",
    "STEP_EVENT",
    "MalformedId",
    "RunAddress",
    "decode_button_value",
    "decode_plan_value",
    "decode_private_metadata",
    "decode_rating_value",
    "decode_thread_feedback_value",
    "encode_button_value",
    "encode_plan_value",
    "encode_private_metadata",
    "encode_rating_value",
    "encode_thread_feedback_value",
    "field",
    "follow_up_id",
    "parse_workflow_id",
    "slack_id",
    "workflow_id_for",
    "workflow_id_for_message",
]

MAX_PRIVATE_METADATA = 3000
STEP_EVENT = "researchbot_step"  # the metadata event_type of every post a run makes; payload {"workflow_id", "step"}
MAX_WORKFLOW_ID = 1000  # Temporal's own limit on an id's length

_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")  # a message's ts: seconds.micro-ish, as Slack writes it
# A run a schedule starts (bot/schedules.py) has the schedule's id for it plus the time Temporal appends.
_ID = re.compile(
    r"^research-([A-Za-z0-9]+)-([A-Za-z0-9]+)-([A-Za-z0-9]+)-([0-9a-f]{20})(?:-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z)?$"
)


# Slack's ids are about 9 to 12 characters (T0123ABCD, U0123ABCD, C0123ABCD); far longer is not Slack.
MAX_SLACK_ID = 32


class MalformedId(ValueError):
    """Something Slack sent back (a button value, a modal's metadata, a payload field) is not what we
    put there. Its message is short and safe to answer with; the bot answers it with a 400."""


# ------------------------------------------------------------------ workflow ids


@dataclass(frozen=True)
class RunAddress:
    """Who asked for a run and where, as its workflow id says."""

    team_id: str
    user_id: str
    channel_id: str


def slack_id(value: object) -> str:
    """A Slack id kept to what ids are made of, so it is safe in a workflow id and a visibility query."""
    return re.sub(r"[^A-Za-z0-9]", "", str(value or "")) or "none"


def workflow_id_for(command: Mapping[str, Any]) -> str:
    """One id per command: the same team and trigger_id (a command delivered twice) give the same id.
    Raises MalformedId for an id no Slack workspace hands out (Temporal caps a workflow id's length)."""
    team, user, channel = (slack_id(command.get(key)) for key in ("team_id", "user_id", "channel_id"))
    if max(len(team), len(user), len(channel)) > MAX_SLACK_ID:
        raise MalformedId(f"a team, user or channel id longer than {MAX_SLACK_ID} characters")
    trigger = command.get("trigger_id") or uuid.uuid4().hex
    digest = hashlib.sha256(f"{team}:{trigger}".encode()).hexdigest()[:20]
    return f"research-{team}-{user}-{channel}-{digest}"


def workflow_id_for_message(team_id: object, user_id: object, channel_id: object, ts: object) -> str:
    """One id per message that asks (a mention, a DM): Slack's retries of an event carry the same message,
    so team, channel and the message's ts give the same id. Not the event_id alone: retries share it, but
    one message can reach the app as two events with two event_ids (an app also subscribed to
    message.channels gets the mention twice; an app moved from HTTP to Socket Mode sees new deliveries);
    not client_msg_id, which messages not typed in a Slack client lack. Raises MalformedId for ids no
    Slack workspace sends."""
    team, user, channel = (slack_id(value) for value in (team_id, user_id, channel_id))
    if max(len(team), len(user), len(channel)) > MAX_SLACK_ID:
        raise MalformedId(f"a team, user or channel id longer than {MAX_SLACK_ID} characters")
    if not isinstance(ts, str) or not _TS.fullmatch(ts):
        raise MalformedId("the message has no ts")
    digest = hashlib.sha256(f"{team}:message:{channel}:{ts}".encode()).hexdigest()[:20]
    return f"research-{team}-{user}-{channel}-{digest}"


def follow_up_id(previous_workflow_id: str) -> str:
    """The run that follows up ``previous_workflow_id`` in its thread: one id per earlier run, so replies that
    arrive together start one run (signal-with-start), and each follow-up has its own id (its posts' metadata
    stays its own). The same asker and channel as the earlier run, so a click can still tell who may decide."""
    address = parse_workflow_id(previous_workflow_id)
    if address is None:
        raise MalformedId("not a run started from Slack")
    digest = hashlib.sha256(f"{address.team_id}:follow-up:{previous_workflow_id}".encode()).hexdigest()[:20]
    return f"research-{address.team_id}-{address.user_id}-{address.channel_id}-{digest}"


def parse_workflow_id(workflow_id: str) -> RunAddress | None:
    """The asker and channel of a run started from Slack; None for runs started elsewhere (the CLI)."""
    match = _ID.match(workflow_id) if isinstance(workflow_id, str) else None
    return RunAddress(*match.group(1, 2, 3)) if match else None


# ------------------------------------------------------------------ button values and modal metadata


def encode_button_value(workflow_id: str, draft_round: int) -> str:
    value = json.dumps({"wf": workflow_id, "round": draft_round}, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"workflow id too long for a button value ({len(value)} > {MAX_BUTTON_VALUE})")
    return value


def decode_button_value(value: object) -> tuple[str, int]:
    """(workflow_id, draft_round) from a decision button's value; MalformedId if it is not one."""
    data = _json_object(value, "a decision button value")
    return _workflow_id(data, "a decision button value"), _round(data, "a decision button value")


def encode_thread_feedback_value(
    workflow_id: str, draft_round: int, thread_ts: str, reply_ts: str, text: str | None = None
) -> str:
    """The "Revise with this" / "Approve with this" buttons under a reply: the run, its draft round, where
    the reply is, and its text where it fits in a button value (the click then costs no Slack read; a
    longer reply is read again on the click)."""
    data = {"wf": workflow_id, "round": draft_round, "thread": thread_ts, "reply": reply_ts}
    value = json.dumps(data, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"workflow id too long for a button value ({len(value)} > {MAX_BUTTON_VALUE})")
    with_text = json.dumps(data | {"text": text}, separators=(",", ":")) if text else value
    return with_text if len(with_text) <= MAX_BUTTON_VALUE else value


def decode_thread_feedback_value(value: object) -> tuple[str, int, str, str, str | None]:
    """(workflow_id, draft_round, thread_ts, reply_ts, the reply's text or None) from a reply's feedback
    button; MalformedId if not one."""
    what = "a thread feedback button value"
    data = _json_object(value, what)
    stamps = [data.get("thread"), data.get("reply")]
    if not all(isinstance(ts, str) and _TS.fullmatch(ts) for ts in stamps):
        raise MalformedId(f"not {what}: no thread or reply ts")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedId(f"not {what}: its text is not a string")
    return _workflow_id(data, what), _round(data, what), str(stamps[0]), str(stamps[1]), text


def encode_rating_value(workflow_id: str, rating: Rating) -> str:
    """A 👍 / 👎 button's value: the run whose report it rates, and which of the two buttons it is."""
    value = json.dumps({"wf": workflow_id, "rating": rating.value}, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"workflow id too long for a button value ({len(value)} > {MAX_BUTTON_VALUE})")
    return value


def decode_rating_value(value: object) -> tuple[str, Rating]:
    """(workflow_id, rating) from a 👍 / 👎 button's value; MalformedId if it is not one."""
    what = "a rating button value"
    data = _json_object(value, what)
    try:
        rating = Rating(data.get("rating"))
    except ValueError:
        raise MalformedId(f"not {what}: no rating") from None
    return _workflow_id(data, what), rating


def encode_private_metadata(workflow_id: str, draft_round: int, kind: DecisionKind) -> str:
    metadata = json.dumps({"wf": workflow_id, "round": draft_round, "kind": kind.value}, separators=(",", ":"))
    if len(metadata) > MAX_PRIVATE_METADATA:
        raise ValueError(f"workflow id too long for a modal's private_metadata ({len(metadata)} characters)")
    return metadata


def decode_private_metadata(text: object) -> tuple[str, int, DecisionKind]:
    """(workflow_id, draft_round, kind) from a decision modal's private_metadata; MalformedId if not one."""
    what = "a decision modal's private_metadata"
    data = _json_object(text, what)
    try:
        kind = DecisionKind(data.get("kind"))
    except ValueError:
        raise MalformedId(f"not {what}: no decision kind") from None
    if kind is DecisionKind.REJECT:
        raise MalformedId(f"not {what}: reject has no modal")
    return _workflow_id(data, what), _round(data, what), kind


def encode_plan_value(workflow_id: str, plan_round: int) -> str:
    """A plan review button's value, and the edit modal's private_metadata: the run and its plan's round.
    Its own key ("plan"), so a decision's value is never taken for one."""
    value = json.dumps({"wf": workflow_id, "plan": plan_round}, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"workflow id too long for a button value ({len(value)} > {MAX_BUTTON_VALUE})")
    return value


def decode_plan_value(value: object) -> tuple[str, int]:
    """(workflow_id, plan_round) from a plan review button or the edit modal; MalformedId if it is not one."""
    what = "a plan review value"
    data = _json_object(value, what)
    plan_round = data.get("plan")
    if type(plan_round) is not int or plan_round < 1:
        raise MalformedId(f"not {what}: no plan round")
    return _workflow_id(data, what), plan_round


# ------------------------------------------------------------------ payload fields


def field(payload: Mapping[str, Any], *path: str) -> str:
    """A non-empty string at ``path`` in a payload (``field(body, "user", "id")``); MalformedId if absent."""
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if not isinstance(value, str) or not value:
        raise MalformedId(f"the payload has no {'.'.join(path)}")
    return value


def _json_object(text: object, what: str) -> dict[str, Any]:
    if not isinstance(text, str) or len(text) > MAX_PRIVATE_METADATA:
        raise MalformedId(f"not {what}")
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedId(f"not {what}: not JSON") from None
    if not isinstance(data, dict):
        raise MalformedId(f"not {what}: not a JSON object")
    return data


def _workflow_id(data: dict[str, Any], what: str) -> str:
    workflow_id = data.get("wf")
    if not isinstance(workflow_id, str) or not workflow_id.strip() or len(workflow_id) > MAX_WORKFLOW_ID:
        raise MalformedId(f"not {what}: no workflow id")
    return workflow_id


def _round(data: dict[str, Any], what: str) -> int:
    draft_round = data.get("round")
    if type(draft_round) is not int or draft_round < 0:
        raise MalformedId(f"not {what}: no draft round")
    return draft_round
