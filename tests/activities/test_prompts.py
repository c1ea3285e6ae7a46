"""The prompts: parsing the model's sub-questions, the bounds of the draft prompt, telling the prompts apart."""

from __future__ import annotations

import re

import pytest

from activities.model import prompts
from tests.activities.llm_inputs import HI, PAGES, QUESTION, SOURCES, synth
from workflows.activity_io import FinalizeInput
from workflows.models import Page


@pytest.mark.parametrize(
    "answer",
    [
        "Here are the sub-questions:\n1. What is Temporal?\n2) How do workflows replay?\n3. Cost?",
        "- What is Temporal?\n* How do workflows replay?\n\u2022 Cost?",
        '{"sub_questions": ["What is Temporal?", "How do workflows replay?", "Cost?"]}',
        '```json\n["What is Temporal?", "How do workflows replay?", "Cost?"]\n```',
        "What is Temporal?\nHow do workflows replay?\nCost?",
    ],
)
def test_parse_sub_questions_accepts_lists_bullets_and_json(answer):
    expected = ["What is Temporal?", "How do workflows replay?", "Cost?"]
    assert prompts.parse_sub_questions(answer) == expected
    assert prompts.parse_sub_questions(answer, limit=2) == expected[:2]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("{}", 'no "sub_questions" list'),
        ('{"results": ["What is Temporal?", "Cost?"]}', 'no "sub_questions" list'),
        ('[{"query": "What is Temporal?"}]', "holds objects, not plain strings"),
        ('["What is Temporal?", "Cost', "does not parse"),
        ('Sure! ["What is Temporal?", "Cost?"]', "no JSON list, numbered list or questions"),
        ('- "title": "Temporal",\n- "text_type" : "bookmark"', "no item is plain text"),
        ("", "empty"),
    ],
)
def test_an_answer_that_is_not_a_list_says_what_is_wrong(answer, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        prompts.parse_sub_questions(answer)


def test_a_wrapping_is_removed_but_a_fragment_is_dropped_not_trimmed_into_text():
    answer = '1. "What is Temporal?",\n2. "title": "The Pros of MongoDB",\n3. **Cost?**\n4. <b>Limits?</b>'
    assert prompts.parse_sub_questions(answer) == ["What is Temporal?", "Cost?"]


@pytest.mark.parametrize("answer", ["NONE", "None.", '{"sub_questions": []}', "[]"])
def test_parse_revision_accepts_none(answer):
    assert prompts.parse_revision_sub_questions(answer, ["What is Temporal?"]) == []


def test_parse_revision_keeps_only_new_questions_and_at_most_three():
    answer = "1. What is Temporal?\n2. Pricing?\n3. Limits?\n4. History size?\n5. Alternatives?"
    assert prompts.parse_revision_sub_questions(answer, ["what is temporal"]) == [
        "Pricing?",
        "Limits?",
        "History size?",
    ]


def test_synthesize_prompt_is_bounded_and_carries_feedback_draft_and_violations():
    long_page = Page(url=SOURCES[0].url, title="t", text="word " * 50_000)
    data = synth(
        pages=[long_page],
        feedback="Say more about replay",
        previous_draft="Old draft [1]",
        violations=["cites [9], which is not a source"],
    )
    system, user = prompts.synthesize_messages(data)
    assert "Use only these numbers: [1]." in system["content"]
    assert len(user["content"]) < prompts.PAGES_PROMPT_CHARS + 2_000
    for part in ("Say more about replay", "Old draft [1]", "cites [9]", QUESTION):
        assert part in user["content"]


def test_prompt_kind_tells_the_prompts_apart_even_when_pages_mention_sub_questions():
    page = Page(url=SOURCES[0].url, title="t", text="Plan sub-questions, then answer them.")
    final = FinalizeInput(question=QUESTION, draft="d", sources=SOURCES, pages=PAGES, feedback="f")
    assert prompts.prompt_kind(prompts.plan_messages(QUESTION)) == "plan"
    assert prompts.prompt_kind(prompts.revision_messages(QUESTION, "more?", ["A?"])) == "revision"
    assert prompts.prompt_kind(prompts.synthesize_messages(synth(pages=[page]))) == "draft"
    assert prompts.prompt_kind(prompts.finalize_messages(final)) == "finalize"
    assert prompts.prompt_kind(HI) is None
