"""What the workflow sends its activities and what they answer: one input model and one output model each.

Plain data for the pydantic data converter, like everything in workflows/models.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from workflows.models import (
    DecisionRecord,
    EarlierRun,
    Page,
    PlanReviewRecord,
    ResearchResult,
    RunStatus,
    ScheduleRef,
    SearchHit,
    SlackContext,
    Source,
    SourceEvidence,
    TokenUsage,
)


class PlanInput(BaseModel):
    question: str
    model: str | None = None
    max_sub_questions: int = 5


class RevisionPlanInput(BaseModel):
    question: str
    feedback: str  # a reviewer's revise text; "" for a follow-up's first plan, which has only ``earlier``
    previous_sub_questions: list[str]
    model: str | None = None
    # A follow-up's earlier run in its thread (workflows/follow_ups.py): material, never instructions.
    # A retry of an activity scheduled before this field existed still has that context in ``feedback``,
    # where the model reads it as the reviewer's words, as it did then: acceptable for the few in flight.
    earlier: EarlierRun | None = None


class PlanOutput(BaseModel):
    sub_questions: list[str]
    usage: TokenUsage = TokenUsage()


class ReflectInput(BaseModel):
    """The pages read so far, for a look at what the sub-questions still lack."""

    question: str
    sub_questions: list[str]  # every query searched so far, follow-ups included: new ones must differ
    sources: list[Source]
    pages: list[Page]
    max_queries: int = 3
    model: str | None = None


class ReflectOutput(BaseModel):
    queries: list[str]  # follow-up searches for the gaps; empty when the pages cover every sub-question
    usage: TokenUsage = TokenUsage()


class SynthesizeInput(BaseModel):
    question: str
    sources: list[Source]
    pages: list[Page]
    feedback: str | None = None  # a reviewer's revise text
    previous_draft: str | None = None
    violations: list[str] = []
    model: str | None = None
    earlier: EarlierRun | None = None  # a follow-up's earlier run, as in RevisionPlanInput


class FinalizeInput(BaseModel):
    question: str
    draft: str
    sources: list[Source]
    pages: list[Page]
    feedback: str  # the approver's
    model: str | None = None
    earlier: EarlierRun | None = None  # a follow-up's earlier run, as in RevisionPlanInput


class TextOutput(BaseModel):
    text: str
    usage: TokenUsage = TokenUsage()


class VerifyInput(BaseModel):
    """A text to check claim by claim against the pages its citations name."""

    question: str
    text: str
    sources: list[Source]
    pages: list[Page]
    # Also answer, per claim and cited source, the best passage (for the evidence archive; bounded).
    with_passages: bool = False
    # Also answer, per claim, the passages that could support it (for the judge; bounded), and the
    # passages that best answer the question: where the worker has a model to judge them.
    with_candidates: bool = False
    # A claim its cited sources do not support, but another source of the run does, is supported by that
    # one (ClaimCheck.supported_by): the workflow cites it instead.
    recite: bool = False


class ClaimVerdict(StrEnum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"  # no passage of the cited sources says it
    INJECTED = "injected"  # it repeats instructions planted in a page, or is one: never published
    UNJUDGED = "unjudged"  # the model's judge could not decide it (failed, garbled, no budget): never verified


class SupportingPassage(BaseModel):
    """The passage of source ``number`` that best supports a claim, cut to workflows.evidence.PASSAGE_CHARS."""

    number: int
    text: str
    score: float = 0.0


class ClaimCheck(BaseModel):
    """One claim of the text (its index in workflows.claims.split_claims) and what the check found."""

    index: int
    statement: str
    numbers: list[int]
    verdict: ClaimVerdict
    score: float = 0.0  # the best passage's weighted share of the claim's words
    passages: list[SupportingPassage] = []  # only when asked for (VerifyInput.with_passages)
    # The passages retrieval found for the claim, best first: of the sources it cites, then of the others
    # (only when asked for: VerifyInput.with_candidates). Candidates, not verdicts: the judge decides.
    candidates: list[SupportingPassage] = []
    # The sources that support the claim when it is supported, if none of them is one it cites.
    supported_by: list[int] = []


class VerifyOutput(BaseModel):
    claims: list[ClaimCheck] = []
    # Uncited sentences of the text that carry instructions or mentions planted in a page: removed.
    planted: list[str] = []
    # How well the best passage of all readable sources covers the question (0..1), and whether that is enough.
    relevance: float = 0.0
    relevant: bool = False
    # The passages that best answer the question (only when asked for: VerifyInput.with_candidates).
    question_passages: list[SupportingPassage] = []
    # Asked for candidates, whether the worker has a model whose judge is to decide the claims.
    model_judges: bool = False
    # Set by the workflow once the model's judge has decided the claims (workflows/judgement.py).
    judged: bool = False
    judge_problem: str | None = None  # why some claims are unjudged


class ClaimToJudge(BaseModel):
    """A claim with the passages it is judged against: ``candidates`` (numbered by source) where the judge
    decides every claim; ``passages`` where it gave a second opinion on the word check's (before)."""

    index: int
    statement: str
    passages: list[str] = []
    candidates: list[SupportingPassage] = []


