"""Fake activities registered under the real names, for tests of the workflow's control flow.

They count their calls and record what they were given, so tests can assert what ran.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from researchbot.wiring import check_every_call_implemented, implemented_methods
from workflows.activity_io import (
    ClaimCheck,
    ClaimVerdict,
    CompareInput,
    Entailment,
    ExportInput,
    FinalizeInput,
    JudgedClaim,
    JudgeInput,
    JudgeOutput,
    PlanInput,
    PlanOutput,
    ProgressInput,
    ProgressKind,
    ProgressReceipt,
    ReadPageInput,
    ReflectInput,
    ReflectOutput,
    RevisionPlanInput,
    SearchInput,
    SearchOutput,
    StoreInput,
    SupportingPassage,
    SynthesizeInput,
    TextOutput,
    VerifyInput,
    VerifyOutput,
)
from workflows.calls import (
    ArchiveCalls,
    ChangeCalls,
    ExportCalls,
    ModelCalls,
    PageCalls,
    ProgressCalls,
    RatingCalls,
    SearchCalls,
    VerifyCalls,
)
from workflows.claims import split_claims
from workflows.declaring import implements
from workflows.models import Page, ReportRating, SearchHit, TokenUsage, WhatChanged

USAGE = TokenUsage(prompt_tokens=10, completion_tokens=5, calls=1)
FETCHED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeActivities:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.progress: list[ProgressInput] = []
        self.stored: list[StoreInput] = []
        self.synth_inputs: list[SynthesizeInput] = []
        self.revision_inputs: list[RevisionPlanInput] = []
        self.finalize_inputs: list[FinalizeInput] = []
        # Replies for successive synthesize calls; the last one repeats.
        self.drafts: list[str] = ["Temporal keeps workflow state durable [1] and retries activities [2]."]
        self.revision_questions: list[str] = ["what do the critics say"]
        self.synth_gate: asyncio.Event | None = None  # when set, synthesize waits for it (heartbeating)
        self.synth_started = asyncio.Event()
        self.cancelled: list[str] = []
        self.store_gate: asyncio.Event | None = None  # when set, store_result waits for it
        self.store_started = asyncio.Event()
        self.final_extra = ""  # appended to the final answer: a claim the citation check may refuse
        self.finalize_error: str | None = None  # when set, finalize_answer fails for good with it
        # The citation check: claims containing one of these words are unsupported; relevant=False: nothing to cite.
        self.unsupported_words: list[str] = []
        self.injected_words: list[str] = []  # claims with these repeat a page's planted instructions
        self.relevant = True
        self.verify_inputs: list[VerifyInput] = []
        # The look for gaps after reading: successive replies (follow-up queries), the last one repeating;
        # none by default, so the loop stops at once (and, finding nothing, costs no tokens).
        self.gap_replies: list[list[str]] = [[]]
        self.reflect_inputs: list[ReflectInput] = []
        # Searches whose query contains ``search_gated`` wait for ``search_gate`` (heartbeating).
        self.search_gate: asyncio.Event | None = None
        self.search_gated = ""
        self.search_started = asyncio.Event()
        self.searched: list[str] = []
        # Reports of these kinds fail: {kind: (how many times, for good?)}: Slack down, or refusing.
        self.report_failures: dict[ProgressKind, tuple[int, bool]] = {}
        self.ratings: list[ReportRating] = []  # record_rating's clicks
        self.exports: list[ExportInput] = []  # upload_report_export's clicks
        self.refuted_words: list[str] = []  # the model judge refutes supported claims with these words
        self.unjudged_words: list[str] = []  # the judge gives no verdict on claims with these words
        self.judge_error: str | None = None  # when set, judge_claims fails for good with it
        self.model_judges = False  # the worker has a model whose judge decides the claims (by meaning)
        # By meaning, the judge finds claims with these words supported by source n (not the one cited).
        self.elsewhere: dict[str, int] = {}
        self.judge_inputs: list[JudgeInput] = []
        self.unreadable: set[str] = set()  # URLs read_page cannot read (the run falls back on the snippet)
        self.compared: list[CompareInput] = []  # compare_with_previous_run's drafts (scheduled runs)
        self.changes = WhatChanged()  # its answer: by default, the schedule's first run
        self.compare_error: str | None = None  # when set, compare_with_previous_run fails for good with it

    def all(self) -> list[Callable[..., Any]]:
        """Every fake marked ``@implements``, as the worker registers the real ones: one for each declared call."""
        methods = implemented_methods(self)
        check_every_call_implemented(methods)
        return methods

    @implements(ModelCalls.plan_research)
    async def plan_research(self, input: PlanInput) -> PlanOutput:
        self.calls["plan_research"] += 1
        return PlanOutput(sub_questions=[f"{input.question} basics", f"{input.question} trade-offs"], usage=USAGE)

    @implements(ModelCalls.plan_revision)
    async def plan_revision(self, input: RevisionPlanInput) -> PlanOutput:
        self.calls["plan_revision"] += 1
        self.revision_inputs.append(input)
        return PlanOutput(sub_questions=list(self.revision_questions), usage=USAGE)

    @implements(ModelCalls.reflect_on_gaps)
    async def reflect_on_gaps(self, input: ReflectInput) -> ReflectOutput:
        self.calls["reflect_on_gaps"] += 1
        self.reflect_inputs.append(input)
        queries = self.gap_replies[min(len(self.reflect_inputs), len(self.gap_replies)) - 1]
        return ReflectOutput(queries=list(queries), usage=USAGE if queries else TokenUsage())

    @implements(ModelCalls.synthesize_draft)
    async def synthesize_draft(self, input: SynthesizeInput) -> TextOutput:
        self.calls["synthesize_draft"] += 1
        self.synth_inputs.append(input)
        if self.synth_gate is not None:
            self.synth_started.set()
            try:
                while not self.synth_gate.is_set():
                    activity.heartbeat()
                    await asyncio.sleep(0.2)
            except asyncio.CancelledError:
                self.cancelled.append("synthesize_draft")
                raise
        index = min(len(self.synth_inputs), len(self.drafts)) - 1
        text = self.drafts[index]
        if input.feedback:
            text += f"\n\nRevised for: {input.feedback}"
        return TextOutput(text=text, usage=USAGE)

    @implements(ModelCalls.finalize_answer)
    async def finalize_answer(self, input: FinalizeInput) -> TextOutput:
        self.calls["finalize_answer"] += 1
        self.finalize_inputs.append(input)
        if self.finalize_error:
            raise ApplicationError(self.finalize_error, non_retryable=True)
        return TextOutput(text=f"{input.draft}{self.final_extra}\n\nFinal, taking in: {input.feedback}", usage=USAGE)

    @implements(VerifyCalls.verify_citations)
    async def verify_citations(self, input: VerifyInput) -> VerifyOutput:
        self.calls["verify_citations"] += 1
        self.verify_inputs.append(input)
        checks = []
        for index, claim in enumerate(split_claims(input.text)):
            verdict = ClaimVerdict.SUPPORTED
            if any(word in claim.statement for word in self.unsupported_words):
                verdict = ClaimVerdict.UNSUPPORTED
            if any(word in claim.statement for word in self.injected_words):
                verdict = ClaimVerdict.INJECTED
            # Asked for them, a passage per cited source that says where the claim came from.
            passages = [
                SupportingPassage(number=n, text=f"Source {n} says: {claim.statement}", score=0.9)
                for n in claim.numbers
                if input.with_passages and verdict is not ClaimVerdict.INJECTED
            ]
            candidates = [
                SupportingPassage(number=n, text=f"Source {n} says: {claim.statement}")
                for n in claim.numbers
                if input.with_candidates and self.model_judges and verdict is not ClaimVerdict.INJECTED
            ]
            checks.append(
                ClaimCheck(
                    index=index,
                    statement=claim.statement,
                    numbers=list(claim.numbers),
                    verdict=verdict,
                    passages=passages,
                    candidates=candidates,
                )
            )
        return VerifyOutput(
            claims=checks,
            relevance=1.0 if self.relevant else 0.1,
            relevant=self.relevant,
            model_judges=input.with_candidates and self.model_judges,
        )

    @implements(SearchCalls.search)
    async def search(self, input: SearchInput) -> SearchOutput:
        self.calls["search"] += 1
        self.searched.append(input.query)
        if self.search_gate is not None and self.search_gated and self.search_gated in input.query:
            self.search_started.set()
            while not self.search_gate.is_set():
                activity.heartbeat()
                await asyncio.sleep(0.2)
        slug = input.query.replace(" ", "-")
        return SearchOutput(
            hits=[
                SearchHit(url=f"https://example.org/{slug}", title=input.query, snippet="s", provider="fake", score=2),
                SearchHit(url="https://example.org/shared", title="Shared", snippet="s", provider="fake", score=1),
            ]
        )

    @implements(PageCalls.read_page)
    async def read_page(self, input: ReadPageInput) -> Page:
        self.calls["read_page"] += 1
        if input.url in self.unreadable:
            return Page(url=input.url, title=input.title, ok=False, error="the page is gone (HTTP 404)")
        text = f"Text of {input.title}."
        return Page(
            url=input.url,
            title=input.title,
            text=text,
            fetched_at=FETCHED_AT,
            http_status=200,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )

    @implements(ArchiveCalls.store_result)
    async def store_result(self, input: StoreInput) -> bool:
        self.calls["store_result"] += 1
        self.store_started.set()
        if self.store_gate is not None:
            await self.store_gate.wait()
        self.stored.append(input)
        return True

    @implements(ChangeCalls.compare_with_previous_run)
    async def compare_with_previous_run(self, input: CompareInput) -> WhatChanged:
        self.calls["compare_with_previous_run"] += 1
        self.compared.append(input)
        if self.compare_error:
            raise ApplicationError(self.compare_error, non_retryable=True)
        return self.changes

    @implements(ModelCalls.judge_claims)
    async def judge_claims(self, input: JudgeInput) -> JudgeOutput:
        self.calls["judge_claims"] += 1
        self.judge_inputs.append(input)
        if self.judge_error:
            raise ApplicationError(self.judge_error, non_retryable=True)
        refuted = [c.index for c in input.claims if any(word in c.statement for word in self.refuted_words)]
        if not input.by_meaning:
            return JudgeOutput(refuted=refuted, usage=USAGE)
        verdicts = []
        for claim in input.claims:
            if any(word in claim.statement for word in self.unjudged_words):
                continue
            if claim.index in refuted:
                verdicts.append(JudgedClaim(index=claim.index, verdict=Entailment.CONTRADICTED))
                continue
            elsewhere = [n for word, n in self.elsewhere.items() if word in claim.statement]
            sources = elsewhere or [p.number for p in claim.candidates[:1]]
            verdicts.append(JudgedClaim(index=claim.index, verdict=Entailment.SUPPORTED, sources=sources))
        return JudgeOutput(verdicts=verdicts, answers_question=self.relevant, usage=USAGE)

    @implements(RatingCalls.record_rating)
    async def record_rating(self, input: ReportRating) -> bool:
        self.calls["record_feedback"] += 1
        self.ratings.append(input)
        return True

    @implements(ExportCalls.upload_report_export)
    async def upload_report_export(self, input: ExportInput) -> bool:
        self.calls["upload_report_export"] += 1
        self.exports.append(input)
        return True

    @implements(ProgressCalls.report_progress)
    async def report_progress(self, input: ProgressInput) -> ProgressReceipt:
        self.calls["report_progress"] += 1
        times, for_good = self.report_failures.get(input.kind, (0, False))
        if times > 0:
            self.report_failures[input.kind] = (times - 1, for_good)
            self.calls[f"report_failed_{input.kind.value}"] += 1
            raise ApplicationError("Slack: channel_not_found" if for_good else "Slack is down", non_retryable=for_good)
        self.progress.append(input)
        return ProgressReceipt(messages={f"{input.kind.value}-{len(self.progress)}": "1.0"})

    def progress_kinds(self) -> list[str]:
        return [p.kind.value for p in self.progress]
