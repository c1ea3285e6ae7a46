"""What a command's text and an edited plan's text mean: the review flag, and one sub-question a line."""

from __future__ import annotations

import pytest

from bot.from_command import review_flag
from workflows.plan_review import parse_plan, plan_problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--review-plan How do retries work?", (True, "How do retries work?")),
        ("--REVIEW-PLAN   How do retries work?", (True, "How do retries work?")),
        ("--no-review-plan How do retries work?", (False, "How do retries work?")),
        ("How do retries work? --review-plan", (None, "How do retries work? --review-plan")),
        ("--review-plan", (True, "")),
    ],
)
def test_the_review_flag_comes_first_and_leaves_the_question(text: str, expected: tuple[bool | None, str]) -> None:
    assert review_flag(text) == expected


def test_an_edited_plan_is_one_sub_question_a_line_within_bounds() -> None:
    assert parse_plan("1. What is a retry?\n\n - How do heartbeats work?\n2) Why?\n  ") == [
        "What is a retry?",
        "How do heartbeats work?",
        "Why?",
    ]
    assert plan_problem(parse_plan("  \n ")) == "an edited plan needs at least one sub-question, one a line"
    assert "at most 8" in (plan_problem([f"q{n}" for n in range(9)]) or "")
    assert "sub-question 2 is 301 characters long" in (plan_problem(["ok", "x" * 301]) or "")
    assert plan_problem(["x" * 300] * 8) is None
