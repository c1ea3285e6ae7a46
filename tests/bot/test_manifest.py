"""manifest.yml against Slack's own JSON Schema for version 1 app manifests, and what the bot relies on."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft7Validator

from slack_ui.replies import SUGGESTED_PROMPTS

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"


def manifest() -> dict:
    return yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_matches_slacks_schema() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest())]
    assert errors == []


def test_the_schema_catches_a_broken_manifest() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "research"  # no leading slash
    broken["settings"]["interactivity"].pop("is_enabled")
    assert len(list(validator.iter_errors(broken))) == 2


def test_the_command_interactivity_and_scopes_we_rely_on() -> None:
    app = manifest()
    [command] = app["features"]["slash_commands"]
    assert command["command"] == "/research" and command["should_escape"] is False
    assert command["usage_hint"] == "[question] | status | help"
    assert command["url"] == app["settings"]["interactivity"]["request_url"] == "https://YOUR-PUBLIC-URL/slack/events"
    assert app["settings"]["interactivity"]["is_enabled"] is True
    assert app["settings"]["socket_mode_enabled"] is False
    assert app["features"]["bot_user"]["display_name"]
    assert set(app["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "app_mentions:read",
        "assistant:write",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:history",
        "groups:history",
        "im:history",
        "canvases:write",
        "files:read",
        "files:write",
        "users:read",
    }


def test_the_events_and_the_dm_pane_we_rely_on() -> None:
    app = manifest()
    events = app["settings"]["event_subscriptions"]
    assert events["request_url"] == app["settings"]["interactivity"]["request_url"]
    assert set(events["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",  # replies in a run's thread (bot/from_thread.py)
        "message.groups",
        "app_home_opened",
        "assistant_thread_started",
    }
    assert app["features"]["app_home"]["messages_tab_enabled"] is True
    assert app["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    assert app["features"]["agent_view"]["suggested_prompts"] == SUGGESTED_PROMPTS, "the pane offers the same"
