"""The least time Slack's rate tiers allow for a burst's progress messages to be final.

Every run's progress message needs one more write once its draft (or, for an approved run, its
report) is out: a ``chat.update`` of its checklist, or a ``chat.appendStream`` of its task cards.
Those writes share their method's workspace budget with the writes a click needs at once (the
draft's buttons replaced, the root's outcome), which must go first to answer the click within
seconds. Given when each write could first go, :func:`floor` plays them through a token bucket with
the tier's rate and burst, the bucket full at the start, clicks first and then the progress writes
in the order they came (the order that makes the latest one least late), and returns the largest
lag of a progress write. No scheduler can beat it: bench/scale.py reports its measure as a ratio
to it. The writes a run makes before its draft (its intermediate checklists) are left out, so the
floor is a lower bound, not an estimate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sandbox.slack_api import RateLimit

__all__ = ["Write", "floor"]


@dataclass(frozen=True)
class Write:
    """One write a burst needed: its method, when it could first go, and whether it answers a click
    (goes first; not measured) or finishes a progress message (its lag is measured)."""

    method: str
    ready: float
    click: bool = False


def floor(writes: Iterable[Write], limits: Mapping[str, RateLimit], progress_burst: int | None = None) -> float:
    """The least possible largest lag (seconds after ``ready``) of the progress writes, over every
    method's budget. With ``progress_burst``, progress writes may spend only that much of a tier's burst
    and the rest is kept for clicks: the floor of a scheduler that cannot know when the next click comes
    and must still answer it at once (activities/slack/limits.py, Budget.finals)."""
    by_method: dict[str, list[Write]] = defaultdict(list)
    for write in writes:
        by_method[write.method].append(write)
    return max((_floor(group, limits[method], progress_burst) for method, group in by_method.items()), default=0.0)


def _floor(writes: list[Write], limit: RateLimit, progress_burst: int | None = None) -> float:
    rate, burst = limit.per_minute / 60.0, float(limit.burst)
    # Tokens a progress write must leave in the bucket: the clicks' share of the burst.
    kept = 0.0 if progress_burst is None else max(0.0, burst - progress_burst)
    pending = sorted(writes, key=lambda w: (w.ready, not w.click))
    tokens, now, worst = burst, pending[0].ready, 0.0
    while pending:
        now = max(now, min(w.ready for w in pending))
        if tokens < 1:  # wait for the next token, then choose among all that are ready by then
            wait = (1 - tokens) / rate
            tokens, now = 1.0, now + wait
        ready = [w for w in pending if w.ready <= now]
        chosen = min(ready, key=lambda w: (not w.click, w.ready))
        if not chosen.click and tokens < 1 + kept:  # the clicks' share: wait until it is whole again
            wait = (1 + kept - tokens) / rate
            tokens, now = tokens + wait * rate, now + wait
            continue
        pending.remove(chosen)
        tokens -= 1
        if not chosen.click:
            worst = max(worst, now - chosen.ready)
        # Tokens come back while the next write is not yet ready.
        if pending:
            later = max(now, min(w.ready for w in pending))
            tokens, now = min(burst, tokens + (later - now) * rate), later
    return worst
