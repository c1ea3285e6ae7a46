"""A source from the corpus's documents shows in Slack with its page, slide or sheet, as text, never a link."""

from __future__ import annotations

import json

from slack_ui.canvas import report_canvas
from slack_ui.thread import draft_messages
from workflows.models import Draft, Outcome, ResearchResult, Source, TokenUsage

SOURCES = [
    Source(number=1, url="local://handbook.pdf#page=12", title="Acme handbook — handbook.pdf, p. 12"),
    Source(number=2, url="local://deck.pptx#slide=3", title="Orion launch — deck.pptx, slide 3"),
    Source(number=3, url="local://budget.xlsx#sheet=Travel%202026", title="budget.xlsx, sheet Travel 2026"),
]
TEXT = "Leave is 28 days [1]. Orion launches in March [2]. Travel has 4200 euros [3]."


def test_the_draft_names_each_parts_locator() -> None:
    draft = Draft(round=1, text=TEXT, sources=SOURCES)
    posted = [m if isinstance(m, dict) else m.model_dump() for m in draft_messages("wf", "q", draft)]
    text = json.dumps(posted, ensure_ascii=False)
    assert "1. Acme handbook — handbook.pdf, p. 12 (local://handbook.pdf#page=12)" in text
    assert "2. Orion launch — deck.pptx, slide 3 (local://deck.pptx#slide=3)" in text
    assert "3. budget.xlsx, sheet Travel 2026 (local://budget.xlsx#sheet=Travel%202026)" in text
    assert "<local://" not in text  # not a link Slack would try to open


def test_the_canvas_names_each_parts_locator() -> None:
    result = ResearchResult(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        outcome=Outcome.APPROVED,
        answer=TEXT,
        steps_taken=1,
        sources=SOURCES,
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:00Z",
    )
    canvas = report_canvas(result)
    assert "1. Acme handbook — handbook.pdf, p. 12 (`local://handbook.pdf#page=12`)" in canvas
    assert "2. Orion launch — deck.pptx, slide 3 (`local://deck.pptx#slide=3`)" in canvas
