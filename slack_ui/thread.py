"""The messages of a research run's Slack thread: pure builders, no I/O.

The root message (the question and where the run is), the plan, the live progress checklist, the
draft with its sources and decision buttons, the reminder, and the final report. Builders whose
content can outgrow one message (drafts, reports) return a list. Text from people and models is
escaped here and every Slack limit is enforced (through :mod:`slack_ui.blocks`), so callers post what
they get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_ui.blocks import (
    MAX_BUTTON_TEXT,
    Block,
    Message,
    context,
    header,
    message,
    paginate,
    plain,
    section,
    sections,
)
from slack_ui.exports import export_buttons
from slack_ui.ids import encode_button_value, encode_plan_value, encode_rating_value
from slack_ui.mrkdwn import escape, link, markdown_for_slack, markdown_to_mrkdwn, mention, safe, unlinked
from slack_ui.what_changed import what_changed_blocks
from workflows.guardrails import check_line, cited_numbers
from workflows.ledger import ledger_line
from workflows.models import (
    DecisionKind,
    DecisionRecord,
    Draft,
    Outcome,
    PlanReviewKind,
    PlanReviewRecord,
    Rating,
    ResearchResult,
    RunStatus,
    Source,
    Stage,
)
from workflows.plan_review import PLAN_NOT_REVIEWED

__all__ = [
    "PLAN_EDIT_ACTION",
    "PLAN_SEARCH_ACTION",
    "RATING_ACTION",
    "budget_stopped_line",
    "closed_line",
    "decision_line",
    "draft_messages",
    "evidence_line",
    "failed_searches_line",
    "final_report_messages",
    "outcome_notice",
    "plan_closed_line",
    "plan_message",
    "plan_review_line",
    "progress_message",
    "rating_buttons",
    "reminder_message",
    "report_tail",
    "root_message",
    "status_line",
]


RATING_ACTION = "report_feedback"  # the 👍 / 👎 buttons; reports already posted carry this id
# The plan's review buttons (bot/listeners/actions.py): go on with the plan, or open the edit modal.
PLAN_SEARCH_ACTION = "plan_search"
PLAN_EDIT_ACTION = "plan_edit"
# A report goes out as one ``markdown`` block when it fits in one message beside its head, sources and
# tail (https://docs.slack.dev/reference/block-kit/blocks/markdown-block: 12,000 characters for all of a
# message's markdown blocks; our messages stay within MESSAGE_TEXT_BUDGET); a longer one as sections.
MARKDOWN_BLOCK_ROOM = 5_000


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _question(question: str) -> str:
    return f"*Question:* {safe(question, 500)}"


def _sources(sources: Sequence[Source], text: str) -> list[Block]:
    """The sources the text cites, by their numbers; the ones read but not cited only as a count."""
    cited = set(cited_numbers(text))
    shown = [s for s in sources if s.number in cited] or list(sources)
    if not shown:
        return []
    lines = [f"{s.number}. {link(s.url, s.title.strip() or s.url)}" for s in shown]
    if unused := len(sources) - len(shown):
        lines.append(f"_{_count(unused, 'more source')} read but not cited_")
    return sections("*Sources*\n" + "\n".join(lines))


# ------------------------------------------------------------------ status


_CHECKLIST = (
    (Stage.PLANNING, "Planning"),
    (Stage.SEARCHING, "Searching"),
    (Stage.READING, "Reading pages"),
    (Stage.WRITING, "Writing the draft"),
    (Stage.CHECKING, "Checking citations"),
    (Stage.AWAITING_DECISION, "Waiting for a decision"),
)
_STAGE_TEXT = {
    Stage.STARTING: "Starting",
    Stage.PLANNING: "Planning the research",
    Stage.AWAITING_PLAN_REVIEW: "Waiting for the plan's review",
    Stage.SEARCHING: "Searching",
    Stage.READING: "Reading pages",
    Stage.WRITING: "Writing the draft",
    Stage.CHECKING: "Checking citations",
    Stage.AWAITING_DECISION: "Waiting for a decision",
    Stage.FINALIZING: "Writing the final report",
    Stage.STORING: "Saving the report",
    Stage.COMPLETED: "✅ Done",
    Stage.REJECTED: "❌ Rejected",
    Stage.EXPIRED: "⌛ Expired: no decision in time",
    Stage.CANCELLED: "🚫 Cancelled",
    Stage.FAILED: "⚠️ Failed",
}
_OUTCOME_TEXT = {
    Outcome.APPROVED: "✅ Approved: the report is in the thread",
    Outcome.REJECTED: "❌ Rejected",
    Outcome.EXPIRED: "⌛ Expired: no decision in time",
    Outcome.CANCELLED: "🚫 Cancelled",
    Outcome.FAILED: "⚠️ Failed",
}


def _stage_detail(status: RunStatus, stage: Stage) -> str:
    if stage is Stage.PLANNING and status.sub_questions:
        return f" ({len(status.sub_questions)} questions)"
    if stage is Stage.SEARCHING and status.searches_total:
        return f" ({status.searches_done}/{status.searches_total} searches)"
    if stage is Stage.READING and status.pages_total:
        return f" ({status.pages_read}/{status.pages_total} pages)"
    if stage is Stage.AWAITING_DECISION and status.draft_round:
        return f" (draft {status.draft_round})"
    return ""


def status_line(status: RunStatus, result: ResearchResult | None = None, *, counts: bool = False) -> str:
    """One line of mrkdwn saying where a run is, or how it ended. Without ``counts`` it changes only
    with the stage (and the draft round), so a message showing it needs few updates."""
    if result is not None:
        error = f": {unlinked(result.error, 300)}" if result.outcome is Outcome.FAILED and result.error else ""
        return _OUTCOME_TEXT[result.outcome] + error
    detail = counts or status.stage is Stage.AWAITING_DECISION
    return _STAGE_TEXT[status.stage] + (_stage_detail(status, status.stage) if detail else "")


def root_message(status: RunStatus, result: ResearchResult | None = None) -> Message:
    line = status_line(status, result)
    blocks = [
        section(f"🔎 *Research:* {safe(status.question, 2800)}"),
        context(f"Asked by {mention(status.requested_by)}", f"*Status:* {line}"),
    ]
    return message(f"Research: {safe(status.question, 150)} · {line}", blocks)


def plan_message(status: RunStatus, *, closed: str | None = None) -> Message:
    """The questions to research; from the second round on, after a reviewer's feedback. A plan awaiting
    review carries Search this / Edit plan; with ``closed`` (a :func:`plan_review_line` or
    :func:`plan_closed_line`) it carries that line instead."""
    lines = [f"{n}. {unlinked(q, 500)}" for n, q in enumerate(status.sub_questions, 1)]
    text = "\n".join(lines) or "_No sub-questions: I'll search for the question as asked._"
    title = (
        "*Plan:* I'll look into these questions"
        if status.draft_round <= 1
        else (f"*Plan for draft {status.draft_round}:* after the feedback, I'll look into these questions")
    )
    tail: list[Block] = []
    if closed:
        tail = [context(closed)]
    elif status.stage is Stage.AWAITING_PLAN_REVIEW and status.plan_review_round:
        who = mention(status.requested_by)
        tail = [context(f"Nothing is searched until {who} or an approver answers."), _plan_buttons(status)]
    return message(f"Research plan (draft {max(status.draft_round, 1)})", [section(title), *sections(text), *tail])


def _plan_buttons(status: RunStatus) -> Block:
    value = encode_plan_value(status.workflow_id, status.plan_review_round)
    buttons = [
        _button("Search this", PLAN_SEARCH_ACTION, value, "primary"),
        _button("Edit plan", PLAN_EDIT_ACTION, value),
    ]
    return {"type": "actions", "block_id": f"plan-review-{status.plan_review_round}", "elements": buttons}


def plan_review_line(record: PlanReviewRecord) -> str:
    """Who answered a plan's review, for the context line that replaces its buttons."""
    verb = "✏️ Plan edited by" if record.kind is PlanReviewKind.EDIT else "▶️ Searched as planned, by"
    stamp = int(record.at.timestamp())
    when = f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{record.at:%Y-%m-%d %H:%M} UTC>"
    return f"{verb} {mention(record.reviewed_by)} {when}"


