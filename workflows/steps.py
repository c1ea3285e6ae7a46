"""One round of research inside the workflow: plan, search in parallel, read the best pages, look for
gaps and search and read again for them (the research loop), write.

Runs in workflow context: deterministic, every side effect an activity (workflows/calls.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows import budget, claims, guardrails, judgement
    from workflows.activity_io import (
        ClaimToJudge,
        ClaimVerdict,
        JudgeInput,
        PlanInput,
        ProgressKind,
        ReadPageInput,
        ReflectInput,
        RevisionPlanInput,
        SearchInput,
        SynthesizeInput,
        VerifyInput,
        VerifyOutput,
    )
    from workflows.calls import ModelCalls, PageCalls, SearchCalls, VerifyCalls
    from workflows.declaring import call
    from workflows.evidence import cut
    from workflows.models import (
        CitationCheck,
        Draft,
        EarlierRun,
        Page,
        ResearchRequest,
        RunState,
        SearchHit,
        Source,
        Stage,
        TokenUsage,
    )

MAX_GUARDRAIL_RETRIES = 2
# Drafts are checked claim by claim against their sources (activities/verify.py); runs started before
# this change keep writing unchecked drafts.
VERIFY_PATCH = "verified-citations"
NOTHING_TO_CITE = "no source supports an answer to this question; revise with other search terms, or reject"
HITS_PER_SEARCH = 5
MAX_UNREAD_SHOWN = 10  # pages a run could not read, named in its progress
# After reading, the run looks for what the sub-questions still lack and searches again (the research
# loop); runs started before this change go straight from reading to writing.
LOOP_PATCH = "research-loop"
# Where a model is configured, it judges the claims the deterministic check found supported (entailment);
# runs started before this change keep the deterministic check alone.
JUDGE_PATCH = "claims-judged"
# Claims judged by meaning: where a model is configured it decides every claim from the passages retrieval
# found (workflows/judgement.py); offline the improved word check decides; a claim another source of the
# run supports is re-cited to it. Runs started before keep the word check with the model's second opinion.
MEANING_PATCH = "claims-by-meaning"


class _Spends(Protocol):
    usage: TokenUsage


Input = TypeVar("Input")
Output = TypeVar("Output", bound=_Spends)

Reporter = Callable[[ProgressKind], Awaitable[None]]
# Shows the plan for review and waits for it; answers the sub-questions to search (the workflow's).
PlanReview = Callable[[], Awaitable[list[str]]]


class RoundRunner:
    """Runs research rounds for one workflow, updating its status as it goes."""

    def __init__(self, request: ResearchRequest, state: RunState, report: Reporter) -> None:
        self._request = request
        self._state = state
        self._status = state.status
        self._report = report
        self._found_by: dict[str, int] = {}  # url -> the sub-question (1-based) whose search found it first
        self.verdicts: dict[str, ClaimVerdict] = {}  # claim statement -> the judge's verdict, this run

    async def research(
        self,
        *,
        feedback: str | None,
        earlier: EarlierRun | None = None,
        draft_round: int = 1,
        review: PlanReview | None = None,
    ) -> None:
        """Plan (or re-plan from a reviewer's ``feedback``, or from a follow-up's ``earlier`` run), search
        and read. A revision may find nothing new to look up. With ``review``, the plan waits for a person
        before anything is searched, and may be replaced.

        With the token budget spent (all but the reserve for writing), research stops where it is and
        the run writes from the pages it has read (workflows/budget.py)."""
        status = self._status
        status.stage = Stage.PLANNING
        status.draft_round = draft_round
        status.gaps = []  # the research loop's follow-ups are per round
        # A follow-up plans as a revision does (the same activity, so the same commands as before).
        revising = feedback is not None or earlier is not None
        if revising and await self._out_of_budget("before planning the revision"):
            return
        if not revising:
            plan = await self.llm(
                ModelCalls.plan_research, PlanInput(question=self._request.question, model=self._request.model)
            )
        else:
            plan = await self.llm(
                ModelCalls.plan_revision,
                RevisionPlanInput(
                    question=self._request.question,
                    feedback=feedback or "",
                    previous_sub_questions=status.sub_questions,
                    model=self._request.model,
                    earlier=earlier,
                ),
            )
        if not plan.sub_questions:
            return
        status.sub_questions = [*status.sub_questions, *plan.sub_questions]
        planned = plan.sub_questions
        if review is not None:
            planned = await review()
        else:
            await self._report(ProgressKind.PLAN)
        if await self._out_of_budget("after planning"):
            return
        # Files attached to the question are read first; a run without them sends what it always sent.
        attached = await self._read_attached() if feedback is None and self._request.files else 0
        queries = planned[: self._request.max_steps - attached]
        hits = await self._search(queries)
        steps_left = self._request.max_steps - attached - len(queries)
        picked = self._pick_pages(hits, min(self._request.budget.max_pages, steps_left))
        await self._read(picked)
        if workflow.patched(LOOP_PATCH):
            await self._look_again(steps_left - len(picked))

    async def _look_again(self, steps_left: int) -> None:
        """The research loop: up to ``research_depth`` times, ask what the sub-questions still lack, then
        search (at most ``research_breadth`` new queries) and read again, within the steps left of
        ``max_steps`` (a follow-up needs a search and a read) and the first part of the token budget."""
        request, status = self._request, self._status
        for _ in range(request.research_depth):
            breadth = min(request.research_breadth, steps_left // 2)
            if breadth < 1:
                return
            if not budget.may_look_again(status.usage, request.budget):
                if self._degrades():
                    status.budget_stopped = "before the research loop"
                return
            reflection = await self.llm(
                ModelCalls.reflect_on_gaps,
                ReflectInput(
                    question=request.question,
                    sub_questions=status.sub_questions,
                    sources=status.sources,
                    pages=[page for page in self._state.pages if page.ok],
                    max_queries=breadth,
                    model=request.model,
                ),
            )
            seen = {query.casefold() for query in status.sub_questions}
            queries: list[str] = []
            for query in reflection.queries:
                if query.strip() and query.casefold() not in seen and len(queries) < breadth:
                    seen.add(query.casefold())
                    queries.append(query.strip())
            if not queries or await self._out_of_budget("in the research loop"):
                return
            status.gap_rounds += 1
            status.gaps = queries
            status.sub_questions = [*status.sub_questions, *queries]
            hits = await self._search(queries)
            steps_left -= len(queries)
            picked = self._pick_pages(hits, min(request.budget.max_pages, steps_left))
            await self._read(picked)
            steps_left -= len(picked)

    async def write_draft(self, *, feedback: str | None, earlier: EarlierRun | None = None) -> Draft:
        """Synthesize, then check; send violations back to the model at most twice, then surface them.

        Each draft that passes the guardrails is checked claim by claim against its sources; unsupported
        claims go back to the model once, and those still unsupported are marked (or, when they repeat a
        page's planted instructions, removed). With no source supporting an answer, the draft declines.
        """
        status = self._status
        previous = status.draft.text if status.draft else None
        readable = [page for page in self._state.pages if page.ok]
        verify = workflow.patched(VERIFY_PATCH)
        if not readable and status.budget_stopped and verify and self._degrades():
            return self._decline(Draft(round=status.draft_round, text="", sources=status.sources), relevance=0.0)
        violations: list[str] = []
        checked: VerifyOutput | None = None
        repaired = False
        text = ""
        for _ in range(1 + MAX_GUARDRAIL_RETRIES):
            status.stage = Stage.WRITING
            output = await self.llm(
                ModelCalls.synthesize_draft,
                SynthesizeInput(
                    question=self._request.question,
                    sources=status.sources,
                    pages=readable,
                    feedback=feedback,
                    previous_draft=previous,
                    violations=violations,
                    model=self._request.model,
                    earlier=earlier,
                ),
            )
            status.stage = Stage.CHECKING
            text = clean_model_text(output.text)
            violations = guardrails.check_draft(text, status.sources)
            checked = None
            if not violations and verify:
                checked = await self.verify(text, status.sources, judge=True)
                # An unjudged claim goes to the footer, not back to the model: a rewrite would not help.
                wrong = [c for c in checked.claims if c.verdict in (ClaimVerdict.UNSUPPORTED, ClaimVerdict.INJECTED)]
                if wrong and checked.relevant and not repaired and self.may_spend():
                    repaired = True
                    violations = guardrails.unsupported_violations(wrong)
            if not violations or not self.may_spend():
                break  # done, or the budget is spent: the draft shows its problems (or its marks)
            previous = text
        draft = Draft(
            round=status.draft_round,
            text=guardrails.redact_credentials(text),
            sources=status.sources,
            violations=violations,
        )
        return self._settle(draft, checked) if checked is not None else draft

    async def verify(
        self,
        text: str,
        sources: list[Source],
        *,
        with_passages: bool = False,
        judge: bool = False,
        settled: Collection[str] = (),
    ) -> VerifyOutput:
        """The citation check of ``text``; ``with_passages`` also brings the passages behind each claim.
        With ``judge``, when a model is configured, the model decides every claim (but those whose
        statement is ``settled``) from the passages retrieval found for it, and whether they answer the
        question; offline the word check decides. Runs from before: the word check, and the model's
        second opinion, which could only take support away."""
        if workflow.patched(MEANING_PATCH):
            return await self._verify_by_meaning(
                text, sources, with_passages=with_passages, judge=judge, settled=settled
            )
        second_opinion = (
            judge and self._request.model is not None and self.may_spend() and workflow.patched(JUDGE_PATCH)
        )
        readable = [page for page in self._state.pages if page.ok]
        checked = await call(
            VerifyCalls.verify_citations,
            VerifyInput(
                question=self._request.question,
                text=text,
                sources=sources,
                pages=readable,
                with_passages=with_passages or second_opinion,
            ),
        )
        return await self._judged(checked) if second_opinion else checked

    async def _verify_by_meaning(
        self, text: str, sources: list[Source], *, with_passages: bool, judge: bool, settled: Collection[str]
    ) -> VerifyOutput:
        readable = [page for page in self._state.pages if page.ok]
        checked = await call(
            VerifyCalls.verify_citations,
            VerifyInput(
                question=self._request.question,
                text=text,
                sources=sources,
                pages=readable,
                with_passages=with_passages,
                with_candidates=judge,
                recite=True,
            ),
        )
        if not checked.model_judges:
            return checked  # offline: the word check decides
        asked = [c for c in checked.claims if c.verdict is not ClaimVerdict.INJECTED and c.statement not in settled]
        judged, problem = None, None
        if not self.may_spend():
            problem = "the token budget was spent before the judge could read them"
        else:
            try:
                judged = await self.llm(
                    ModelCalls.judge_claims,
                    JudgeInput(
                        question=self._request.question,
                        claims=[
                            ClaimToJudge(index=c.index, statement=c.statement, candidates=c.candidates) for c in asked
                        ],
                        model=self._request.model,
                        by_meaning=True,
                        question_passages=checked.question_passages,
                    ),
                )
            except ActivityError as failure:
                problem = f"the judge failed: {describe_failure(failure)}"
        judged_check = judgement.apply_verdicts(checked, judged, {c.index for c in asked}, problem)
        for claim in judged_check.claims:
            self.verdicts[claim.statement] = claim.verdict
        return judged_check

    def with_known_verdicts(self, checked: VerifyOutput) -> VerifyOutput:
        """``checked`` with the verdicts the judge gave earlier in this run to the same claims."""
        claims = [c.model_copy(update={"verdict": self.verdicts.get(c.statement, c.verdict)}) for c in checked.claims]
        return checked.model_copy(update={"claims": claims})

    async def _judged(self, checked: VerifyOutput) -> VerifyOutput:
        supported = [c for c in checked.claims if c.verdict is ClaimVerdict.SUPPORTED and c.passages]
        if not supported:
            return checked
        judged = await self.llm(
            ModelCalls.judge_claims,
            JudgeInput(
                question=self._request.question,
                claims=[
                    ClaimToJudge(index=c.index, statement=c.statement, passages=[p.text for p in c.passages])
                    for c in supported
                ],
                model=self._request.model,
            ),
        )
        refuted = set(judged.refuted)
        claims = [
            c.model_copy(update={"verdict": ClaimVerdict.UNSUPPORTED}) if c.index in refuted else c
            for c in checked.claims
        ]
        return checked.model_copy(update={"claims": claims})

    def _settle(self, draft: Draft, checked: VerifyOutput) -> Draft:
        """The checked draft: unsupported and unjudged claims marked, claims re-cited to the source that
        supports them, planted instructions removed; or, when no source supports an answer, it declines
        (a judge that could not judge is no evidence of that)."""
        verified = [c for c in checked.claims if c.verdict is ClaimVerdict.SUPPORTED]
        unjudged = [c for c in checked.claims if c.verdict is ClaimVerdict.UNJUDGED]
        if not checked.relevant or not (verified or unjudged):
            return self._decline(draft, relevance=checked.relevance, claims=len(checked.claims))
        mark = {c.index for c in checked.claims if c.verdict in (ClaimVerdict.UNSUPPORTED, ClaimVerdict.UNJUDGED)}
        remove = {c.index for c in checked.claims if c.verdict is ClaimVerdict.INJECTED}
        recite = judgement.recitations(checked)
        check = CitationCheck(
            claims=len(checked.claims),
            verified=len(verified),
            marked=len(mark),
            removed=len(remove) + len(checked.planted),
            relevance=checked.relevance,
            judged=checked.judged,
            unjudged=len(unjudged),
            judge_problem=checked.judge_problem,
            recited=len(recite),
        )
        text = claims.edit_claims(draft.text, mark=mark, remove=remove, drop=set(checked.planted), recite=recite)
        return draft.model_copy(update={"text": text, "check": check})

    def _decline(self, draft: Draft, *, relevance: float, claims: int = 0) -> Draft:
        """The draft that says no source supports an answer, and lists the searches made."""
        return draft.model_copy(
            update={
                "text": guardrails.nothing_to_cite(self._status.sub_questions),
                "violations": [NOTHING_TO_CITE],
                "check": CitationCheck(claims=claims, verified=0, declined=True, relevance=relevance),
            }
        )

    def _degrades(self) -> bool:
        """Whether this run degrades when its budget runs out; runs started before that fail instead."""
        return workflow.patched(budget.BUDGET_PATCH)

    async def _out_of_budget(self, where: str) -> bool:
        """True when research must stop here to keep the reserve for writing; says so in the progress."""
        if budget.may_research(self._status.usage, self._request.budget) or not self._degrades():
            return False
        self._status.budget_stopped = where
        await self._report(ProgressKind.PROGRESS)
        return True

    def may_spend(self) -> bool:
        """Whether a model call that is not strictly needed (a repair, a retry, a rewrite) may still run."""
        # The patch is asked only once the budget is spent, so runs within it record no marker.
        return not budget.is_spent(self._status.usage, self._request.budget) or not self._degrades()

    async def llm(self, declared_call: Callable[[Any, Input], Awaitable[Output]], payload: Input) -> Output:
        """A model call; its usage is added to the run's. Runs from before the budget degraded fail here
        once it is spent; later runs decide before calling (see _out_of_budget and may_spend)."""
        limit = self._request.budget.max_total_tokens
        if budget.is_spent(self._status.usage, self._request.budget) and not self._degrades():
            raise ApplicationError(
                f"the run used its token budget ({limit} tokens); ask a narrower question",
                non_retryable=True,
            )
        output = await call(declared_call, payload)
        self._status.usage = self._status.usage + output.usage
        return output

    async def _search(self, queries: list[str]) -> list[list[SearchHit]]:
        status = self._status
        status.stage = Stage.SEARCHING
        status.searches_total += len(queries)
        await self._report(ProgressKind.PROGRESS)

        failed: list[str] = []
        channel = self._request.slack.channel_id if self._request.slack else None  # sources limited to channels

        async def one(query: str) -> list[SearchHit]:
            try:
                output = await call(
                    SearchCalls.search, SearchInput(query=query, limit=HITS_PER_SEARCH, channel=channel)
                )
            except ActivityError as failure:
                workflow.logger.warning("search for %r failed: %s", query, describe_failure(failure))
                failed.append(query)
                self._search_failed([describe_failure(failure)])
                return []
            finally:
                status.searches_done += 1
                status.steps_taken += 1
            self._search_failed(output.failures)  # a provider (an MCP server) that failed beside others
            for hit in output.hits:  # so the progress shows each sub-question's sources under it
                self._found_by.setdefault(hit.url, status.sub_questions.index(query) + 1)
            return output.hits

        results = list(await asyncio.gather(*(one(query) for query in queries)))
        # Searches that worked and found nothing are an answer too: with the citation check, the draft
        # says there is nothing to cite, and which searches it made.
        nothing_found = len(failed) < len(queries) and workflow.patched(VERIFY_PATCH)
        if not any(results) and not self._state.pages and not nothing_found:
            why = f" ({status.searches_failed[0]})" if status.searches_failed else ""
            raise ApplicationError(
                f"every search failed or found nothing{why}; check the search provider settings", non_retryable=True
            )
        return results

    async def _read_attached(self) -> int:
        """The parts of the files attached to the question (a PDF's pages, a deck's slides) that best answer
        it, read as the run's first pages; a file refused (another conversation's, too big) is named in the
        progress. Answers the steps taken."""
        request = self._request
        files = SearchInput(
            query=request.question,
            limit=request.budget.max_pages,
            channel=request.slack.channel_id if request.slack else None,
            files=[file.id for file in request.files],
        )
        try:
            output = await call(SearchCalls.search, files)
        except ActivityError as failure:
            self._search_failed([f"attached files: {describe_failure(failure)}"])
            return 1
        self._search_failed(output.failures)
        hits = output.hits[: request.budget.max_pages]
        await self._read(hits)
        return 1 + len(hits)

    def _search_failed(self, failures: list[str]) -> None:
        """Name the failed searches and providers in the progress ("mcp:wiki: did not answer"), once each."""
        status = self._status
        for line in failures:
            line = cut(line, 200)
            if line not in status.searches_failed and len(status.searches_failed) < MAX_UNREAD_SHOWN:
                status.searches_failed = [*status.searches_failed, line]

    def _pick_pages(self, results: list[list[SearchHit]], limit: int) -> list[SearchHit]:
        """The best unread hits, taken in turn from each sub-question so every one is covered."""
        seen = {page.url for page in self._state.pages}
        picked: list[SearchHit] = []
        ranked = [sorted(hits, key=lambda hit: -hit.score) for hits in results]
        for rank in range(max((len(hits) for hits in ranked), default=0)):
            for hits in ranked:
                if rank < len(hits) and hits[rank].url not in seen and len(picked) < limit:
                    seen.add(hits[rank].url)
                    picked.append(hits[rank])
        return picked

    async def _read(self, hits: list[SearchHit]) -> None:
        status = self._status
        status.stage = Stage.READING
        status.pages_total += len(hits)
        await self._report(ProgressKind.PROGRESS)
        max_chars = self._request.budget.max_page_chars

        async def one(hit: SearchHit) -> Page:
            try:
                page = await call(PageCalls.read_page, ReadPageInput(url=hit.url, title=hit.title, max_chars=max_chars))
            except ActivityError as failure:
                page = Page(url=hit.url, title=hit.title, ok=False, error=describe_failure(failure))
            finally:
                status.pages_read += 1
                status.steps_taken += 1
            if not page.ok and len(status.pages_unread) < MAX_UNREAD_SHOWN:
                status.pages_unread = [*status.pages_unread, unread_line(page)]
            if not page.ok and hit.snippet:
                # The search snippet still says something worth citing; the evidence archive says it is one.
                page = Page(
                    url=hit.url,
                    title=hit.title,
                    text=hit.snippet,
                    ok=True,
                    error=page.error,
                    sha256=hashlib.sha256(hit.snippet.encode()).hexdigest(),
                    note=cut(f"the search snippet from {hit.provider}: the page could not be read ({page.error})"),
                )
            return page

        for page in await asyncio.gather(*(one(hit) for hit in hits)):
            self._state.pages.append(page)
            if page.ok:
                number = len(status.sources) + 1
                source = Source(
                    number=number, url=page.url, title=page.title or page.url, sub_question=self._found_by.get(page.url)
                )
                status.sources = [*status.sources, source]
        await self._report(ProgressKind.PROGRESS)


def clean_model_text(text: str) -> str:
    return guardrails.neutralise_mentions(text.strip())


def unread_line(page: Page) -> str:
    """``where: why`` for a page the run could not read, bounded: a web page's host; a file's or a
    document's title (a slack-file:// or local:// address's "host" is a channel id or a folder)."""
    address = urlsplit(page.url)
    if address.scheme in ("http", "https"):
        where = address.hostname or page.url
    else:
        where = page.title or ("a file shared in Slack" if address.scheme == "slack-file" else page.url)
    return cut(f"{where[:80]}: {page.error or 'unknown'}", 200)


def describe_failure(failure: BaseException) -> str:
    """The innermost message of a Temporal failure chain: the part a person can act on."""
    while isinstance(failure, FailureError) and failure.cause is not None:
        failure = failure.cause
    return str(failure) or type(failure).__name__
