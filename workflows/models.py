"""The data that flows through a research run: requests, activity inputs and outputs, status, results.

Every model here travels through Temporal's pydantic data converter, so it must stay
plain data: no I/O, no clocks, no randomness.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

MAX_QUESTION_CHARS = 2000
MAX_FEEDBACK_CHARS = 3000
MAX_EARLIER_REPORT_CHARS = 3000
MAX_EARLIER_SOURCES = 20


class SlackContext(BaseModel):
    """Where a run was asked from in Slack, and where its thread lives once posted. No response_url: it is
    a credential, kept by the bot outside history (core/response_urls.py); the one older runs carry in
    their input is dropped as it loads (pydantic ignores fields a model does not have)."""

    channel_id: str
    user_id: str
    team_id: str | None = None
    thread_ts: str | None = None


class Budget(BaseModel):
    # Research stops (and the run writes from what it has) as this runs out; it never fails the run.
    max_total_tokens: int = 200_000
    max_pages: int = 6
    max_page_chars: int = 12_000


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
        )


class Prices(BaseModel):
    """What the model costs, in US dollars per million tokens; unset, the ledger shows tokens only."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None


class Ledger(BaseModel):
    """A run's token ledger (workflows/ledger.py): what it spent, and what that cost when prices are set."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0
    cost_usd: float | None = None
    prices: Prices = Prices()


def clean_question(question: str) -> str:
    """Strip a question and refuse empty or over-long ones with a message that says what to fix."""
    text = question.strip()
    if not text:
        raise ValueError("the question is empty: write what you want researched")
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text


# ---------------------------------------------------------------- search, pages, sources


class SearchHit(BaseModel):
    url: str
    title: str
    snippet: str = ""
    provider: str
    score: float = 0.0


class Source(BaseModel):
    """A source as cited in a draft: [number] maps to url."""

    number: int
    url: str
    title: str
    sub_question: int | None = None  # the sub-question (1-based) whose search found it; None before this was kept


class Page(BaseModel):
    """The main text of a page, bounded in size; ok=False keeps why it could not be read."""

    url: str
    title: str
    text: str = ""
    ok: bool = True
    error: str | None = None
    # True when ``text`` is only an excerpt and the full text is in the archive (activities/search/page_store.py).
    stored: bool = False
    # How the text was read, for the evidence archive: when (UTC), the HTTP status of the final response
    # (None: not read over HTTP, as a local:// document or a search snippet), the SHA-256 of the whole
    # text read (before any excerpt), and a note on where the text came from when it is not the page's.
    fetched_at: datetime | None = None
    http_status: int | None = None
    sha256: str | None = None
    note: str | None = None


# ---------------------------------------------------------------- a person answers (workflows/gate.py)


class GateAnswer(BaseModel):
    """One person's answer where a run waits for one (workflows/gate.py). Each kind keeps the field names
    its recorded histories carry; the class variables say which field is which, and how the answer travels."""

    UPDATE: ClassVar[str]  # the update that delivers it
    SIGNAL: ClassVar[str]  # the same answer, queued when no worker answers the update in time
    NOUN: ClassVar[str]  # what the person is told was queued ("your decision is queued")
    ROUND_FIELD: ClassVar[str]  # the round answered: a draft's, a plan's
    BY_FIELD: ClassVar[str]  # who answered
    ID_FIELD: ClassVar[str]  # the click's id: an update and its signal fallback are applied once

    @property
    def round(self) -> int:
        return int(getattr(self, self.ROUND_FIELD))

    @property
    def answered_by(self) -> str:
        return str(getattr(self, self.BY_FIELD))

    @property
    def answer_id(self) -> str | None:
        return getattr(self, self.ID_FIELD)


class Answered(BaseModel):
    """What a record adds to the answer it keeps; a record is its answer, stamped."""

    at: datetime
    via: str  # "update" or "signal"
    applied: bool = True
    reason: str | None = None  # why a signalled answer was not applied


class Receipt(BaseModel):
    """What the update's caller hears back."""

    accepted: bool
    message: str


# ---------------------------------------------------------------- the draft's decision (workflows/decisions.py)


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REVISE = "revise"
    REJECT = "reject"


