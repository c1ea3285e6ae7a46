"""Checks on a line a model wrote before it becomes a search query or a sub-question.

The same checks a person's question gets (``clean_question``, the bound of an edited plan's line), and
more: a model's reply can be cut JSON, and a fragment of it (``title": "The Pros of MongoDB``) reads
as text once its quotes are trimmed. So anything that looks like markup is refused, never repaired.
"""

from __future__ import annotations

import re
import unicodedata

from workflows.models import MAX_PLAN_QUESTION_CHARS, clean_question

__all__ = ["item_problem"]

_ROLE = re.compile(r"^\W*(?:system|user|assistant|human|ai|bot|response|instruction)s?\s*:", re.I)
_KEY = re.compile(r"""["'\u201c\u201d]\s*:|:\s*["'\u201c\u201d]|^\W*\w+_\w*\s*:""")  # "key": or key_name:
_URL = re.compile(r"\b(?:https?://|www\.)\S*", re.I)
_MARKUP = frozenset("{}[]<>`\\|")  # braces, brackets, tags, code, escapes, role tags like <|im_start|>
_KEPT_FORMAT = frozenset("\u200c\u200d")  # joiners some scripts and emoji need


def item_problem(text: str) -> str | None:
    """Why ``text`` (stripped, as a person's question is) may not be searched or planned, in a few words;
    None when it may."""
    try:
        text = clean_question(text)
    except ValueError as error:
        return str(error)
    if len(text) > MAX_PLAN_QUESTION_CHARS:
        return f"longer than {MAX_PLAN_QUESTION_CHARS} characters"
    if any(_is_control(c) for c in text):
        return "control characters"
    if markup := sorted(set(text) & _MARKUP):
        return "markup characters " + "".join(markup)
    if _KEY.search(text):
        return "a JSON or key fragment"
    if text.count('"') % 2 or text.count("\u201c") != text.count("\u201d"):
        return "unbalanced quotes"
    if _ROLE.match(text):
        return "a role tag"
    if not re.search(r"[^\W\d_]", _URL.sub(" ", text)):
        return "no words, only addresses, numbers or signs"
    return None


def _is_control(char: str) -> bool:
    kind = unicodedata.category(char)
    return kind in ("Cc", "Cs", "Co", "Cn") or (kind == "Cf" and char not in _KEPT_FORMAT) or char in "\u2028\u2029"
