"""A run's progress as chunks of a streamed Slack message: pure builders, no I/O.

One task card per sub-question (the research loop's follow-up queries too, titled "Looking again
for: ..." while they are searched and read) with the sources its search found as they are read, one
for reading the best pages (with all the sources found so far) and one for writing the draft, under a
plan title. Every builder returns the whole current state,
so sending it again is harmless: a ``task_update`` with the same id replaces that task's card.

Chunk shapes: https://docs.slack.dev/reference/methods/chat.appendStream (``task_update``:
id, title, status pending|in_progress|complete|error, details, output, sources of ``url`` elements;
``plan_update``: title), https://docs.slack.dev/reference/block-kit/block-elements/url-source-element
"""

from __future__ import annotations

from typing import Any

from slack_ui.mrkdwn import safe, unlinked
from workflows.models import TERMINAL_STAGES, ResearchResult, RunStatus, Source, Stage

__all__ = ["MAX_TASK_TEXT", "is_finished", "progress_chunks", "task_id"]

Chunk = dict[str, Any]

MAX_TASK_TEXT = 256  # title, details and output of a task card
MAX_SOURCES = 20  # url elements shown on the reading task
_BEFORE_SEARCH = (Stage.STARTING, Stage.PLANNING, Stage.AWAITING_PLAN_REVIEW)
_BEFORE_READING = (*_BEFORE_SEARCH, Stage.SEARCHING)
_WRITING = (Stage.WRITING, Stage.CHECKING)


def task_id(n: int) -> str:
    return f"q{n}"


def is_finished(status: RunStatus) -> bool:
    """Whether this round's stream is done: its draft is ready, or the run is over."""
    draft_ready = status.draft is not None and status.draft.round >= status.draft_round
    return draft_ready or status.stage in TERMINAL_STAGES or status.stage in (Stage.FINALIZING, Stage.STORING)


def _failed(status: RunStatus, result: ResearchResult | None) -> bool:
    return status.stage in (Stage.FAILED, Stage.CANCELLED) or (result is not None and status.draft is None)


def _task(id: str, title: str, status: str, details: str = "", **extra: Any) -> Chunk:
    # Sub-questions and gap queries come from a model that read pages: no address in them becomes a link.
    chunk: Chunk = {"type": "task_update", "id": id, "title": unlinked(title, MAX_TASK_TEXT), "status": status}
    if details:
        chunk["details"] = unlinked(details, MAX_TASK_TEXT)
    return chunk | extra


def _searches(status: RunStatus, failed: bool) -> list[Chunk]:
    tasks = []
    searched = status.stage not in (*_BEFORE_READING, Stage.FAILED, Stage.CANCELLED)
    for n, question in enumerate(status.sub_questions, 1):
        if n <= status.searches_done or (n <= status.searches_total and searched):
            state, details = "complete", "Searched"
        elif n <= status.searches_total:
            state, details = "in_progress", "Searching…"
        elif status.stage in _BEFORE_READING:
            state, details = "pending", ""
        else:
            state, details = "complete", "Not searched: the run's step limit"
        if failed and state != "complete":
            state, details = "error", "Stopped"
        found = [source for source in status.sources if source.sub_question == n]
        extra: dict[str, Any] = {"sources": _urls(found)} if found else {}
        if found:
            extra["output"] = f"{len(found)} source{'s' if len(found) != 1 else ''} read"
        tasks.append(_task(task_id(n), question, state, details, **extra))
    return tasks


def _urls(sources: list[Source]) -> list[Chunk]:
    return [
        {"type": "url", "url": s.url, "text": safe(f"[{s.number}] {s.title.strip() or s.url}", MAX_TASK_TEXT)}
        for s in sources[:MAX_SOURCES]
    ]


def _reading(status: RunStatus, failed: bool) -> Chunk:
    if status.stage in _BEFORE_READING and not status.pages_total:
        state = "pending"
    elif status.stage is Stage.READING or (failed and status.pages_read < max(status.pages_total, 1)):
        state = "in_progress"
    else:
        state = "complete"
    if failed and state != "complete":
        state = "error"
    details = f"{status.pages_read}/{status.pages_total} pages read" if status.pages_total else ""
    if status.searches_failed:  # a source that failed or was refused (an attached file), named as the thread does
        details = " · ".join(filter(None, [details, "⚠ " + "; ".join(status.searches_failed[:3])]))
    sources = _urls(status.sources)
    extra: dict[str, Any] = {"sources": sources} if sources else {}
    if status.sources:
        extra["output"] = f"{len(status.sources)} source{'s' if len(status.sources) != 1 else ''} found"
    return _task("read", "Read the best pages", state, details, **extra)


def _writing(status: RunStatus, failed: bool) -> Chunk:
    if status.draft is not None and status.draft.round >= status.draft_round:
        violations = status.draft.violations
        return _task("write", "Write the draft", "complete", "Checks found problems" if violations else "Ready")
    if status.stage in _WRITING:
        details = "Writing and checking…"
        if status.budget_stopped:
            details = f"The token budget stopped the research {status.budget_stopped}: writing from what was read…"
        return _task("write", "Write the draft", "error" if failed else "in_progress", details)
    return _task("write", "Write the draft", "error" if failed else "pending")


def _title(status: RunStatus, failed: bool) -> str:
    if failed:
        return "Research stopped"
    if is_finished(status):
        return f"Draft {max(status.draft_round, 1)} is ready"
    if status.gaps and status.stage in (Stage.SEARCHING, Stage.READING):
        return unlinked("Looking again for: " + "; ".join(status.gaps), MAX_TASK_TEXT)
    return "Researching" if status.draft_round <= 1 else f"Researching for draft {status.draft_round}"


def progress_chunks(status: RunStatus, result: ResearchResult | None = None) -> list[Chunk]:
    """The whole progress of the run's current round: a plan title and every task card."""
    failed = _failed(status, result)
    return [
        {"type": "plan_update", "title": _title(status, failed)},
        *_searches(status, failed),
        _reading(status, failed),
        _writing(status, failed),
    ]