class DecisionInput(GateAnswer):
    """One person's decision on one draft round; the same model arrives as an update or a signal."""

    UPDATE = "decide"
    SIGNAL = "decide_signal"
    NOUN = "decision"
    ROUND_FIELD = "draft_round"
    BY_FIELD = "decided_by"
    ID_FIELD = "decision_id"

    kind: DecisionKind
    draft_round: int
    decided_by: str
    feedback: str | None = Field(default=None, max_length=MAX_FEEDBACK_CHARS)
    decision_id: str | None = None

    @field_validator("feedback")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class DecisionRecord(Answered, DecisionInput):
    """A decision as the run keeps it: applied, or refused and why."""


class DecisionReceipt(Receipt):
    draft_round: int


# ---------------------------------------------------------------- the plan's review (workflows/plan_review.py)

# An edited plan: one sub-question a line, bounded like the planner's (workflows/plan_review.py checks them).
MAX_PLAN_QUESTIONS = 8
MAX_PLAN_QUESTION_CHARS = 300


class PlanReviewKind(StrEnum):
    SEARCH = "search"  # "Search this": go on with the plan as it is
    EDIT = "edit"  # "Edit plan": these sub-questions replace the plan


class PlanReviewInput(GateAnswer):
    """One person's answer to a plan awaiting review; the same model arrives as an update or a signal."""

    UPDATE = "review_plan"
    SIGNAL = "review_plan_signal"
    NOUN = "plan review"
    ROUND_FIELD = "plan_round"
    BY_FIELD = "reviewed_by"
    ID_FIELD = "review_id"

    kind: PlanReviewKind
    plan_round: int
    reviewed_by: str
    sub_questions: list[str] = []  # for EDIT: the edited plan, one sub-question each
    review_id: str | None = None

    @field_validator("sub_questions")
    @classmethod
    def _no_blank_lines(cls, value: list[str]) -> list[str]:
        return [question.strip() for question in value if question.strip()]


class PlanReviewRecord(Answered, PlanReviewInput):
    """A plan review as the run keeps it: applied, or refused and why."""


class PlanReviewReceipt(Receipt):
    plan_round: int


# ---------------------------------------------------------------- status and results


class Stage(StrEnum):
    STARTING = "starting"
    PLANNING = "planning"
    SEARCHING = "searching"
    READING = "reading"
    WRITING = "writing"
    CHECKING = "checking"
    AWAITING_PLAN_REVIEW = "awaiting_plan_review"
    AWAITING_DECISION = "awaiting_decision"
    FINALIZING = "finalizing"
    STORING = "storing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STAGES = frozenset({Stage.COMPLETED, Stage.REJECTED, Stage.EXPIRED, Stage.CANCELLED, Stage.FAILED})


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class CitationCheck(BaseModel):
    """What the citation check found in a draft (activities/verify.py): how many cited claims, how many verified."""

    claims: int = 0
    verified: int = 0
    marked: int = 0  # kept, marked "⚠ unverified"
    removed: int = 0  # instructions planted in a page that the model repeated
    declined: bool = False  # no source supports an answer: the draft says so instead of answering
    relevance: float = 0.0
    judged: bool = False  # the model's judge decided the claims (else the word check did)
    unjudged: int = 0  # of the marked, those the judge could not decide
    judge_problem: str | None = None  # why
    recited: int = 0  # claims supported by another source of the run than the one they cited: cited to it


# What changed since a schedule's previous run (activities/archive/changes.py): items kept per list, and
# the length a claim is cut to, so a draft's comparison stays small in every progress report.
MAX_CHANGED_ITEMS = 5
MAX_CHANGED_CLAIM_CHARS = 300


class WhatChanged(BaseModel):
    """A scheduled run's draft against the schedule's previous archived report: the sources it cites that
    the report did not, its claims the report did not make, and the report's claims it no longer makes
    (or makes only unverified). Each list holds the first MAX_CHANGED_ITEMS; the ``*_total`` say how many."""

    earlier_runs: int = 0  # archived runs of the schedule before this one; 0: the schedule's first run
    previous_workflow_id: str | None = None  # the newest of them with a report (None: none had one)
    previous_at: datetime | None = None  # when that run finished
    new_sources: list[Source] = Field(default=[], max_length=MAX_CHANGED_ITEMS)
    new_sources_total: int = 0
    new_claims: list[str] = Field(default=[], max_length=MAX_CHANGED_ITEMS)
    new_claims_total: int = 0
    dropped_claims: list[str] = Field(default=[], max_length=MAX_CHANGED_ITEMS)  # no longer hold
    dropped_claims_total: int = 0
    problem: str | None = None  # why the comparison could not be made (the draft goes on without it)