def plan_closed_line(outcome: Outcome) -> str:
    """Why a plan's review buttons went away when no review says so."""
    return "⌛ No one reviewed this plan in time" if outcome is Outcome.EXPIRED else closed_line(outcome)


def _checklist_position(status: RunStatus) -> tuple[int, str]:
    """Which checklist line is current, and the mark it gets."""
    stages = [stage for stage, _ in _CHECKLIST]
    if status.stage is Stage.AWAITING_PLAN_REVIEW:
        return 0, "⏸"  # planned, and nothing searched until someone reviews the plan
    if status.stage in stages:
        return stages.index(status.stage), "…"
    if status.stage in (Stage.CANCELLED, Stage.FAILED):
        # the furthest stage the run is known to have reached
        evidence = ((status.draft, 5), (status.pages_read, 2), (status.searches_done, 1), (status.sub_questions, 1))
        return next((n for done, n in evidence if done), 0), "✗"
    return (0, "…") if status.stage is Stage.STARTING else (len(stages), "✓")


def progress_message(status: RunStatus) -> Message:
    position, mark = _checklist_position(status)
    lines = [
        f"{'✓' if n < position else mark if n == position else '·'} {label}{_stage_detail(status, stage)}"
        for n, (stage, label) in enumerate(_CHECKLIST)
    ]
    counts = (
        f"{_count(status.searches_done, 'search', 'searches')} · {_count(len(status.sources), 'source')} found · "
        f"{_count(status.pages_read, 'page')} read"
    )
    if status.gaps and status.stage in (Stage.SEARCHING, Stage.READING):
        lines.append(looking_again(status))
    if status.budget_stopped:
        lines.append(budget_stopped_line(status))
    if status.pages_unread:
        lines.append(unread_pages_line(status))
    if status.searches_failed:
        lines.append(failed_searches_line(status))
    return message("Research progress", [section("*Progress*\n" + "\n".join(lines)), context(counts)])


