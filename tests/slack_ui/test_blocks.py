"""Block Kit builders and mrkdwn: Slack's limits, escaping of model text, and the decision buttons."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from sandbox.validation import block_errors, view_errors
from slack_ui import blocks, ids, replies, stream, thread
from slack_ui.ids import MalformedId, decode_rating_value
from slack_ui.mrkdwn import escape, markdown_to_mrkdwn, neutralise_mentions, safe, split_text
from workflows.models import (
    DecisionKind,
    DecisionRecord,
    Draft,
    Outcome,
    Rating,
    ResearchResult,
    RunStatus,
    Source,
    Stage,
    TokenUsage,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = (
    "Ping <!channel> <!here|here> <!everyone> <@U123> <@W9|boss> <!subteam^S1|@devs> @here and @Channel: "
    "<https://evil.example|click> & more"
)


def texts(value) -> list[str]:
    """Every text string in a block structure."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "text" and isinstance(v, str)] + [
            t for k, v in value.items() for t in texts(v)
        ]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def assert_no_injection(text: str) -> None:
    assert "<!" not in text.replace("<!date^", "") and "<@U123>" not in text and "<@W9" not in text
    assert "<https://evil" not in text
    assert not re.search(r"@(channel|here|everyone)\b", text, re.IGNORECASE)


def assert_valid(message: blocks.Message) -> None:
    assert block_errors(message["blocks"]) == []  # the sandbox checks what Slack checks
    for text in [message["text"], *texts(message["blocks"])]:  # every < opens a link, mention or date we made
        assert all(re.match(r"<(@U[A-Z0-9]+>|!date\^|https?://|mailto:)", text[i:]) for i in _positions(text, "<"))
    assert len(message["blocks"]) <= blocks.MAX_BLOCKS
    assert blocks.blocks_text_length(message["blocks"]) <= blocks.MESSAGE_TEXT_BUDGET
    assert 0 < len(message["text"]) <= blocks.FALLBACK_CHARS


def _positions(text: str, char: str) -> list[int]:
    return [i for i, c in enumerate(text) if c == char]


def status(**changes) -> RunStatus:
    fields = dict(
        workflow_id="research-42", question="Is <!channel> & co. safe?", requested_by="UALICE", stage=Stage.SEARCHING
    )
    return RunStatus(**(fields | changes))


def draft(text: str = "An answer [1].", *, round: int = 2, violations: list[str] = ()) -> Draft:
    sources = [Source(number=1, url="https://example.org/a?b=1&c=2", title="Example <b>|pipe")]
    return Draft(round=round, text=text, sources=sources, violations=list(violations))


def result(outcome: Outcome = Outcome.APPROVED, answer: str = "The answer [1].", **changes) -> ResearchResult:
    decision = DecisionRecord(kind=DecisionKind.APPROVE, draft_round=1, decided_by="UBOB", at=NOW, via="update")
    fields = dict(
        workflow_id="research-42",
        question="Why?",
        requested_by="UALICE",
        outcome=outcome,
        answer=answer,
        steps_taken=7,
        sources=draft().sources,
        revision_rounds=1,
        usage=TokenUsage(),
        decisions=[decision],
        started_at=NOW,
        finished_at=NOW,
    )
    return ResearchResult(**(fields | changes))


def long_report(chars: int = 20_000) -> str:
    paragraph = "## Finding\n" + " ".join(f"word{n} **bold** [link](https://example.org/{n})" for n in range(40))
    text = ""
    while len(text) < chars:
        text += paragraph + "\n\n"
    return text


# ------------------------------------------------------------------ mrkdwn


def test_escape_and_neutralise() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    defused = neutralise_mentions(HOSTILE)
    assert_no_injection(escape(defused))
    assert "@\u200bdevs" in defused and "@\u200bU123" in defused and "@\u200bChannel" in defused
    assert neutralise_mentions("mail me@here.com") == "mail me@here.com"  # not a broadcast


