"""The commands' response_urls the bot keeps for the worker (core/response_urls.py), in SQLite and PostgreSQL,
and the hosts the worker may post to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.response_urls import LIFETIME, ResponseUrls, may_post_to, response_urls

API = "http://127.0.0.1:8765/api/"  # SLACK_API_URL of a local Slack


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T1/123/abc", True),
        ("https://hooks.slack-gov.com/commands/T1/123/abc", True),
        ("http://127.0.0.1:8765/response/abc", True),  # the local Slack answers its own
        ("http://hooks.slack.com/commands/T1/123/abc", False),  # not https
        ("https://hooks.slack.com:8443/commands/T1/123/abc", False),
        ("https://hooks.slack.com.evil.example/commands/T1", False),
        ("https://evil.example/hooks.slack.com/commands/T1", False),
        ("https://hooks.slack.com@evil.example/commands/T1", False),
        ("https://x:y@hooks.slack.com/commands/T1", False),
        ("http://127.0.0.1:8766/response/abc", False),  # another port on the same machine
        ("https://127.0.0.1:8765/response/abc", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://127.0.0.1:notaport/response/abc", False),
        ("not a url", False),
    ],
)
def test_only_slacks_hosts_may_be_posted_to(url: str, allowed: bool) -> None:
    assert may_post_to(url, API) is allowed


def test_against_slack_com_only_its_hooks_hosts_are_allowed() -> None:
    assert may_post_to("https://hooks.slack.com/commands/T1/1/a", "https://slack.com/api/")
    assert not may_post_to("https://evil.example/commands/T1/1/a", "https://slack.com/api/")


def test_a_kept_url_is_found_until_it_expires(store) -> None:
    urls = ResponseUrls(store.engine)
    kept_at = datetime.now(UTC)
    urls.keep("research-1", "https://hooks.slack.com/commands/T1/1/first", now=kept_at)
    urls.keep("research-1", "https://hooks.slack.com/commands/T1/1/again", now=kept_at)  # delivered twice
    assert urls.url_of("research-1", now=kept_at + LIFETIME - timedelta(seconds=1)).endswith("/first")
    assert urls.url_of("research-1", now=kept_at + LIFETIME) is None
    assert urls.url_of("research-2", now=kept_at) is None


def test_expired_urls_are_deleted_as_new_ones_come_in(store) -> None:
    urls = ResponseUrls(store.engine)
    kept_at = datetime.now(UTC) - LIFETIME - timedelta(minutes=1)
    urls.keep("research-old", "https://hooks.slack.com/commands/T1/1/old", now=kept_at)
    urls.keep("research-new", "https://hooks.slack.com/commands/T1/2/new")
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(response_urls.c.workflow_id)).scalars().all() == ["research-new"]
