"""A final report too long for a few messages, as a Slack canvas: pure builders, no I/O.

The canvas holds the whole report with its sources, as Markdown (canvases.create's
``document_content``, https://docs.slack.dev/reference/methods/canvases.create); the thread gets a
short message with the report's opening as an executive summary and the canvas's link
(:func:`summary_message`). Text from the model goes through :func:`slack_ui.mrkdwn.markdown_for_slack`:
no mentions, and links only to the run's sources.
"""

from __future__ import annotations

from slack_ui.blocks import Message, context, header, message, section, sections
from slack_ui.mrkdwn import link, markdown_for_slack, markdown_to_mrkdwn, mention, safe
from workflows.guardrails import cited_numbers
from workflows.models import DecisionKind, ResearchResult

__all__ = ["MAX_CANVAS_MARKDOWN", "SUMMARY_CHARS", "canvas_title", "report_canvas", "summary_message"]

# canvases.create: "The markdown content is limited to 1 MiB (1,048,576 characters)".
MAX_CANVAS_MARKDOWN = 1_048_576
SUMMARY_CHARS = 1_500  # the opening of the report shown in the thread
TITLE_CHARS = 150


def canvas_title(result: ResearchResult) -> str:
    question = " ".join(result.question.split())
    title = f"Research report: {question}"
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def report_canvas(result: ResearchResult) -> str:
    """The canvas's Markdown: the question, the whole report, its cited sources, who asked and approved."""
    urls = [source.url for source in result.sources]
    cited = set(cited_numbers(result.answer))
    shown = [s for s in result.sources if s.number in cited] or list(result.sources)
    sources = [f"{s.number}. {markdown_for_slack(f'[{s.title.strip() or s.url}]({s.url})', [s.url])}" for s in shown]
    approvals = [d for d in result.decisions if d.kind is DecisionKind.APPROVE and d.applied]
    people = [f"Asked by ![](@{result.requested_by})" if _is_user(result.requested_by) else ""]
    if approvals and _is_user(approvals[-1].decided_by):
        people.append(f"approved by ![](@{approvals[-1].decided_by})")
    parts = [
        f"**Question:** {markdown_for_slack(result.question, [])}",
        markdown_for_slack(result.answer, urls) or "_(empty report)_",
        "## Sources",
        "\n".join(sources) or "_No sources._",
        " · ".join(p for p in people if p),
        f"Evidence for each claim: `researchbot show {result.workflow_id.replace('`', '')}`",
    ]
    document = "\n\n".join(part for part in parts if part)
    return document[:MAX_CANVAS_MARKDOWN]


def summary_message(result: ResearchResult, canvas_url: str, tail: list[dict]) -> Message:
    """The thread's message for a report that went into a canvas: its opening, the link, and ``tail``
    (the report's footer and 👍 / 👎 buttons, as the full report carries them)."""
    body = markdown_to_mrkdwn(result.answer, [s.url for s in result.sources])
    opening = body.split("\n\n")
    summary = ""
    for paragraph in opening:
        if summary and len(summary) + len(paragraph) + 2 > SUMMARY_CHARS:
            break
        summary = f"{summary}\n\n{paragraph}" if summary else paragraph
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    approvals = [d for d in result.decisions if d.kind is DecisionKind.APPROVE and d.applied]
    approved = f" · approved by {mention(approvals[-1].decided_by)}" if approvals else ""
    blocks = [
        header("Research report"),
        context(f"*Question:* {safe(result.question, 500)}{approved}"),
        *sections(summary or "_(empty report)_"),
        section(f"📄 The whole report, with its sources: {link(canvas_url, 'open the canvas')}"),
        *tail,
    ]
    return message(f"Research report: {safe(result.question, 150)}", blocks)


def _is_user(user: str) -> bool:
    return mention(user).startswith("<@")
