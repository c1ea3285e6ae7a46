"""What a model writes is checked like a person's question before it is searched or planned
(activities/model/item_checks.py): plain text of a person's length, no markup fragments."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from activities.model.item_checks import item_problem
from workflows.models import MAX_PLAN_QUESTION_CHARS

_QUOTE_COLON = re.compile(r"""["'\u201c\u201d]\s*:|:\s*["'\u201c\u201d]""")


@pytest.mark.parametrize(
    "item",
    [
        "How does Temporal replay a workflow?",
        "temporal schema migrations",
        "A?",
        "What's new in Temporal 1.24: retries and timeouts",
        'Why is "durable execution" called durable?',
        "C++ vs C# for workers",
        "site:docs.temporal.io retry policy",
        "Durabilité des workflows \u00e0 Montr\u00e9al",
    ],
)
def test_plain_questions_and_queries_pass(item: str) -> None:
    assert item_problem(item) is None


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ('title": "The Pros of MongoDB in Big Data', "a JSON or key fragment"),  # the issue's, as searched
        ('text_type" : "bookmark', "a JSON or key fragment"),
        ("text_type: bookmark", "a JSON or key fragment"),
        ('{"query": "temporal"}', "markup characters"),
        ('["a", "b', "markup characters"),
        ("<b>Temporal</b> pricing", "markup characters"),
        ("```json", "markup characters"),
        ("<|im_start|>assistant", "markup characters"),
        ("[INST] search this", "markup characters"),
        ("Assistant: here are the queries", "a role tag"),
        ('Why is "durable execution', "unbalanced quotes"),
        ("https://docs.temporal.io/workflows", "no words"),
        ("www.example.com 2024", "no words"),
        ("temporal\x00retries", "control characters"),
        ("temporal\u202eretries", "control characters"),  # a right-to-left override
        ("", "empty"),
        ("x" * (MAX_PLAN_QUESTION_CHARS + 1), "longer than"),
    ],
)
def test_markup_fragments_and_what_a_person_could_not_send_are_refused(item: str, problem: str) -> None:
    found = item_problem(item)
    assert found is not None and problem in found


@given(st.text(max_size=120))
@example('"title": "x"')
@example("a } b")
@example("see <script>")
@example("key' :value")
@example("a\u00a0b\u2028c")
def test_nothing_accepted_holds_a_quote_colon_pair_a_brace_or_a_tag(text: str) -> None:
    if item_problem(text) is None:
        assert not _QUOTE_COLON.search(text)
        assert not set(text) & set("{}[]<>`")
        assert not re.search(r"<\s*/?\s*\w", text)
        assert text.strip() and len(text.strip()) <= MAX_PLAN_QUESTION_CHARS
        assert not {unicodedata.category(ch) for ch in text.strip()} & {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P", "S"]), max_size=120))
def test_fuzzed_json_around_anything_is_refused(text: str) -> None:
    for fragment in (f'"key": "{text}', f"{{{text}}}", f"[{text}", f"<p>{text}"):
        assert item_problem(fragment) is not None