class Draft(BaseModel):
    round: int
    text: str
    sources: list[Source]
    # Problems the guardrails could not get the model to fix; such a draft cannot be approved.
    violations: list[str] = []
    check: CitationCheck | None = None  # None: drafts of runs from before the check, or that failed the guardrails
    ledger: Ledger | None = None  # the run's tokens (and cost) up to this draft; None on drafts from before it
    budget_stopped: str | None = None  # where the token budget stopped the research (RunStatus.budget_stopped)
    changes: WhatChanged | None = None  # a scheduled run's: what changed since its previous run


class RunStatus(BaseModel):
    """What the `status` query returns, and what progress reports carry."""

    workflow_id: str
    question: str
    requested_by: str
    stage: Stage
    draft_round: int = 0
    sub_questions: list[str] = []
    searches_done: int = 0
    searches_total: int = 0
    pages_read: int = 0
    pages_total: int = 0
    steps_taken: int = 0
    # The research loop: how many times the run looked for gaps after reading, and the follow-up
    # queries of the latest look ("Looking again for: ..."); they are appended to sub_questions too.
    gap_rounds: int = 0
    gaps: list[str] = []
    # Pages the run could not read ("host: why"), the first MAX_UNREAD_SHOWN: the progress says so.
    pages_unread: list[str] = []
    # Searches and search providers that failed ("mcp:wiki: MCP server 'wiki' did not answer within 15s"), the first
    # MAX_UNREAD_SHOWN: the progress names them, and the run goes on with what the others found.
    searches_failed: list[str] = []
    sources: list[Source] = []
    draft: Draft | None = None
    decisions: list[DecisionRecord] = []
    # Plan review (ResearchRequest.review_plan): the round whose plan was put up for review (0: none), and
    # the answers to it, applied or refused.
    plan_review_round: int = 0
    plan_reviews: list[PlanReviewRecord] = []
    usage: TokenUsage = TokenUsage()
    # Where the token budget stopped the research ("after planning", ...): the run wrote from what it had.
    budget_stopped: str | None = None
    reminder_sent: bool = False
    error: str | None = None
    thread_ts: str | None = None  # the run's root message in Slack, once posted


class ClaimEvidence(BaseModel):
    """One claim of a published report and the passage of one source it cites that best supports it."""

    claim: str
    passage: str = ""  # empty: the source's text was not checked, or holds nothing for the claim
    score: float = 0.0  # the passage's weighted share of the claim's words (activities/verify.py)
    supported: bool = False  # the citation check's verdict on the claim


class SourceEvidence(BaseModel):
    """The evidence archive's record of one cited source: where it is, how it was read, what it supports."""

    number: int
    url: str
    title: str
    fetched_at: datetime | None = None
    http_status: int | None = None
    sha256: str | None = None
    note: str | None = None
    claims: list[ClaimEvidence] = []


class ResearchResult(BaseModel):
    workflow_id: str
    question: str
    requested_by: str
    outcome: Outcome
    answer: str
    steps_taken: int
    sources: list[Source]
    revision_rounds: int
    usage: TokenUsage
    decisions: list[DecisionRecord]
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    slack: SlackContext | None = None
    ledger: Ledger | None = None  # None: results of runs from before the ledger
    budget_stopped: str | None = None


# ---------------------------------------------------------------- the workflow's state and input


class RunState(BaseModel):
    """Everything a run knows, in one object: continue-as-new hands it over whole, so no field is forgotten."""

    status: RunStatus
    started_at: datetime
    pages: list[Page] = []  # every page read, sources or not; drafts and the final answer quote them
    feedback: str = ""  # all revision feedback so far, one line each
    messages: dict[str, str] = {}  # Slack messages posted for the run, by step key ("root", "draft-2", ...) -> ts


