"""slack_ui.ids: what we encode comes back the same, and junk is a MalformedId, never an IndexError or KeyError."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_ui.ids import (
    MalformedId,
    RunAddress,
    decode_button_value,
    decode_private_metadata,
    encode_button_value,
    encode_private_metadata,
    field,
    parse_workflow_id,
    slack_id,
    workflow_id_for,
)
from workflows.models import DecisionKind

ids = st.text(min_size=1, max_size=200).filter(str.strip)
rounds = st.integers(min_value=0, max_value=10_000)
modal_kinds = st.sampled_from([DecisionKind.APPROVE, DecisionKind.REVISE])
junk = st.one_of(
    st.text(max_size=300),
    st.none(),
    st.integers(),
    st.binary(max_size=50),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=10,
    ).map(json.dumps),
)


@given(ids, rounds)
def test_a_button_value_round_trips(workflow_id: str, draft_round: int) -> None:
    assert decode_button_value(encode_button_value(workflow_id, draft_round)) == (workflow_id, draft_round)


@given(ids, rounds, modal_kinds)
def test_private_metadata_round_trips(workflow_id: str, draft_round: int, kind: DecisionKind) -> None:
    metadata = encode_private_metadata(workflow_id, draft_round, kind)
    assert decode_private_metadata(metadata) == (workflow_id, draft_round, kind)


@given(junk)
def test_junk_is_a_malformed_id_or_a_value_we_could_have_made(value: object) -> None:
    for decode in (decode_button_value, decode_private_metadata):
        try:
            decoded = decode(value)
        except MalformedId:
            continue
        assert isinstance(decoded[0], str) and type(decoded[1]) is int  # only well-formed JSON gets through


@pytest.mark.parametrize(
    "value",
    [
        "research-x|1|approve",
        "",
        "null",
        "[]",
        '{"wf": "research-1"}',
        '{"round": 1}',
        '{"wf": "", "round": 1}',
        '{"wf": 7, "round": 1}',
        '{"wf": "research-1", "round": "1"}',
        '{"wf": "research-1", "round": true}',
        '{"wf": "research-1", "round": -1}',
        '{"wf": "research-1", "round": 1.5}',
        "{" * 5000,
    ],
)
def test_junk_button_values_are_refused(value: str) -> None:
    with pytest.raises(MalformedId, match="not a decision button value"):
        decode_button_value(value)


@pytest.mark.parametrize(
    "metadata",
    [
        "research-x|1|approve",
        '{"wf": "research-1", "round": 1}',
        '{"wf": "research-1", "round": 1, "kind": "reject"}',
        '{"wf": "research-1", "round": 1, "kind": "maybe"}',
        '{"wf": "research-1", "round": 1, "kind": ["approve"]}',
        '{"wf": "research-1", "kind": "approve"}',
        None,
    ],
)
def test_junk_private_metadata_is_refused(metadata: str | None) -> None:
    with pytest.raises(MalformedId, match="not a decision modal's private_metadata"):
        decode_private_metadata(metadata)


def test_a_malformed_id_is_a_value_error_with_a_short_message() -> None:
    with pytest.raises(ValueError) as refused:
        decode_button_value("x" * 10_000)
    assert isinstance(refused.value, MalformedId) and len(str(refused.value)) < 100


def test_encoders_refuse_what_slack_would_cut() -> None:
    with pytest.raises(ValueError):
        encode_button_value("w" * 2000, 1)
    with pytest.raises(ValueError):
        encode_private_metadata("w" * 3000, 1, DecisionKind.APPROVE)


slack_ids = st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=20)


@given(slack_ids, slack_ids, slack_ids, st.text(min_size=1, max_size=40))
def test_a_workflow_id_says_who_asked_and_where(team: str, user: str, channel: str, trigger: str) -> None:
    command = {"team_id": team, "user_id": user, "channel_id": channel, "trigger_id": trigger}
    workflow_id = workflow_id_for(command)
    assert workflow_id == workflow_id_for(dict(command))  # the same command twice: the same run
    assert parse_workflow_id(workflow_id) == RunAddress(slack_id(team), slack_id(user), slack_id(channel))
    assert re.fullmatch(r"[A-Za-z0-9-]+", workflow_id)


def test_a_command_without_a_trigger_id_gets_an_id_of_its_own() -> None:
    command = {"team_id": "T1", "user_id": "U1", "channel_id": "C1"}
    assert workflow_id_for(command) != workflow_id_for(command)


@pytest.mark.parametrize("workflow_id", ["research-1234", "research-T1-U1-C1-xyz", "", "cli-run", None, 42])
def test_ids_not_made_from_a_command_have_no_address(workflow_id: object) -> None:
    assert parse_workflow_id(workflow_id) is None  # type: ignore[arg-type]


def test_slack_ids_keep_only_what_ids_are_made_of() -> None:
    assert slack_id("U1' OR 1=1 --") == "U1OR11"
    assert slack_id(None) == slack_id("") == slack_id("-_-") == "none"


def test_field_reads_a_string_or_refuses() -> None:
    body = {"user": {"id": "U1"}, "team": None, "view": {"id": ""}}
    assert field(body, "user", "id") == "U1"
    for path in (("user", "name"), ("team", "id"), ("view", "id"), ("nothing",), ("user",)):
        with pytest.raises(MalformedId, match="the payload has no"):
            field(body, *path)


def test_a_plan_review_value_comes_back_and_junk_or_a_decision_value_is_refused() -> None:
    from slack_ui.ids import decode_plan_value, encode_button_value, encode_plan_value

    workflow_id = "research-T1-U1-C1-" + "a" * 20
    assert decode_plan_value(encode_plan_value(workflow_id, 1)) == (workflow_id, 1)
    for junk in (None, "", "[]", "{", '{"wf": "x"}', '{"wf": "x", "plan": 0}', '{"wf": "x", "plan": "1"}'):
        with pytest.raises(MalformedId, match="not a plan review value"):
            decode_plan_value(junk)
    with pytest.raises(MalformedId, match="no plan round"):
        decode_plan_value(encode_button_value(workflow_id, 1))  # a draft's button is not a plan's
