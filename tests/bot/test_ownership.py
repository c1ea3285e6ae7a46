"""Signed requests for another app or workspace are refused (403) before any listener runs."""

from __future__ import annotations

import pytest
from slack_bolt.async_app import AsyncApp

from bot.ownership import Owner, owner_of
from sandbox import Channel, SlackApiServer
from slack_ui.ids import encode_button_value
from tests.bot.conftest import (
    APPROVER,
    FakeTemporal,
    bolt_request,
    click,
    command,
    form,
    interaction,
    reply,
    run_id,
)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"api_app_id": "AOTHERAPP"}, "another Slack app"),
        ({"api_app_id": ""}, "another Slack app"),
        ({"team_id": "TOTHER"}, "another Slack workspace"),
    ],
)
async def test_a_signed_command_for_another_app_or_workspace_starts_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, changes: dict, reason: str
) -> None:
    fields = {**command(slack, channel, "What is a task queue?"), **changes}
    response = await app.async_dispatch(bolt_request(form(fields)))
    assert response.status == 403 and reason in str(response.body)
    assert temporal.starts == []


async def test_a_signed_click_from_another_workspace_decides_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    payload = click(slack, channel, "reject", APPROVER, encode_button_value(run_id(slack, channel), 1))
    payload["team"] = {"id": "TOTHER", "domain": "elsewhere"}
    response = await app.async_dispatch(bolt_request(interaction(payload)))
    assert response.status == 403 and "another Slack workspace" in str(response.body)
    assert temporal.updates == [] and temporal.signals == []


async def test_this_apps_own_command_goes_through(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    response = await app.async_dispatch(bolt_request(form(command(slack, channel, "What is a task queue?"))))
    assert response.status == 200 and "Researching" in reply(response)["text"]
    assert len(temporal.starts) == 1


def test_where_slack_puts_the_app_team_and_enterprise() -> None:
    assert owner_of({"api_app_id": "A1", "team_id": "T1", "enterprise_id": "E1"}) == Owner("A1", "T1", "E1")
    assert owner_of({"api_app_id": "A1", "team": {"id": "T1"}, "enterprise": {"id": "E1"}}) == Owner("A1", "T1", "E1")
    assert owner_of({"api_app_id": ["A1"], "team": "T1", "enterprise": None}) == Owner(None, None, None)
