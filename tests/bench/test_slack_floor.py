"""bench/slack_floor.py: the least largest lag Slack's tiers allow for a burst's progress writes."""

import pytest

from bench.slack_floor import Write, floor
from sandbox.slack_api import RATE_LIMITS, TIER_3, RateLimit

ONE_A_SECOND = RateLimit(per_minute=60, burst=1)


def test_a_burst_at_once_waits_for_the_tier_past_its_burst() -> None:
    writes = [Write("chat.update", 0.0) for _ in range(100)]
    # Tier 3 here: 10 at once, then one every 1.2 s: the 100th goes 90 slots later.
    assert floor(writes, {"chat.update": TIER_3}) == pytest.approx(90 * 1.2)


def test_writes_slower_than_the_tier_are_never_late() -> None:
    writes = [Write("chat.update", 2.0 * n) for n in range(50)]
    assert floor(writes, {"chat.update": TIER_3}) == 0.0


def test_a_click_goes_first_and_the_progress_write_waits_a_slot() -> None:
    writes = [Write("chat.update", 0.0), Write("chat.update", 0.0, click=True)]
    assert floor(writes, {"chat.update": ONE_A_SECOND}) == pytest.approx(1.0)


def test_clicks_alone_are_not_measured() -> None:
    writes = [Write("chat.update", 0.0, click=True) for _ in range(20)]
    assert floor(writes, {"chat.update": ONE_A_SECOND}) == 0.0


def test_tokens_come_back_while_nothing_is_ready() -> None:
    # One token, spent at 0; the next write is ready at 5 s, by when the bucket is full again.
    writes = [Write("chat.update", 0.0), Write("chat.update", 5.0), Write("chat.update", 5.0)]
    assert floor(writes, {"chat.update": ONE_A_SECOND}) == pytest.approx(1.0)


def test_each_method_has_its_own_budget_and_the_worst_counts() -> None:
    writes = [Write("chat.update", 0.0) for _ in range(20)] + [Write("chat.appendStream", 0.0) for _ in range(3)]
    assert floor(writes, RATE_LIMITS) == pytest.approx(10 * 1.2)
    assert floor([], RATE_LIMITS) == 0.0


def test_keeping_the_clicks_share_of_the_burst_costs_the_progress_writes_those_slots() -> None:
    writes = [Write("chat.update", 0.0) for _ in range(100)]
    # Tier 3 with 8 of its 10 kept for clicks: 2 at once, then one every 1.2 s: 8 slots later than without.
    assert floor(writes, {"chat.update": TIER_3}, progress_burst=2) == pytest.approx(98 * 1.2)


def test_a_click_may_still_spend_the_share_kept_for_it() -> None:
    writes = [Write("chat.update", 0.0, click=True) for _ in range(8)] + [Write("chat.update", 0.0)]
    # The clicks take 8 of the 10 tokens at once; the progress write then needs its own 1 above the
    # 8 kept: 7 tokens more, 8.4 s.
    assert floor(writes, {"chat.update": TIER_3}, progress_burst=2) == pytest.approx(7 * 1.2)