def test_safe_cuts_after_escaping() -> None:
    cut = safe("&" * 5000, 3000)
    assert len(cut) <= 3000 and cut.endswith("…") and "&amp;" in cut
    assert not cut[:-1].endswith(("&", "&a", "&am", "&amp"))  # never half an entity


def test_markdown_to_mrkdwn() -> None:
    md = (
        "# Title\n**bold** and *italic* and ~~gone~~\n- item\n  - nested\n`a<b`\n"
        "```python\nx = 1 < 2\n```\n[docs](https://ex.org/a?x=1&y=2)"
    )
    assert markdown_to_mrkdwn(md).split("\n") == [
        "*Title*",
        "*bold* and _italic_ and ~gone~",
        "• item",
        "  ◦ nested",
        "`a&lt;b`",
        "```",
        "x = 1 &lt; 2",
        "```",
        "<https://ex.org/a?x=1&amp;y=2|docs>",
    ]


def test_model_markdown_cannot_inject() -> None:
    links = "[<!channel>](https://ok.example/x|y) [a](https://b>c) [x](javascript:alert(1))"
    converted = markdown_to_mrkdwn(HOSTILE + "\n" + links)
    assert_no_injection(converted)
    assert "<https://ok.example/x%7Cy|@\u200bchannel>" in converted  # the link survives; its URL cannot break out
    assert "[a](https://b&gt;c)" in converted  # not a URL Slack could take: left as text
    assert "<javascript" not in converted and "x (javascript:alert(1))" in converted


