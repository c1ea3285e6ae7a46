"""The line a run shows for each source it could not read: where it was, in words a person knows."""

from __future__ import annotations

from workflows.models import Page
from workflows.steps import unread_line


def test_a_web_page_is_named_by_its_host() -> None:
    page = Page(url="https://docs.example.com/a/b?c=1", title="A", ok=False, error="HTTP 404")
    assert unread_line(page) == "docs.example.com: HTTP 404"


def test_a_file_shared_in_slack_is_named_by_its_title_not_its_channel_id() -> None:
    page = Page(url="slack-file://CHERE/F0123#page=2", title="handbook.pdf, p. 2", ok=False, error="too big")
    assert unread_line(page) == "handbook.pdf, p. 2: too big"
    untitled = page.model_copy(update={"title": ""})
    assert unread_line(untitled) == "a file shared in Slack: too big"


def test_the_line_is_bounded() -> None:
    page = Page(url="local://team/" + "x" * 500, title="t" * 500, ok=False, error="e" * 500)
    assert len(unread_line(page)) <= 200
