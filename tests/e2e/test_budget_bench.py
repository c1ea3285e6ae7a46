"""The budget evaluation (bench/budget.py) meets its target: no run starved of tokens fails; each degrades."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.budget import SCENARIOS, evaluate
from workflows.models import Outcome


@pytest.mark.slow  # about 20 s: 3 questions measured, then starved in 5 ways
async def test_runs_starved_at_every_stage_degrade_instead_of_failing(env: WorkflowEnvironment) -> None:
    tally = await evaluate(env.client, only=2)

    assert len(tally.runs) == 3 * len(SCENARIOS)
    assert tally.failed_for_budget == 0 and tally.failed == 0, [r.error for r in tally.runs]
    where = {s: {r.status.budget_stopped for r in tally.runs if r.scenario == s} for s in SCENARIOS}
    assert where["plan"] == where["tiny"] == {"after planning"}
    assert where["search"] == {"before the research loop"} and where["loop"] == {"in the research loop"}
    # Nothing read: every run starved at its plan declines, and none ends as failed.
    starved = [r for r in tally.runs if r.scenario in ("plan", "tiny")]
    assert all(r.status.draft and r.status.draft.check and r.status.draft.check.declined for r in starved)
    assert all(r.outcome is Outcome.REJECTED for r in starved)
    # The answerable questions' drafts are approved; the rewrite the budget cannot pay for is not published.
    approved = [r for r in tally.runs if r.outcome is Outcome.APPROVED]
    assert approved and all(r.final_fallback for r in approved)
