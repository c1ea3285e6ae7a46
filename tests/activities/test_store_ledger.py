"""The archive keeps each run's ledger in its usage column: tokens in and out, cost, prices, budget stop."""

from __future__ import annotations

import sqlalchemy as sa

from activities.archive.store import ArchiveStore, research_runs
from tests.activities.test_store import a_result
from workflows.ledger import ledger_of
from workflows.models import Prices, TokenUsage


def _usage(store: ArchiveStore, workflow_id: str) -> dict:
    with store.engine.connect() as connection:
        return connection.execute(
            sa.select(research_runs.c.usage).where(research_runs.c.workflow_id == workflow_id)
        ).scalar_one()


def test_the_ledger_is_archived_with_the_usage(store: ArchiveStore) -> None:
    usage = TokenUsage(prompt_tokens=1200, completion_tokens=345, calls=4)
    ledger = ledger_of(usage, Prices(input_per_mtok=2.0, output_per_mtok=8.0))
    store.save(a_result("run-priced", ledger=ledger, budget_stopped="in the research loop"))
    stored = _usage(store, "run-priced")
    assert stored["prompt_tokens"] == stored["input_tokens"] == 1200
    assert stored["output_tokens"] == 345 and stored["total_tokens"] == 1545 and stored["calls"] == 4
    assert stored["cost_usd"] == (1200 * 2.0 + 345 * 8.0) / 1_000_000
    assert stored["prices"] == {"input_per_mtok": 2.0, "output_per_mtok": 8.0}
    assert stored["budget_stopped"] == "in the research loop"


def test_without_prices_the_archive_has_tokens_and_no_cost(store: ArchiveStore) -> None:
    usage = TokenUsage(prompt_tokens=10, completion_tokens=5, calls=1)
    store.save(a_result("run-unpriced", usage=usage, ledger=ledger_of(usage, Prices())))
    stored = _usage(store, "run-unpriced")
    assert stored["prompt_tokens"] == stored["input_tokens"] == 10 and stored["total_tokens"] == 15
    assert stored["cost_usd"] is None and stored["budget_stopped"] is None
