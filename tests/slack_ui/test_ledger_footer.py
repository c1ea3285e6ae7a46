"""The run's ledger in the draft's footer and the report's: tokens always, the estimated cost with prices."""

from __future__ import annotations

import json

from slack_ui.thread import draft_messages, final_report_messages, progress_message
from workflows.ledger import ledger_line, ledger_of
from workflows.models import Draft, Outcome, Prices, ResearchResult, RunStatus, Source, Stage, TokenUsage

USAGE = TokenUsage(prompt_tokens=123_400, completion_tokens=5_600, calls=7)
PRICES = Prices(input_per_mtok=0.15, output_per_mtok=0.60)
SOURCES = [Source(number=1, url="https://docs.example/temporal", title="Temporal")]


def _footers(messages: list) -> list[str]:
    """The text of every context block, in order."""
    return [
        element["text"]
        for message in messages
        for block in message["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
    ]


def _draft(prices: Prices, budget_stopped: str | None = None) -> Draft:
    return Draft(
        round=1,
        text="Temporal retries activities [1].",
        sources=SOURCES,
        ledger=ledger_of(USAGE, prices),
        budget_stopped=budget_stopped,
    )


def test_the_footer_shows_tokens_only_without_prices() -> None:
    footers = _footers(draft_messages("wf", "q", _draft(Prices())))
    assert "Tokens: 123,400 in · 5,600 out · 129,000 total (7 model calls)" in footers
    assert not any("$" in footer for footer in footers)


def test_the_footer_shows_the_estimated_cost_with_prices() -> None:
    # 123,400 × $0.15 + 5,600 × $0.60 per million tokens = $0.01851 + $0.00336
    footers = _footers(draft_messages("wf", "q", _draft(PRICES)))
    assert "Tokens: 123,400 in · 5,600 out · 129,000 total (7 model calls) · est. $0.0219" in footers


def test_the_footer_says_when_the_budget_stopped_the_research() -> None:
    footers = _footers(draft_messages("wf", "q", _draft(Prices(), budget_stopped="after planning")))
    assert any(f.endswith("· the token budget stopped the research after planning") for f in footers), footers


def test_drafts_from_before_the_ledger_have_no_token_line() -> None:
    draft = Draft(round=1, text="Temporal retries activities [1].", sources=SOURCES)
    assert not any("Tokens:" in footer for footer in _footers(draft_messages("wf", "q", draft)))


def test_the_report_footer_carries_the_ledger() -> None:
    result = ResearchResult(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        outcome=Outcome.APPROVED,
        answer="Temporal retries activities [1].",
        steps_taken=3,
        sources=SOURCES,
        revision_rounds=0,
        usage=USAGE,
        decisions=[],
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:00Z",
        ledger=ledger_of(USAGE, PRICES),
    )
    assert any(
        f.startswith("Tokens: 123,400 in") and "est. $0.0219" in f for f in _footers(final_report_messages(result))
    )


def test_costs_read_at_their_scale() -> None:
    assert ledger_line(ledger_of(TokenUsage(prompt_tokens=1000, completion_tokens=100, calls=1), PRICES)).endswith(
        "(1 model call) · est. $0.000210"
    )
    big = ledger_of(
        TokenUsage(prompt_tokens=2_000_000, completion_tokens=1_000_000, calls=40),
        Prices(input_per_mtok=2.5, output_per_mtok=10),
    )
    assert big.cost_usd == 15.0 and ledger_line(big).endswith("est. $15.00")
    free = ledger_of(USAGE, Prices(input_per_mtok=0, output_per_mtok=0))
    assert free.cost_usd == 0 and ledger_line(free).endswith("est. $0.00")


def test_the_progress_says_the_budget_stopped_the_research() -> None:
    status = RunStatus(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        stage=Stage.WRITING,
        pages_read=3,
        budget_stopped="in the research loop",
    )
    posted = json.dumps(progress_message(status))
    assert "The token budget stopped the research in the research loop: writing from the 3 pages read" in posted
