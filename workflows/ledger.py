"""A run's cost ledger: tokens in and out, and the estimated cost when prices are set.

Shown in the draft's footer (slack_ui/thread.py), in the terminal (researchbot/terminal.py), and
stored in the archive's usage column (activities/archive/store.py). Pure: safe in workflow code.
"""

from __future__ import annotations

from workflows.models import Ledger, Prices, TokenUsage

__all__ = ["ledger_line", "ledger_of"]

PER_MTOK = 1_000_000


def ledger_of(usage: TokenUsage, prices: Prices) -> Ledger:
    cost = None
    if prices.input_per_mtok is not None and prices.output_per_mtok is not None:
        cost = (
            usage.prompt_tokens * prices.input_per_mtok + usage.completion_tokens * prices.output_per_mtok
        ) / PER_MTOK
    return Ledger(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        calls=usage.calls,
        cost_usd=cost,
        prices=prices,
    )


def ledger_line(ledger: Ledger, budget_stopped: str | None = None) -> str:
    """One line for a footer: "Tokens: 12,000 in · 800 out · 12,800 total · est. $0.0023"."""
    line = (
        f"Tokens: {ledger.input_tokens:,} in · {ledger.output_tokens:,} out · {ledger.total_tokens:,} total"
        f" ({ledger.calls} model call{'' if ledger.calls == 1 else 's'})"
    )
    if ledger.cost_usd is not None:
        line += f" · est. {_dollars(ledger.cost_usd)}"
    if budget_stopped:
        line += f" · the token budget stopped the research {budget_stopped}"
    return line


def _dollars(amount: float) -> str:
    """Cents once it is a dollar or more; below that, enough digits to tell small runs apart."""
    if amount >= 1 or amount == 0:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if amount >= 0.01 else f"${amount:.6f}"
