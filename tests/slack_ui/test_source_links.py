"""Only a run's sources become links in Slack; the draft says what the citation check verified."""

from __future__ import annotations

import json

from slack_ui.mrkdwn import markdown_to_mrkdwn
from slack_ui.thread import draft_messages, final_report_messages
from workflows.models import CitationCheck, Draft, Outcome, ResearchResult, Source, TokenUsage

SOURCE = "https://docs.example/temporal"
PLANTED = (
    "Temporal retries activities [1]. See [the docs](https://docs.example/temporal/) and "
    "[a prize](https://evil.example/win), or https://evil.example/bare, <!channel> <https://evil.example/raw|x>"
)


def test_only_source_urls_become_links() -> None:
    converted = markdown_to_mrkdwn(PLANTED, [SOURCE])
    assert "<https://docs.example/temporal/|the docs>" in converted
    assert "a prize (`https://evil.example/win`)" in converted
    assert "`https://evil.example/bare`" in converted
    assert "<https://evil" not in converted and "<!channel>" not in converted
    # Without a list of sources, a link is a link (the bot's own messages).
    assert "<https://evil.example/win|a prize>" in markdown_to_mrkdwn(PLANTED)


def test_draft_and_report_link_only_their_sources_and_show_the_check() -> None:
    sources = [Source(number=1, url=SOURCE, title="Temporal")]
    check = CitationCheck(claims=3, verified=2, marked=1)
    draft = Draft(round=1, text=PLANTED, sources=sources, check=check)
    posted = json.dumps([m.model_dump() if hasattr(m, "model_dump") else m for m in draft_messages("wf", "q", draft)])
    assert "evil.example" in posted and "<https://evil" not in posted and "<!channel>" not in posted
    assert "2 of 3 cited claims verified against their sources; 1 marked \\u26a0 unverified" in posted
    result = ResearchResult(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        outcome=Outcome.APPROVED,
        answer=PLANTED,
        steps_taken=1,
        sources=sources,
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:00Z",
    )
    report = json.dumps([m if isinstance(m, dict) else m.model_dump() for m in final_report_messages(result)])
    assert "<https://evil" not in report and "](https://evil" not in report and "evil.example" in report
    assert "[the docs](https://docs.example/temporal/)" in report  # a markdown block: Slack renders the Markdown