class JudgeInput(BaseModel):
    """Claims for the model to judge against their passages (entailment).

    With ``by_meaning`` the judge decides every claim (supported, contradicted, not enough information)
    and whether ``question_passages`` answer the question; without it (runs from before), it could only
    refute claims the word check passed.
    """

    question: str
    claims: list[ClaimToJudge]
    model: str | None = None
    by_meaning: bool = False
    question_passages: list[SupportingPassage] = []


class Entailment(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    NOT_ENOUGH_INFO = "not_enough_info"


class JudgedClaim(BaseModel):
    index: int  # the claim's index (ClaimToJudge.index)
    verdict: Entailment
    sources: list[int] = []  # when supported: the sources whose passages say it


class JudgeOutput(BaseModel):
    refuted: list[int] = []  # indexes of the claims whose passages do not say what they claim (before)
    # By meaning: a verdict per claim judged; a claim without one was not judged (see ``problem``).
    verdicts: list[JudgedClaim] = []
    answers_question: bool | None = None  # do the question's passages answer it (None: not said)
    problem: str | None = None  # why some claims went unjudged, for the footer
    usage: TokenUsage = TokenUsage()


class SearchInput(BaseModel):
    query: str
    limit: int = 5
    # The Slack channel the run was asked in: a source limited to some channels serves only those.
    # None (the terminal, runs started before): every source.
    channel: str | None = None
    # File ids attached to the asking message: search only their parts (activities/search/slack_files.py).
    files: list[str] = []


class SearchOutput(BaseModel):
    hits: list[SearchHit]
    # Providers that failed while others answered, for the progress:
    # "mcp:wiki: MCP server 'wiki' did not answer within 15s (MCP_TIMEOUT_SECONDS)".
    failures: list[str] = []


class ReadPageInput(BaseModel):
    url: str
    title: str
    max_chars: int = 12_000


# ---------------------------------------------------------------- progress and the archive


class ProgressKind(StrEnum):
    STARTED = "started"
    PLAN = "plan"
    PLAN_REVIEWED = "plan_reviewed"  # the plan's review buttons give way to who answered (and an edited plan)
    PROGRESS = "progress"
    DRAFT = "draft"
    DECISION = "decision"
    REMINDER = "reminder"
    FINISHED = "finished"
    REFUSED = "refused"  # a decision queued as a signal, refused when it arrived: its sender is told


class ProgressInput(BaseModel):
    """One progress report; the Slack reporter turns these into the channel's root message and thread."""

    kind: ProgressKind
    status: RunStatus
    approvers: list[str] = []
    slack: SlackContext | None = None
    result: ResearchResult | None = None
    # Messages already posted for this run, by step key ("root", "progress", "draft-2", ...) -> ts.
    # The reporter answers with the ones it posts; the workflow keeps them and passes them back.
    messages: dict[str, str] = {}
    refused: DecisionRecord | None = None  # for REFUSED: the queued decision that was not applied
    refused_review: PlanReviewRecord | None = None  # for REFUSED: or the queued plan review that was not
    # When the workflow made this report (workflow.now()): with several workers, a refresh made earlier
    # is never sent over one made later (activities/slack/writes.py). None in reports made before it.
    reported_at: datetime | None = None


class ProgressReceipt(BaseModel):
    messages: dict[str, str] = {}


class StoreInput(BaseModel):
    result: ResearchResult
    evidence: list[SourceEvidence] = []  # one record per source the published answer cites


class CompareInput(BaseModel):
    """A scheduled run's checked draft, to compare with its schedule's previous archived report
    (activities/archive/changes.py). The schedule's runs are found by this run's id (docs/schedules.md)."""

    workflow_id: str
    schedule: ScheduleRef
    text: str  # the draft as checked: its unverified claims marked
    sources: list[Source]


class ExportInput(BaseModel):
    """A report's Export button clicked (workflows/exports.py): the archived run, as a file, into its thread."""

    workflow_id: str  # the run whose report it is
    format: str  # "md", "html" or "pdf" (activities/archive/export)
    channel_id: str
    thread_ts: str  # the run's thread, where the report and its buttons are
    requested_by: str  # who clicked
    export_id: str  # from the click: one upload per click, however often Slack delivers it
