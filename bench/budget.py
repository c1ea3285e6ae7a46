"""Budget evaluation: do runs starved of tokens degrade instead of failing?

    python -m bench.budget [--only N]

Offline, like bench/faithfulness.py and on its corpus and questions (tests/data/eval/): the real workflow
on the Temporal dev server with the real activities (local search, page reader, archive, citation check)
and the same misbehaving loopback model (FakeOpenAI, real HTTP, tokens counted as characters / 4), which
here also finds a gap after reading, so every run has a research loop to cut short.

Each question runs once with the default budget, one at a time, to measure what its plan (P), its look
for gaps (R) and its draft (W) cost. Then it runs again under budgets chosen to run out at each stage:
  plan       P - 1: the plan itself overruns; nothing is searched
  search     P / 0.6: the plan fits the reserve's line but not the loop's; the first searches and reads only
  loop       (P + R) / 0.75: the look for gaps spends all but the reserve; its follow-ups are not searched
  writing    P + R + W / 2: the research fits; the draft overruns, so no repair is asked for
  tiny       1 token
Each draft is approved with feedback (so the final rewrite meets the budget too), or rejected when it
cannot be approved (a declined draft). Reported: runs that failed for lack of budget (target 0), any
failed run, where the budget stopped the research, drafts that declined, pages read, and the tokens spent
over the budget (the draft may overrun it: one call, bounded by LLM_MAX_TOKENS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowFailureError

from activities.model.prompts import prompt_kind
from bench.faithfulness import MisbehavingModel, eval_questions, eval_worker
from core.logs import configure_logging
from tests.fakes.openai_server import by_prompt_kind
from tests.workflows.helpers import decision
from workflows.budget import LOOP_BUDGET_SHARE, WRITE_RESERVE_SHARE
from workflows.models import Budget, DecisionKind, Outcome, ResearchRequest, RunStatus, Stage
from workflows.research import FINAL_FALLBACK_NOTE, ResearchWorkflow

SCENARIOS = ("plan", "search", "loop", "writing", "tiny")
DEFAULT_BUDGET = Budget().max_total_tokens


# ---------------------------------------------------------------- the model, and what each call cost


@dataclass
class CostLog:
    """Every answered call's kind and tokens, counted as FakeOpenAI counts them."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    def wrap(self, reply: Any) -> Any:
        def counted(messages: list[dict]) -> str:
            text = reply(messages)
            prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4
            self.calls.append((prompt_kind(messages) or "?", prompt + len(text) // 4))
            return text

        return counted

    def first(self, since: int, kind: str) -> int:
        return next((tokens for k, tokens in self.calls[since:] if k == kind), 0)


def gap_reply(messages: list[dict]) -> str:
    """One follow-up query a look for gaps finds: the question's subject, seen from another side."""
    question = messages[-1]["content"].split("\n", 1)[0].removeprefix("Question: ").strip()
    return json.dumps({"queries": [f"{question} history and origins"]})


def budgets(plan: int, reflect: int, draft: int) -> dict[str, int]:
    """A budget per scenario, from what the question's plan, look for gaps and draft cost."""
    research_line = 1 - WRITE_RESERVE_SHARE
    return {
        "plan": max(1, plan - 1),
        "search": max(1, int(plan / ((research_line + LOOP_BUDGET_SHARE) / 2))),
        "loop": max(2 * plan + 1, int((plan + reflect) / research_line)),
        "writing": max(int((plan + reflect) / research_line) + 1, plan + reflect + draft // 2),
        "tiny": 1,
    }


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    scenario: str
    budget: int
    outcome: Outcome | None  # None: the workflow itself failed
    error: str | None
    status: RunStatus
    final_fallback: bool


async def run_question(client: Client, queue: str, question: str, scenario: str, budget: int) -> Run:
    request = ResearchRequest(
        question=question, requested_by="eval", model="fake-model", budget=Budget(max_total_tokens=budget)
    )
    handle = await client.start_workflow(
        ResearchWorkflow.run, request, id=f"budget-{uuid.uuid4().hex[:12]}", task_queue=queue
    )
    for _ in range(2400):
        status = await handle.query(ResearchWorkflow.status)
        if status.stage in (Stage.AWAITING_DECISION, Stage.FAILED) and (status.draft or status.stage is Stage.FAILED):
            break
        await asyncio.sleep(0.05)
    if status.stage is Stage.AWAITING_DECISION:
        draft = status.draft
        assert draft is not None
        kind = DecisionKind.REJECT if draft.violations else DecisionKind.APPROVE
        feedback = None if draft.violations else "make it tighter"
        await handle.execute_update(ResearchWorkflow.decide, decision(kind, by="eval", feedback=feedback))
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        status = await handle.query(ResearchWorkflow.status)
        return Run(scenario, budget, None, str(failure.cause), status, False)
    status = await handle.query(ResearchWorkflow.status)
    fallback = FINAL_FALLBACK_NOTE in result.answer and "token budget" in result.answer
    return Run(scenario, budget, result.outcome, result.error, status, fallback)


# ---------------------------------------------------------------- the evaluation


@dataclass
class Tally:
    runs: list[Run] = field(default_factory=list)
    calibration: list[tuple[str, int, int, int]] = field(default_factory=list)  # question, P, R, W

    @property
    def failed_for_budget(self) -> int:
        return sum(1 for r in self.runs if r.outcome in (None, Outcome.FAILED) and "budget" in (r.error or ""))

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if r.outcome in (None, Outcome.FAILED))


async def evaluate(client: Client | None = None, only: int | None = None) -> Tally:
    """Every question, measured with the default budget, then starved in each scenario."""
    cases, questions = eval_questions(only)
    model, costs, tally = MisbehavingModel(cases), CostLog(), Tally()
    reply = costs.wrap(
        by_prompt_kind(plan=model.plan, revision="NONE", reflect=gap_reply, draft=model.draft, finalize=model.finalize)
    )
    async with eval_worker(client, reply, "budget") as (temporal, queue):
        starts: list[tuple[str, str, int]] = []
        for question in questions:  # one at a time, so each call's cost is the question's
            since = len(costs.calls)
            await run_question(temporal, queue, question, "calibration", DEFAULT_BUDGET)
            plan, reflect, draft = (costs.first(since, kind) for kind in ("plan", "reflect", "draft"))
            tally.calibration.append((question, plan, reflect, draft))
            starts += [(question, s, b) for s, b in budgets(plan, reflect, draft).items()]
        for scenario in SCENARIOS:  # a scenario's runs at once, as many as the faithfulness bench's
            batch = [(q, b) for q, s, b in starts if s == scenario]
            tally.runs += await asyncio.gather(*(run_question(temporal, queue, q, scenario, b) for q, b in batch))
    return tally


def report(tally: Tally, seconds: float, out=print) -> None:
    runs = tally.runs
    out(f"runs that failed for lack of budget: {tally.failed_for_budget} of {len(runs)} starved runs (target 0)")
    out(f"runs that failed for any reason: {tally.failed}")
    ran_out = sum(1 for r in runs if r.status.budget_stopped or r.status.usage.total_tokens >= r.budget)
    out(f"runs whose budget ran out (research cut short, or spent by the draft): {ran_out} of {len(runs)}")
    plans = [p for _, p, _, _ in tally.calibration]
    looks = [r for _, _, r, _ in tally.calibration]
    drafts = [w for _, _, _, w in tally.calibration]
    out("tokens over budget: at most one draft and its check (each call bounded by LLM_MAX_TOKENS)")
    out(
        f"with the default budget ({DEFAULT_BUDGET:,} tokens), per question: plan {min(plans)}-{max(plans)}, "
        f"look for gaps {min(looks)}-{max(looks)}, draft {min(drafts)}-{max(drafts)} tokens"
    )
    out("scenario  runs  where the budget stopped the research     declined  pages read  over budget  final as drafted")
    for scenario in SCENARIOS:
        these = [r for r in runs if r.scenario == scenario]
        if not these:
            continue
        stopped = Counter(r.status.budget_stopped or "not stopped" for r in these)
        where = ", ".join(f"{place} ×{n}" for place, n in stopped.most_common())
        declined = sum(1 for r in these if r.status.draft and r.status.draft.check and r.status.draft.check.declined)
        pages = sum(r.status.pages_read for r in these) / len(these)
        overrun = max(r.status.usage.total_tokens - r.budget for r in these)
        fallback = sum(r.final_fallback for r in these)
        out(f"{scenario:9} {len(these):4}  {where:40}  {declined:8}  {pages:10.1f}  {overrun:11,}  {fallback:16}")
    for run in runs:
        if run.outcome in (None, Outcome.FAILED):
            out(f"  failed: {run.scenario} (budget {run.budget}): {run.error}")
    out(f"({seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", type=int, default=None, help="the first N answerable questions (and N/4 others)")
    args = parser.parse_args()
    configure_logging(level="WARNING")  # the runs' own log lines would bury the figures
    started = time.perf_counter()
    tally = asyncio.run(evaluate(only=args.only))
    report(tally, time.perf_counter() - started)


if __name__ == "__main__":
    main()
