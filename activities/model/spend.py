"""Tokens an LLM activity spends across its attempts, so the run's budget also counts failed attempts.

A completion whose answer is then refused (empty, unparseable) or whose attempt dies later still cost
tokens. Each completion is recorded as it arrives and heartbeated; the next attempt reads the total
from its heartbeat details and adds it to the usage it returns, which the workflow charges to the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from temporalio import activity

from workflows.models import TokenUsage

__all__ = ["Meter", "metering", "record"]

_current: ContextVar[Meter | None] = ContextVar("llm_spend", default=None)


class Meter:
    def __init__(self, earlier: TokenUsage) -> None:
        self.earlier = earlier  # spent by the attempts before this one
        self.attempt = TokenUsage()  # spent by this attempt so far

    def total(self) -> TokenUsage:
        return self.earlier + self.attempt


def record(usage: TokenUsage) -> None:
    """One completion's cost, as soon as it is known (a no-op outside a metered activity)."""
    if (meter := _current.get()) is not None:
        meter.attempt = meter.attempt + usage


@contextmanager
def metering() -> Iterator[Meter]:
    """Meter this activity attempt, starting from what its earlier attempts heartbeated."""
    earlier = TokenUsage()
    if activity.in_activity() and (details := activity.info().heartbeat_details):
        earlier = TokenUsage.model_validate(details[0])
    meter = Meter(earlier)
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)
