"""`researchbot ask` prints page titles, drafts and reports without control characters: a page cannot
drive the terminal."""

from __future__ import annotations

from researchbot.terminal import render_draft, render_sources
from workflows.models import Draft, RunStatus, Source, Stage

ESCAPES = "\x1b[2J\x1b[1;1HYou are approved\x07\r"


def test_titles_and_drafts_lose_their_control_characters() -> None:
    sources = [Source(number=1, url="https://evil.example/\x1b[31m", title=f"Title {ESCAPES}")]
    status = RunStatus(
        workflow_id="wf",
        question="q",
        requested_by="me",
        stage=Stage.AWAITING_DECISION,
        draft=Draft(round=1, text=f"Line one [1].\nLine two {ESCAPES}", sources=sources),
    )
    for shown in (render_sources(sources), render_draft(status)):
        assert not any(ord(c) < 32 and c != "\n" for c in shown), repr(shown)
        assert "You are approved" in shown
    assert "Line one [1].\nLine two" in render_draft(status)  # line breaks stay