def looking_again(status: RunStatus) -> str:
    """The research loop's latest follow-up queries: what the pages read so far did not cover."""
    return "Looking again for: " + "; ".join(unlinked(query, 200) for query in status.gaps)


def unread_pages_line(status: RunStatus) -> str:
    """The pages the run could not read and why, so a slow or refusing site is named, not waited on."""
    shown = "; ".join(unlinked(line, 200) for line in status.pages_unread[:5])
    more = len(status.pages_unread) - 5
    return f"⚠ Could not read: {shown}" + (f"; and {more} more" if more > 0 else "")


def failed_searches_line(status: RunStatus) -> str:
    """The searches and sources that failed (an MCP server that died or hung), so the run says which."""
    shown = "; ".join(unlinked(line, 200) for line in status.searches_failed[:5])
    more = len(status.searches_failed) - 5
    return f"⚠ Search failed: {shown}" + (f"; and {more} more" if more > 0 else "")


def budget_stopped_line(status: RunStatus) -> str:
    """Why the research stopped short: the token budget ran out, so the run writes from what it read."""
    return (
        f"⏹ The token budget stopped the research {safe(status.budget_stopped or '', 100)}: "
        f"writing from the {_count(status.pages_read, 'page')} read"
    )


# ------------------------------------------------------------------ drafts and decisions


