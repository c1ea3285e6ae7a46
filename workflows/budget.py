"""A run's token budget: how much research it may still do, and what is kept for writing.

Running out is not a failure. Research (a revision's plan, a look for gaps, more searches and reads)
stops once the run has spent all but a reserve of its budget, and the run writes from the pages it has
read. Writing and the citation check still happen: the draft may overrun the reserve (each model call
is bounded by LLM_MAX_TOKENS), but no repair or retry is asked for once the budget is spent.
Pure functions of the run's usage: deterministic, safe in workflow code.
"""

from __future__ import annotations

from workflows.models import Budget, TokenUsage

__all__ = [
    "BUDGET_PATCH",
    "LOOP_BUDGET_SHARE",
    "WRITE_RESERVE_SHARE",
    "is_spent",
    "may_look_again",
    "may_research",
]

# Runs started before this change fail when their budget runs out; these degrade instead.
BUDGET_PATCH = "budget-degrades"
# The share of the budget kept for writing and checking the draft: a draft's prompt carries at most
# 24,000 characters of pages (activities/model/prompts.py), so a quarter of the default 200,000 tokens
# holds a draft, a repair and the final answer.
WRITE_RESERVE_SHARE = 0.25
# The research loop looks again only while the run has spent less than this share of its budget:
# a look reads every page so far, so it costs more than a plan.
LOOP_BUDGET_SHARE = 0.5


def may_research(usage: TokenUsage, budget: Budget) -> bool:
    """Whether the run may take another research step and still have its reserve for writing."""
    return usage.total_tokens < budget.max_total_tokens * (1 - WRITE_RESERVE_SHARE)


def may_look_again(usage: TokenUsage, budget: Budget) -> bool:
    return usage.total_tokens < budget.max_total_tokens * LOOP_BUDGET_SHARE


def is_spent(usage: TokenUsage, budget: Budget) -> bool:
    """The whole budget is used: only what a draft cannot do without (one write, its check) still runs."""
    return usage.total_tokens >= budget.max_total_tokens