def test_split_text_prefers_paragraphs_and_keeps_everything() -> None:
    text = markdown_to_mrkdwn(long_report())
    parts = split_text(text, 3000)
    assert len(parts) >= 7 and all(len(p) <= 3000 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert all(p.startswith("*Finding*") for p in parts)  # cut between paragraphs, not inside them
    one_long_word = "x" * 7000
    assert [len(p) for p in split_text(one_long_word, 3000)] == [3000, 3000, 1000]


def test_split_text_closes_and_reopens_code_blocks() -> None:
    code = "```\n" + "\n".join(f"line {n}" for n in range(1000)) + "\n```"
    parts = split_text(code, 3000)
    assert len(parts) > 1 and all(len(p) <= 3000 and p.count("```") == 2 for p in parts)


# ------------------------------------------------------------------ run messages


def test_root_message_shows_question_asker_and_status() -> None:
    message = thread.root_message(status(searches_done=2, searches_total=5))
    assert_valid(message)
    shown = " ".join(texts(message["blocks"]))
    assert "Asked by <@UALICE>" in shown and "*Status:* Searching" in shown
    assert thread.root_message(status(searches_done=3, searches_total=5)) == message  # counts do not update it
    waiting = thread.root_message(status(stage=Stage.AWAITING_DECISION, draft_round=2))
    assert "Waiting for a decision (draft 2)" in " ".join(texts(waiting["blocks"]))
    assert "&amp; co." in shown and "<!channel>" not in shown
    finished = thread.root_message(status(stage=Stage.COMPLETED), result(Outcome.FAILED, error="the <@U1> model"))
    assert "⚠️ Failed: the @\u200bU1 model" in " ".join(texts(finished["blocks"]))


def test_a_huge_question_still_fits() -> None:
    message = thread.root_message(status().model_copy(update={"question": "&" * 2000}))
    assert_valid(message)


def test_progress_checklist_marks() -> None:
    message = thread.progress_message(
        status(
            stage=Stage.READING,
            sub_questions=["a", "b"],
            searches_done=4,
            searches_total=4,
            pages_read=1,
            pages_total=3,
        )
    )
    assert_valid(message)
    lines = message["blocks"][0]["text"]["text"].split("\n")[1:]
    assert lines == [
        "✓ Planning (2 questions)",
        "✓ Searching (4/4 searches)",
        "… Reading pages (1/3 pages)",
        "· Writing the draft",
        "· Checking citations",
        "· Waiting for a decision",
    ]
    assert "4 searches · 0 sources found · 1 page read" in texts(message["blocks"])
    done = thread.progress_message(status(stage=Stage.COMPLETED))["blocks"][0]["text"]["text"]
    assert done.count("✓") == 6
    failed = thread.progress_message(status(stage=Stage.FAILED, searches_done=1))["blocks"][0]["text"]["text"]
    assert "✗ Searching" in failed and "✓ Planning" in failed


def test_plan_lists_sub_questions_escaped() -> None:
    message = thread.plan_message(status(sub_questions=["What is <@U123>?", "Why & how?"]))
    assert_valid(message)
    assert message["blocks"][1]["text"]["text"] == "1. What is @\u200bU123?\n2. Why &amp; how?"
    revised = thread.plan_message(status(sub_questions=["a"], draft_round=2))
    assert revised["blocks"][0]["text"]["text"].startswith("*Plan for draft 2:*")


def test_draft_buttons_carry_the_run_and_round() -> None:
    [message] = thread.draft_messages("research-42", "Why?", draft())
    assert_valid(message)
    actions = message["blocks"][-1]
    assert actions["type"] == "actions"
    assert [b["action_id"] for b in actions["elements"]] == ["approve", "revise", "reject"]
    assert {b["value"] for b in actions["elements"]} == {'{"wf":"research-42","round":2}'}
    assert ids.decode_button_value(actions["elements"][0]["value"]) == ("research-42", 2)
    approve, _, reject = actions["elements"]
    assert approve["style"] == "primary" and reject["style"] == "danger"
    assert reject["confirm"]["confirm"]["text"] == "Reject"
    sources = next(t for t in texts(message["blocks"]) if t.startswith("*Sources*"))
    assert sources == "*Sources*\n1. <https://example.org/a?b=1&amp;c=2|Example &lt;b&gt;|pipe>"
    with pytest.raises(ValueError):
        ids.decode_button_value("not json")
    with pytest.raises(ValueError):
        ids.encode_button_value("w" * 2000, 1)


def test_a_draft_with_violations_cannot_be_approved() -> None:
    [message] = thread.draft_messages("research-42", "Why?", draft(violations=["[3] is not a source <!here>"]))
    assert_valid(message)
    assert [b["action_id"] for b in message["blocks"][-1]["elements"]] == ["revise", "reject"]
    assert "cannot be approved" in message["blocks"][2]["text"]["text"]
    assert_no_injection(" ".join(texts(message["blocks"])))


def test_hostile_model_text_is_defused_everywhere() -> None:
    messages = [
        *thread.draft_messages("research-42", HOSTILE, draft(HOSTILE)),
        *thread.final_report_messages(result(answer=HOSTILE, question=HOSTILE)),
    ]
    for message in messages:
        assert_valid(message)
        for text in [message["text"], *texts(message["blocks"])]:
            assert_no_injection(text)


def test_a_20000_character_report_is_split_across_messages() -> None:
    report = long_report(20_000)
    messages = thread.final_report_messages(result(answer=report))
    assert len(messages) >= 3
    for message in messages:
        assert_valid(message)
        assert all(len(t) <= blocks.MAX_SECTION_CHARS for t in texts(message["blocks"]))
    assert messages[0]["blocks"][0]["text"]["text"] == "Research report"
    assert "part 1 of" in messages[0]["text"]
    shown = " ".join(t for m in messages for b in m["blocks"] if b["type"] == "section" for t in texts(b))
    assert shown.count("*Finding*") == report.count("## Finding")  # nothing lost between parts
    footer, feedback, export = messages[-1]["blocks"][-3:]
    assert "2 revision rounds" not in texts(footer)[0]
    assert texts(footer)[0].startswith("1 source · 7 steps · 1 revision round")
    assert feedback["type"] == "context_actions"  # the rating buttons, then the Export buttons, close the last part
    assert export["type"] == "actions" and export["block_id"] == "report_export"
    assert not any(b["type"] == "context_actions" for m in messages[:-1] for b in m["blocks"])


def test_the_rating_buttons_name_the_run_and_the_rating() -> None:
    (block,) = [
        b for m in thread.final_report_messages(result()) for b in m["blocks"] if b["type"] == "context_actions"
    ]
    (buttons,) = block["elements"]
    assert buttons["type"] == "feedback_buttons" and buttons["action_id"] == thread.RATING_ACTION
    for key, rating in (("positive_button", Rating.POSITIVE), ("negative_button", Rating.NEGATIVE)):
        assert decode_rating_value(buttons[key]["value"]) == (result().workflow_id, rating)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "not json",
        "[]",
        '{"wf": "research-42"}',
        '{"wf": "research-42", "rating": "meh"}',
        '{"rating": "positive"}',
    ],
)
def test_a_rating_value_that_is_not_ours_is_malformed(value: object) -> None:
    with pytest.raises(MalformedId):
        decode_rating_value(value)


