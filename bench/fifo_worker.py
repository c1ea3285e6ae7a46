"""`researchbot worker` with the Slack writes in one FIFO line, as before write classes: the baseline
of bench/scale.py. Every write is sent in arrival order within the same rate budgets, none coalesced.

    python -m bench.fifo_worker worker
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from activities.slack.reporter import writes as slack_writes

T = TypeVar("T")


class FifoWrites(slack_writes.SlackWrites):
    async def write(
        self,
        method: str,
        channel: str,
        send: Callable[[], Awaitable[T]],
        *,
        waited: bool,
        message: Hashable | None = None,
    ) -> T:
        return await super().write(method, channel, send, waited=True)


slack_writes.SlackWrites = FifoWrites  # type: ignore[misc]  # before activities.slack.reporter imports it

if __name__ == "__main__":
    from researchbot.cli import app

    app(prog_name="researchbot")
