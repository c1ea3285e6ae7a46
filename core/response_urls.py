"""A command's response_url, kept out of workflow history: the bot writes it here, keyed by the run's
workflow id, as it starts the run (bot/from_command.py); the worker reads it only when it must tell the asker
in private that it cannot post in their channel (activities/slack/reporter.py).

A response_url lets anyone holding it post into the asker's channel for 30 minutes, so it is a credential:
Temporal would keep it in the history for the namespace's retention and show it to whoever reads the
history. Here a row lives as long as the URL works, and rows past their expiry are deleted as new ones
come in. :func:`may_post_to` keeps the worker from posting anywhere but Slack.

The table lives in the archive database (DATABASE_URL): activities/archive/store.py migrates it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from core.database import database_url_of

__all__ = ["LIFETIME", "SLACK_HOSTS", "ResponseUrls", "may_post_to", "response_urls"]

# Slack honours a response_url for 30 minutes from the command; a minute less covers its trip to the bot.
LIFETIME = timedelta(minutes=29)
# Where Slack's response_urls point: Slack, and GovSlack (slack-gov.com).
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})

metadata = sa.MetaData()
response_urls = sa.Table(
    "response_urls",
    metadata,
    sa.Column("workflow_id", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class ResponseUrls:
    """The response_urls table. Methods block: call them from a thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, database_url: str) -> ResponseUrls:
        return cls(sa.create_engine(database_url_of(database_url), pool_pre_ping=True))

    def keep(self, workflow_id: str, url: str, now: datetime | None = None) -> None:
        """Run ``workflow_id``'s asker can be answered at ``url`` for LIFETIME from ``now``; the first
        writer wins (Slack delivering a command twice starts one run). Expired rows go in the same go."""
        now = now or datetime.now(UTC)
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        row = insert(response_urls).values(workflow_id=workflow_id, url=url, expires_at=now + LIFETIME)
        with self.engine.begin() as connection:
            connection.execute(response_urls.delete().where(response_urls.c.expires_at <= now))
            connection.execute(row.on_conflict_do_nothing(index_elements=["workflow_id"]))

    def url_of(self, workflow_id: str, now: datetime | None = None) -> str | None:
        """The run's response_url while Slack still honours it, else None."""
        query = sa.select(response_urls.c.url).where(
            response_urls.c.workflow_id == workflow_id, response_urls.c.expires_at > (now or datetime.now(UTC))
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def dispose(self) -> None:
        self.engine.dispose()


def may_post_to(url: str, api_url: str) -> bool:
    """Whether ``url`` is Slack's to post to: https on a Slack host, or on the host of SLACK_API_URL
    (``api_url``: a local Slack, the sandbox's, answers its own response_urls)."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        same_as_api = (target.scheme, target.hostname, target.port) == (api.scheme, api.hostname, api.port)
    except ValueError:  # a port that is no number
        return False
    if target.username or target.password:
        return False  # user:pass@ is a classic way to hide the real host
    return (target.scheme == "https" and target.hostname in SLACK_HOSTS and target.port in (None, 443)) or (
        same_as_api and bool(target.hostname)
    )