def _button(text: str, action_id: str, value: str, style: str | None = None, **extra: Any) -> Block:
    button = {"type": "button", "text": plain(text, MAX_BUTTON_TEXT), "action_id": action_id, "value": value, **extra}
    return button | ({"style": style} if style else {})


def _decision_buttons(workflow_id: str, draft: Draft) -> Block:
    value = encode_button_value(workflow_id, draft.round)
    confirm = {
        "title": plain("Reject this draft?", 100),
        "text": plain("The run ends without a report.", 300),
        "confirm": plain("Reject", 30),
        "deny": plain("Keep it", 30),
        "style": "danger",
    }
    buttons = [] if draft.violations else [_button("Approve", "approve", value, "primary")]
    buttons += [_button("Revise", "revise", value), _button("Reject", "reject", value, "danger", confirm=confirm)]
    return {"type": "actions", "block_id": f"decision-{draft.round}", "elements": buttons}


def decision_line(record: DecisionRecord) -> str:
    """Who decided what on a draft, for the context line that replaces its buttons."""
    verb = {
        DecisionKind.APPROVE: "✅ Approved by",
        DecisionKind.REVISE: "✏️ Revision requested by",
        DecisionKind.REJECT: "❌ Rejected by",
    }[record.kind]
    stamp = int(record.at.timestamp())
    when = f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{record.at:%Y-%m-%d %H:%M} UTC>"
    feedback = f": “{safe(record.feedback, 500)}”" if record.feedback else ""
    return f"{verb} {mention(record.decided_by)} {when}{feedback}"


def closed_line(outcome: Outcome) -> str:
    """Why a draft's buttons went away when no decision on it says so."""
    return {
        Outcome.APPROVED: "✅ Approved",
        Outcome.REJECTED: "❌ Rejected",
        Outcome.EXPIRED: "⌛ No decision in time: this draft expired",
        Outcome.CANCELLED: "🚫 The run was cancelled",
        Outcome.FAILED: "⚠️ The run failed",
    }[outcome]


def draft_messages(workflow_id: str, question: str, draft: Draft, *, closed: str | None = None) -> list[Message]:
    """A draft for review. The last message carries Approve / Revise / Reject (no Approve if the
    checks found violations); with ``closed`` (a :func:`decision_line` or :func:`closed_line`) it
    carries that line instead."""
    head = [header(f"Draft {draft.round} for review"), context(_question(question))]
    problems = (
        [
            *sections(
                "⚠️ *The checks found problems the model could not fix, so this draft cannot be approved:*\n"
                + "\n".join(f"• {unlinked(v, 500)}" for v in draft.violations)
            ),
        ]
        if draft.violations
        else []
    )
    body = [
        *what_changed_blocks(draft.changes),  # a scheduled run's: the reviewer reads the difference first
        *problems,
        *sections(markdown_to_mrkdwn(draft.text, [s.url for s in draft.sources]) or "_(empty draft)_"),
        *_sources(draft.sources, draft.text),
        *([context(safe(check_line(draft.check)))] if draft.check else []),
        *([context(safe(ledger_line(draft.ledger, draft.budget_stopped)))] if draft.ledger else []),
    ]
    tail = [context(closed)] if closed else [_decision_buttons(workflow_id, draft)]
    return paginate(head, body, tail, f"Draft {draft.round} is ready for review: {safe(question, 150)}")


def reminder_message(status: RunStatus, approvers: Sequence[str]) -> Message:
    people = " ".join(mention(p) for p in dict.fromkeys([status.requested_by, *approvers]))
    text = (
        f"⏰ {people}: draft {status.draft_round} of “{safe(status.question, 300)}” is still waiting "
        "for a decision. Approve, revise or reject it above."
    )
    return message(text, [section(text)])


# ------------------------------------------------------------------ the end of a run