class CarriedState(BaseModel):
    """What runs started before RunState carried across continue-as-new; still read for runs in flight."""

    started_at: datetime
    draft_round: int
    sub_questions: list[str]
    sources: list[Source]
    pages: list[Page]
    draft: Draft
    decisions: list[DecisionRecord]
    usage: TokenUsage
    steps_taken: int
    feedback: str
    messages: dict[str, str] = {}

    def to_state(self, status: RunStatus) -> RunState:
        """The same run as a RunState, on top of the fresh status a continued run starts with."""
        carried = status.model_copy(
            update={
                "draft_round": self.draft_round,
                "sub_questions": self.sub_questions,
                "sources": self.sources,
                "draft": self.draft,
                "decisions": self.decisions,
                "usage": self.usage,
                "steps_taken": self.steps_taken,
                "thread_ts": self.messages.get("root"),
            }
        )
        return RunState(
            status=carried,
            started_at=self.started_at,
            pages=self.pages,
            feedback=self.feedback,
            messages=self.messages,
        )


class EarlierRun(BaseModel):
    """The run a follow-up question in its thread starts from: its question, its report and sources, bounded
    so the request stays small (the bot cuts them: bot/from_thread.py)."""

    workflow_id: str
    question: str = ""
    report: str = Field(default="", max_length=MAX_EARLIER_REPORT_CHARS)
    sources: list[Source] = Field(default=[], max_length=MAX_EARLIER_SOURCES)


class FollowUpInput(BaseModel):
    """One reply in a finished run's thread, asking more: the ``follow_up`` signal (sent with the start)."""

    text: str = Field(max_length=MAX_QUESTION_CHARS)
    user_id: str
    ts: str  # the reply's; a retried delivery of the same reply is taken once


class ScheduleRef(BaseModel):
    """The Temporal Schedule that started a run (bot/schedules.py), for a run started by one."""

    schedule_id: str = Field(min_length=1, max_length=200)


class SlackFileRef(BaseModel):
    """A file attached to the asking message: its id and name only. The worker reads it with the bot's
    token (files.info, url_private); no token or private URL is ever in workflow history."""

    id: str = Field(pattern=r"^F[A-Z0-9]{2,30}$")
    name: str = Field(default="", max_length=255)


class ResearchRequest(BaseModel):
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    requested_by: str
    approvers: list[str] = []
    slack: SlackContext | None = None
    # Searches and page reads: room for a full plan (5 searches, max_pages reads) and one look of the
    # research loop at its default breadth (3 searches and their pages).
    max_steps: int = Field(default=20, ge=1, le=100)
    # The research loop: after reading, at most ``research_depth`` looks for what the sub-questions still
    # lack, each searching at most ``research_breadth`` follow-up queries; depth 0 turns it off.
    research_breadth: int = Field(default=3, ge=1, le=10)
    research_depth: int = Field(default=1, ge=0, le=5)
    model: str | None = None
    budget: Budget = Budget()
    prices: Prices = Prices()
    max_revision_rounds: int = Field(default=5, ge=0)
    # Post the first plan with "Search this" / "Edit plan" and wait for the requester or an approver
    # before searching (RESEARCH_REVIEW_PLAN, or /research --review-plan).
    review_plan: bool = False
    remind_after: timedelta = timedelta(hours=24)
    expire_after: timedelta = timedelta(days=7)
    # Past this many history events, the next revision round continues as a new run.
    history_limit: int = Field(default=5_000, ge=50)
    # Set only on a run continued as new: the state it carries on from.
    state: RunState | None = None
    carried: CarriedState | None = None  # the same, as runs started before RunState carried it
    # Set on a follow-up asked in a finished run's thread: the run it starts from (workflows/follow_ups.py).
    earlier: EarlierRun | None = None
    # Set on a run a schedule started (/research every …). With ``publish_when_verified`` (its creator's
    # --publish), a draft whose every claim is verified is published without waiting for review.
    schedule: ScheduleRef | None = None
    publish_when_verified: bool = False
    # Files attached to the asking message (a mention or DM): read first, as the run's first sources.
    files: list[SlackFileRef] = Field(default=[], max_length=10)

    @field_validator("question")
    @classmethod
    def _question_is_usable(cls, value: str) -> str:
        return clean_question(value)


# ---------------------------------------------------------------- what people think of a report


class Rating(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class ReportRating(BaseModel):
    """One click on a published report's 👍 / 👎 buttons. Field names are in workflow history
    (AnswerFeedbackWorkflow's input): ``feedback_id`` stays, though it is the click's id."""

    feedback_id: str = Field(min_length=1, max_length=64)  # the same click delivered twice has the same id
    workflow_id: str = Field(min_length=1, max_length=1000)  # the run whose report it rates
    rating: Rating
    given_by: str = Field(min_length=1, max_length=64)
    given_at: datetime
