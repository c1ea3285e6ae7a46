"""Every activity the workflow calls, declared once: its name in history, input, output and options.

The activities themselves live in activities/, which imports workflows/ and so cannot be imported here
(docs/how-a-run-works.md#layers). Each group below mirrors an activity class; its methods are declarations,
never run: the workflow calls them by reference (``await call(ModelCalls.plan_research, i)``, see
workflows/declaring.py), and the activity method that does the work is marked
``@implements(ModelCalls.plan_research)``, which checks its types against these. The worker registers
every implementation and refuses to start if a declaration has none (researchbot/wiring.py).
"""

from __future__ import annotations

import inspect
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.activity_io import (
        CompareInput,
        ExportInput,
        FinalizeInput,
        JudgeInput,
        JudgeOutput,
        PlanInput,
        PlanOutput,
        ProgressInput,
        ProgressReceipt,
        ReadPageInput,
        ReflectInput,
        ReflectOutput,
        RevisionPlanInput,
        SearchInput,
        SearchOutput,
        StoreInput,
        SynthesizeInput,
        TextOutput,
        VerifyInput,
        VerifyOutput,
    )
    from workflows.declaring import Declared, declaration, declared
    from workflows.models import Page, ReportRating, WhatChanged

# Every kind has a schedule-to-close bound, so nothing outside (a page, a provider that answers 429 for
# ever, a model that hangs) can hold a run: a call that runs out of it fails, and the run goes on
# without it (a page "could not be read", a search "failed") or says why it stopped.

# Reading the run's pages back from the archive and scoring claims: seconds, deterministic.
VERIFY = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=60),
    schedule_to_close_timeout=timedelta(minutes=5),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5),
)
# A model call can take minutes; heartbeats notice a dead worker in seconds. The chat client streams and
# fails a silent model itself (LLM_TIMEOUT_SECONDS to the first token, LLM_SILENCE_SECONDS between them),
# so start-to-close only bounds a model that keeps talking: a CPU model's 5-minute answer fits, twice.
LLM = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(minutes=10),
    schedule_to_close_timeout=timedelta(minutes=20),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=60), maximum_attempts=5
    ),
)
SEARCH_CONFIG = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(minutes=2),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_attempts=3),
)
# A page that keeps refusing (429 with its Retry-After capped at 30 s) is "could not read" within this.
READ = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=45),
    schedule_to_close_timeout=timedelta(minutes=2),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_attempts=3),
)
# A progress refresh may wait minutes for Slack's budget when many runs report at once (Tier 3 is 50 a
# minute per workspace): an attempt timed out while it waits is retried at the back of the line, its
# place lost (bench.scale, 100 runs on one worker: 44 attempts). Heartbeats still notice a dead worker.
PROGRESS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(minutes=3),
    schedule_to_close_timeout=timedelta(minutes=15),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20),
)
# The messages a run cannot do without (its first post, the draft, the final report) are retried until
# they are posted or the run's own expiry comes, never given up after a count: no attempt limit, and the
# caller sets the schedule-to-close deadline.
ESSENTIAL = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=60)),
)
# The archive must not lose a run: retry until the database is back, for up to a week.
STORE = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30),
    schedule_to_close_timeout=timedelta(days=7),
    heartbeat_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=60)),
)


# An export the person waits for: rendering takes seconds, an upload a few Slack calls.
EXPORT = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=60),
    schedule_to_close_timeout=timedelta(hours=1),
    heartbeat_timeout=timedelta(seconds=20),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=60)),
)


def essential_options(retry_for: timedelta) -> workflow.ActivityConfig:
    """The options of a report the run cannot do without, retried for ``retry_for`` (the run's expiry)."""
    return workflow.ActivityConfig(**ESSENTIAL, schedule_to_close_timeout=retry_for)


class ModelCalls:
    """The model's steps: activities/model/llm.py (LlmActivities)."""

    @declared(LLM)
    async def plan_research(self, i: PlanInput) -> PlanOutput:
        raise NotImplementedError

    @declared(LLM)
    async def plan_revision(self, i: RevisionPlanInput) -> PlanOutput:
        raise NotImplementedError

    @declared(LLM)
    async def reflect_on_gaps(self, i: ReflectInput) -> ReflectOutput:
        raise NotImplementedError

    @declared(LLM)
    async def synthesize_draft(self, i: SynthesizeInput) -> TextOutput:
        raise NotImplementedError

    @declared(LLM)
    async def finalize_answer(self, i: FinalizeInput) -> TextOutput:
        raise NotImplementedError

    @declared(LLM)
    async def judge_claims(self, i: JudgeInput) -> JudgeOutput:
        raise NotImplementedError


class SearchCalls:
    """activities/search/providers.py (SearchActivities)."""

    @declared(SEARCH_CONFIG)
    async def search(self, i: SearchInput) -> SearchOutput:
        raise NotImplementedError


class PageCalls:
    """activities/search/pages.py (PageActivities)."""

    @declared(READ)
    async def read_page(self, i: ReadPageInput) -> Page:
        raise NotImplementedError


class VerifyCalls:
    """activities/verify.py (VerifyActivities)."""

    @declared(VERIFY)
    async def verify_citations(self, i: VerifyInput) -> VerifyOutput:
        raise NotImplementedError


class ProgressCalls:
    """activities/progress.py (ProgressActivities). The essential reports pass ``options=essential_options(...)``."""

    @declared(PROGRESS)
    async def report_progress(self, i: ProgressInput) -> ProgressReceipt:
        raise NotImplementedError


class ArchiveCalls:
    """activities/archive/store.py (StoreActivities)."""

    @declared(STORE)
    async def store_result(self, i: StoreInput) -> bool:
        raise NotImplementedError


class ChangeCalls:
    """activities/archive/changes.py (ChangeActivities). A scheduled run's draft against the schedule's previous
    archived report: one read of the archive and a word check, seconds; a failure leaves the draft without it."""

    @declared(VERIFY)
    async def compare_with_previous_run(self, i: CompareInput) -> WhatChanged:
        raise NotImplementedError


class RatingCalls:
    """activities/archive/ratings.py (RatingActivities.record_rating). A 👍 / 👎 on a report
    (workflows/ratings.py), stored like the archive."""

    @declared(STORE, name="record_feedback")  # its first name, in history: a rating was "feedback" then
    async def record_rating(self, i: ReportRating) -> bool:
        raise NotImplementedError


class ExportCalls:
    """activities/slack/exports.py (ExportActivities.upload_report_export). A report's Export button
    (workflows/exports.py): a few Slack calls; retried for an hour while Slack is away or busy."""

    @declared(EXPORT)
    async def upload_report_export(self, i: ExportInput) -> bool:
        raise NotImplementedError


def declarations() -> list[Declared]:
    """Every call declared above, found by walking this module's classes: nothing to keep in step."""
    return [
        declared_call
        for cls in list(globals().values())
        if inspect.isclass(cls) and cls.__module__ == __name__
        for fn in vars(cls).values()
        if (declared_call := declaration(fn)) is not None
    ]