def final_report_messages(result: ResearchResult) -> list[Message]:
    approvals = [d for d in result.decisions if d.kind is DecisionKind.APPROVE and d.applied]
    approved = f" · approved by {mention(approvals[-1].decided_by)}" if approvals else ""
    head = [header("Research report"), context(_question(result.question) + approved)]
    urls = [s.url for s in result.sources]
    markdown = markdown_for_slack(result.answer, urls)
    if 0 < len(markdown) <= MARKDOWN_BLOCK_ROOM:
        # Slack renders the model's Markdown itself (headings, lists, tables) better than converted mrkdwn.
        text: list[Block] = [{"type": "markdown", "text": markdown}]
    else:
        text = sections(markdown_to_mrkdwn(result.answer, urls) or "_(empty report)_")
    body = [*text, *_sources(result.sources, result.answer)]
    return paginate(head, body, report_tail(result), f"Research report: {safe(result.question, 150)}")


def report_tail(result: ResearchResult) -> list[Block]:
    """What closes a final report, wherever it is shown: its counts and who asked, the 👍 / 👎 buttons, and
    the Export buttons (the report as a file in the thread: slack_ui/exports.py)."""
    counts = (
        _count(len(result.sources), "source"),
        _count(result.steps_taken, "step"),
        _count(result.revision_rounds, "revision round"),
    )
    footer = [f"{' · '.join(counts)} · asked by {mention(result.requested_by)}"]
    if result.ledger:
        footer.append(safe(ledger_line(result.ledger, result.budget_stopped)))
    footer.append(evidence_line(result.workflow_id))
    return [context(*footer), rating_buttons(result.workflow_id), export_buttons(result.workflow_id)]


def rating_buttons(workflow_id: str) -> Block:
    """Slack's 👍/👎 for an answer, its ``feedback_buttons`` element
    (https://docs.slack.dev/reference/block-kit/blocks/context-actions-block): the click's value names the
    run and the rating (bot/listeners/ratings.py records it)."""

    def button(emoji: str, label: str, rating: Rating) -> Block:
        return {
            "text": {"type": "plain_text", "text": emoji},
            "accessibility_label": label,
            "value": encode_rating_value(workflow_id, rating),
        }

    return {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": RATING_ACTION,
                "positive_button": button("👍", "This report was useful", Rating.POSITIVE),
                "negative_button": button("👎", "This report was not useful", Rating.NEGATIVE),
            }
        ],
    }


def evidence_line(workflow_id: str) -> str:
    """How to see the report's sources with the passage behind each claim (researchbot show)."""
    command = safe(f"researchbot show {workflow_id}", 300).replace("`", "'")  # nothing may close the code span
    return f"Evidence: `{command}`"


def outcome_notice(result: ResearchResult) -> Message:
    """The thread's last word on a run that ended without a report."""
    rejections = [d for d in result.decisions if d.kind is DecisionKind.REJECT and d.applied]
    if result.outcome is Outcome.REJECTED:
        by = f" by {mention(rejections[-1].decided_by)}" if rejections else ""
        why = f": “{safe(rejections[-1].feedback, 1000)}”" if rejections and rejections[-1].feedback else ""
        text = f"❌ *Rejected*{by}{why}. No report was published."
    elif result.outcome is Outcome.EXPIRED and result.error == PLAN_NOT_REVIEWED:
        text = "⌛ *Expired*: no one reviewed the plan in time, so nothing was searched and no report was published."
    elif result.outcome is Outcome.EXPIRED:
        text = "⌛ *Expired*: no one decided on the draft in time, so the run ended without a report."
    elif result.outcome is Outcome.CANCELLED:
        text = "🚫 *Cancelled*: the run was stopped before it finished."
    elif result.outcome is Outcome.FAILED:
        error = unlinked(result.error or "an unexpected error", 1000)
        text = f"⚠️ *The research failed*: {error}. Ask again with `/research {escape('<question>')}`."
    else:
        raise ValueError("an approved run ends with final_report_messages, not a notice")
    return message(text, [section(text)])
