"""`researchbot ask`: the terminal front end. Starts a run, shows progress, asks for the decision."""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowFailureError

from bot.runs import build_request, send_answer, start_run
from core.settings import Settings
from researchbot.printable import printable
from workflows.guardrails import check_line
from workflows.ledger import ledger_line
from workflows.models import TERMINAL_STAGES, DecisionInput, DecisionKind, ResearchResult, RunStatus, Stage
from workflows.research import ResearchWorkflow

Ask = Callable[[str], Awaitable[str]]
POLL_SECONDS = 0.2


class RunFailed(Exception):
    """The run ended in failure; the message says why."""


@dataclass
class ScriptedDecision:
    """Decisions given as flags, for a run with no person at the terminal."""

    kind: DecisionKind
    feedback: str | None = None


async def prompt(question: str) -> str:
    return (await asyncio.to_thread(input, question)).strip()


async def ask(
    client: Client,
    settings: Settings,
    question: str,
    *,
    scripted: list[ScriptedDecision],
    interactive: bool,
    out: Callable[[str], None] = print,
    read: Ask = prompt,
) -> ResearchResult | None:
    user = getpass.getuser()
    request = build_request(settings, question, requested_by=user, review_plan=False)  # no plan buttons here
    handle = await start_run(client, settings, request, workflow_id=f"research-cli-{uuid.uuid4().hex[:12]}")
    out(f"Started run {handle.id}")
    last_line = ""
    while True:
        status = await handle.query(ResearchWorkflow.status)
        line = progress_line(status)
        if line != last_line:
            out(line)
            last_line = line
        if status.stage in TERMINAL_STAGES:
            break
        if status.stage is Stage.AWAITING_DECISION and status.draft is not None:
            out(render_draft(status))
            decision = await choose(status, user, scripted, interactive, out, read)
            if decision is None:
                out(f"The run is waiting for a decision. Decide later with: researchbot decide {handle.id} approve")
                return None
            outcome = await send_answer(client, handle.id, decision)
            out(outcome.message)
            if not outcome.accepted:
                continue
            await wait_until_past(handle, status.draft_round)
            continue
        await asyncio.sleep(POLL_SECONDS)
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        raise RunFailed(f"the run failed: {failure.cause}") from failure
    out(render_result(result))
    return result


async def wait_until_past(handle, draft_round: int) -> None:
    """Wait for the workflow to act on a decision, so the same draft is not shown twice."""
    while True:
        status = await handle.query(ResearchWorkflow.status)
        if status.stage is not Stage.AWAITING_DECISION or status.draft_round != draft_round:
            return
        await asyncio.sleep(POLL_SECONDS)


async def choose(
    status: RunStatus,
    user: str,
    scripted: list[ScriptedDecision],
    interactive: bool,
    out: Callable[[str], None],
    read: Ask,
) -> DecisionInput | None:
    def make(kind: DecisionKind, feedback: str | None) -> DecisionInput:
        return DecisionInput(
            kind=kind, draft_round=status.draft_round, decided_by=user, feedback=feedback, decision_id=uuid.uuid4().hex
        )

    if scripted:
        step = scripted.pop(0)
        return make(step.kind, step.feedback)
    if not interactive:
        return None
    while True:
        answer = (await read("Approve, revise or reject? [a/r/x] ")).lower()
        if answer in ("a", "approve"):
            return make(DecisionKind.APPROVE, await read("Feedback for the final answer (optional): ") or None)
        if answer in ("r", "revise"):
            return make(DecisionKind.REVISE, await read("What should change? "))
        if answer in ("x", "reject"):
            return make(DecisionKind.REJECT, None)
        out("Type a to approve, r to revise or x to reject.")


def progress_line(status: RunStatus) -> str:
    line = (
        f"[{status.stage.value.replace('_', ' ')}] round {status.draft_round or 1} · "
        f"searches {status.searches_done}/{status.searches_total} · "
        f"pages {status.pages_read}/{status.pages_total} · sources {len(status.sources)}"
    )
    if status.budget_stopped:
        line += f" · the token budget stopped the research {status.budget_stopped}"
    return line


def render_sources(sources) -> str:
    return "\n".join(f"  [{s.number}] {printable(s.title)} — {printable(s.url)}" for s in sources)


def render_draft(status: RunStatus) -> str:
    draft = status.draft
    assert draft is not None
    parts = [f"\n=== Draft, round {draft.round} ===", draft.text, "", "Sources:", render_sources(draft.sources)]
    if draft.check is not None:
        parts += ["", check_line(draft.check)]
    if draft.ledger is not None:
        parts += [ledger_line(draft.ledger, draft.budget_stopped)]
    if draft.violations:
        parts += ["", "This draft failed its checks: " + "; ".join(draft.violations)]
    return printable("\n".join(parts) + "\n", keep_lines=True)


def render_result(result: ResearchResult) -> str:
    header = f"\n=== {result.outcome.value.capitalize()} ==="
    if not result.answer:
        return printable(f"{header}\n{result.error or 'No report was written.'}", keep_lines=True)
    text = "\n".join(
        [
            header,
            result.answer,
            "",
            "Sources:",
            render_sources(result.sources),
            "",
            f"Workflow {result.workflow_id}.",
            ledger_line(result.ledger) if result.ledger else f"{result.usage.total_tokens} tokens.",
            f"Evidence: researchbot show {result.workflow_id}",
        ]
    )
    return printable(text, keep_lines=True)


def is_interactive() -> bool:
    return sys.stdin.isatty()
