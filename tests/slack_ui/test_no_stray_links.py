"""Nothing the bot writes outside a run's sources becomes a link: every renderer of text that may come
from a page or a model (gap queries, sub-questions, pages not read, a draft's problems, a failure)
shows URLs, bare domains and e-mail addresses as code, where Slack links none of them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from slack_ui.mrkdwn import unlinked
from slack_ui.stream import progress_chunks
from slack_ui.thread import draft_messages, outcome_notice, plan_message, progress_message
from workflows.models import Draft, Outcome, ResearchResult, RunStatus, Stage, TokenUsage

HOSTILE = [
    "look up https://evil.example/reset",
    "reset at evil.example/reset now",
    "write to help@evil.example today",
    "see http://evil.example:8080/x?y=1&z=<2>",
    "mailto:help@evil.example",
    "`https://evil.example/in-code` then `",
    "<!channel> evil.example",
    "EVIL.EXAMPLE.COM/path",
]
_CODE = re.compile(r"`[^`]*`")
# What Slack links by itself, outside code: a scheme, an e-mail address, a bare domain.
_LINKED = re.compile(r"(?i)[a-z]+://|@evil|evil\.example|<(?:https?|mailto):")


def _outside_code(rendered: str) -> str:
    return _CODE.sub("", rendered)


def _status(text: str) -> RunStatus:
    return RunStatus(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        stage=Stage.READING,
        sub_questions=[text],
        gaps=[text],
        pages_unread=[f"evil.example: {text}"],
    )


def _failed(text: str) -> ResearchResult:
    return ResearchResult(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        outcome=Outcome.FAILED,
        answer="",
        steps_taken=1,
        sources=[],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:00Z",
        error=text,
    )


def _texts(blocks: object) -> str:
    """Every mrkdwn text of a message's blocks, joined."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def _dump(message: object) -> object:
    return json.loads(json.dumps(message if isinstance(message, dict) else message.model_dump()))  # type: ignore[attr-defined]


RENDERERS: dict[str, Callable[[str], list[object]]] = {
    "progress (gaps, pages not read)": lambda t: [progress_message(_status(t))],
    "plan (sub-questions)": lambda t: [plan_message(_status(t))],
    "draft problems": lambda t: list(draft_messages("wf", "q", Draft(round=1, text="x", sources=[], violations=[t]))),
    "failure notice": lambda t: [outcome_notice(_failed(t))],
}


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("text", HOSTILE)
def test_every_renderer_shows_addresses_as_code(renderer: str, text: str) -> None:
    rendered = _texts([_dump(m) for m in RENDERERS[renderer](text)])
    assert "evil" in rendered.lower(), "the text is shown"
    assert not _LINKED.search(_outside_code(rendered)), rendered


_PIECES = st.sampled_from([*"ab.:/@`<>!& -_", "evil.example", "https://", "x@y.zz"])


@given(st.lists(_PIECES, max_size=30).map("".join))
@example("@evil.example")  # a domain right after an @ that is no e-mail address
def test_unlinked_leaves_nothing_linkable_outside_code(text: str) -> None:
    shown = _outside_code(unlinked(text))
    assert not re.search(r"(?i)https?://[\w-]|evil\.example|\w@y\.zz", shown), (text, unlinked(text))
    assert "<" not in shown.replace("&lt;", "")


@pytest.mark.parametrize("text", HOSTILE)
def test_the_streamed_task_cards_show_addresses_as_code(text: str) -> None:
    chunks = progress_chunks(_status(text))
    shown = "\n".join(str(c.get(key, "")) for c in chunks for key in ("title", "details", "output"))
    assert "evil" in shown.lower(), "the text is shown"
    assert not _LINKED.search(_outside_code(shown)), shown