def test_deciding_a_long_draft_keeps_its_parts() -> None:
    posted = thread.draft_messages("research-42", "Why?", draft(long_report(20_000)))
    record = DecisionRecord(
        kind=DecisionKind.REVISE,
        draft_round=2,
        decided_by="UBOB",
        at=NOW,
        via="update",
        feedback="Cite <!channel> " + "more " * 200,
    )
    decided = thread.draft_messages(
        "research-42", "Why?", draft(long_report(20_000)), closed=thread.decision_line(record)
    )
    assert len(posted) > 1 and decided[:-1] == posted[:-1]
    assert decided[-1]["blocks"][:-1] == posted[-1]["blocks"][:-1]
    line = decided[-1]["blocks"][-1]
    assert line["type"] == "context" and line["elements"][0]["text"].startswith("✏️ Revision requested by <@UBOB>")
    assert all(b["type"] != "actions" for m in decided for b in m["blocks"])
    assert_valid(decided[-1])


def test_reminder_mentions_requester_and_approvers() -> None:
    message = thread.reminder_message(status(draft_round=3), ["UBOB", "UALICE", "<!channel>"])
    assert_valid(message)
    text = message["blocks"][0]["text"]["text"]
    assert text.count("<@UALICE>") == 1 and "<@UBOB>" in text and "draft 3" in text
    assert_no_injection(text)


@pytest.mark.parametrize("outcome", [Outcome.REJECTED, Outcome.EXPIRED, Outcome.CANCELLED, Outcome.FAILED])
def test_outcome_notices(outcome: Outcome) -> None:
    notice = thread.outcome_notice(result(outcome, error="boom"))
    assert_valid(notice)
    assert (
        notice["text"]
        .split()[1]
        .strip("*:")
        .lower()
        .startswith(
            {"rejected": "rejected", "expired": "expired", "cancelled": "cancelled", "failed": "the"}[outcome.value]
        )
    )
    with pytest.raises(ValueError):
        thread.outcome_notice(result(Outcome.APPROVED))


def test_too_many_blocks_are_cut_to_fit() -> None:
    message = blocks.message("fallback", [blocks.section(f"s{n}") for n in range(80)])
    assert_valid(message)
    assert len(message["blocks"]) == blocks.MAX_BLOCKS and "cut" in texts(message["blocks"][-1])[0]


# ------------------------------------------------------------------ modals and ephemerals


