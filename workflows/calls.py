"""Every activity the workflow calls, one typed call site each: its name, input, output and options.

The activities themselves (activities/) stay out of the workflow sandbox; these wrappers call them by
name. tests/workflows/test_calls.py checks that each wrapper matches exactly one ``@activity.defn``
with the same name, argument type and result type. Runs in workflow context only.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import (
        FINALIZE_ANSWER,
        JUDGE_CLAIMS,
        PLAN_RESEARCH,
        PLAN_REVISION,
        READ_PAGE,
        RECORD_FEEDBACK,
        REFLECT_ON_GAPS,
        REPORT_PROGRESS,
        SEARCH,
        STORE_RESULT,
        SYNTHESIZE_DRAFT,
        VERIFY_CITATIONS,
    )
    from workflows.activity_io import (
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
    from workflows.models import Page, ReportRating

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
PROGRESS = workflow.ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30),
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


async def plan_research(i: PlanInput) -> PlanOutput:
    return await workflow.execute_activity(PLAN_RESEARCH, i, result_type=PlanOutput, **LLM)


async def plan_revision(i: RevisionPlanInput) -> PlanOutput:
    return await workflow.execute_activity(PLAN_REVISION, i, result_type=PlanOutput, **LLM)


async def reflect_on_gaps(i: ReflectInput) -> ReflectOutput:
    return await workflow.execute_activity(REFLECT_ON_GAPS, i, result_type=ReflectOutput, **LLM)


async def synthesize_draft(i: SynthesizeInput) -> TextOutput:
    return await workflow.execute_activity(SYNTHESIZE_DRAFT, i, result_type=TextOutput, **LLM)


async def finalize_answer(i: FinalizeInput) -> TextOutput:
    return await workflow.execute_activity(FINALIZE_ANSWER, i, result_type=TextOutput, **LLM)


async def judge_claims(i: JudgeInput) -> JudgeOutput:
    return await workflow.execute_activity(JUDGE_CLAIMS, i, result_type=JudgeOutput, **LLM)


async def verify_citations(i: VerifyInput) -> VerifyOutput:
    return await workflow.execute_activity(VERIFY_CITATIONS, i, result_type=VerifyOutput, **VERIFY)


async def search(i: SearchInput) -> SearchOutput:
    return await workflow.execute_activity(SEARCH, i, result_type=SearchOutput, **SEARCH_CONFIG)


async def read_page(i: ReadPageInput) -> Page:
    return await workflow.execute_activity(READ_PAGE, i, result_type=Page, **READ)


async def report_progress(i: ProgressInput, *, retry_for: timedelta | None = None) -> ProgressReceipt:
    """A progress report; with ``retry_for``, one the run cannot do without, retried for that long."""
    options = (
        PROGRESS if retry_for is None else workflow.ActivityConfig(**ESSENTIAL, schedule_to_close_timeout=retry_for)
    )
    return await workflow.execute_activity(REPORT_PROGRESS, i, result_type=ProgressReceipt, **options)


async def store_result(i: StoreInput) -> bool:
    return await workflow.execute_activity(STORE_RESULT, i, result_type=bool, **STORE)


async def record_feedback(i: ReportRating) -> bool:
    return await workflow.execute_activity(RECORD_FEEDBACK, i, result_type=bool, **STORE)