@pytest.mark.parametrize("kind", [DecisionKind.APPROVE, DecisionKind.REVISE])
def test_decision_modals(kind: DecisionKind) -> None:
    view = replies.decision_modal(kind, "research-42", 12, "Why <!here>?")
    assert view_errors(view) == []
    assert view["callback_id"] == "decision_modal" and len(view["title"]["text"]) <= 24
    assert json.loads(view["private_metadata"]) == {"wf": "research-42", "round": 12, "kind": kind.value}
    assert ids.decode_private_metadata(view["private_metadata"]) == ("research-42", 12, kind)
    feedback = view["blocks"][-1]
    assert feedback["block_id"] == "feedback" and feedback["element"]["action_id"] == "feedback"
    assert feedback["element"]["multiline"] is True
    assert feedback["optional"] is (kind is DecisionKind.APPROVE)
    assert_no_injection(view["blocks"][0]["text"]["text"])
    with pytest.raises(ValueError):
        replies.decision_modal(DecisionKind.REJECT, "research-42", 1, "Why?")


def test_ephemeral_answers() -> None:
    for message in (
        replies.usage_message(),
        replies.help_message(),
        replies.cannot_post_message(),
        replies.status_message([]),
        replies.status_message([status()] * 25),
    ):
        assert_valid(message)
    assert "/research" in replies.usage_message()["blocks"][0]["text"]["text"]
    assert "/invite" in replies.cannot_post_message()["text"]
    linked = replies.status_message(
        [status(), status(workflow_id="research-other")],
        {status().workflow_id: "https://team.slack.com/archives/C1/p1700000000000100"},
    )
    lines = linked["blocks"][0]["text"]["text"].splitlines()
    assert lines[0].startswith("• <https://team.slack.com/archives/C1/p1700000000000100|") and not lines[1].startswith(
        "• <"
    )
    many = replies.status_message([status()] * 25)
    assert many["blocks"][0]["text"]["text"].count("\n") == 19 and "5 more" in texts(many["blocks"][1])[0]


def test_a_status_of_twenty_long_linked_questions_is_cut_between_lines_not_inside_a_link() -> None:
    runs = [status(workflow_id=f"research-{n}", question="Why? " * 60) for n in range(20)]
    permalink = "https://a-very-long-workspace-name.enterprise.slack.com/archives/C0123456789/p1700000000000100"
    answer = replies.status_message(runs, {run.workflow_id: f"{permalink}?{run.workflow_id}" for run in runs})
    assert_valid(answer)
    lines = [line for block in answer["blocks"] for line in block["text"]["text"].splitlines()]
    assert len(answer["blocks"]) > 1 and len(lines) == 20
    assert all(line.startswith("• <https://") and "|" in line and ">:" in line for line in lines)


def test_the_research_loop_shows_what_it_looks_again_for() -> None:
    looking = status(stage=Stage.SEARCHING, sub_questions=["a", "b", "c"], gap_rounds=1, gaps=["c <!here>"])
    message = thread.progress_message(looking)
    assert_valid(message)
    text = message["blocks"][0]["text"]["text"]
    assert text.endswith("\nLooking again for: c @\u200bhere")
    assert (
        "Looking again"
        not in thread.progress_message(looking.model_copy(update={"stage": Stage.WRITING}))["blocks"][0]["text"]["text"]
    )
    chunks = stream.progress_chunks(looking)
    assert chunks[0] == {"type": "plan_update", "title": "Looking again for: c @\u200bhere"}
    assert [c["id"] for c in chunks[1:4]] == ["q1", "q2", "q3"]


def test_the_final_report_says_how_to_see_its_evidence() -> None:
    [report] = thread.final_report_messages(result())
    footer = report["blocks"][-3]  # then the rating buttons and the Export buttons
    assert footer["type"] == "context" and texts(footer)[-1] == "Evidence: `researchbot show research-42`"
    [odd] = thread.final_report_messages(result(workflow_id="research-<b>&`x`"))  # escaped; no ` ends the span
    assert_valid(odd)
    assert texts(odd["blocks"][-3])[-1] == "Evidence: `researchbot show research-&lt;b&gt;&amp;'x'`"
