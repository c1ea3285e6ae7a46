"""The evidence archive in the workflow: the published answer's cited sources, how each was read and the
passage behind each claim, handed to the store. Fake activities, real dev server."""

from __future__ import annotations

import hashlib

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FETCHED_AT, FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import VerifyInput, VerifyOutput
from workflows.calls import VerifyCalls
from workflows.declaring import implements
from workflows.evidence import EVIDENCE_BYTES, MAX_PASSAGES, gather
from workflows.models import ClaimEvidence, DecisionKind, Outcome, Page, Source, Stage
from workflows.research import ResearchWorkflow

QUESTION = "How does Temporal make workflows durable?"
SHARED = "https://example.org/shared"  # the third page read; the fakes' search finds it for every query


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_the_published_answers_sources_reach_the_store_with_their_evidence(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = ["Temporal keeps workflow state durable [1]. It retries activities [3]."]
    fakes.unreadable = {SHARED}  # read as its search snippet
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="shorter"))
        result = await handle.result()

    assert result.outcome is Outcome.APPROVED and [s.url for s in status.sources][2] == SHARED
    evidence_check = fakes.verify_inputs[-1]
    assert evidence_check.with_passages and evidence_check.text == result.answer  # exactly what was published
    assert not any(check.with_passages for check in fakes.verify_inputs[:-1])  # the drafts' checks stay small
    [stored] = fakes.stored
    assert stored.result == result
    first, third = stored.evidence
    assert (first.number, first.url, first.title) == (1, status.sources[0].url, status.sources[0].title)
    assert (first.fetched_at, first.http_status, first.note) == (FETCHED_AT, 200, None)
    assert first.sha256 == sha256(f"Text of {first.title}.")
    assert first.claims == [
        ClaimEvidence(
            claim="Temporal keeps workflow state durable.",
            passage="Source 1 says: Temporal keeps workflow state durable .",  # as the fake check words it
            score=0.9,
            supported=True,
        )
    ]
    # The snippet is recorded as what it is: never fetched, no HTTP status, and a note saying why.
    assert (third.number, third.url, third.fetched_at, third.http_status) == (3, SHARED, None, None)
    assert third.sha256 == sha256("s") and third.note is not None
    assert "search snippet from fake" in third.note and "HTTP 404" in third.note
    assert [c.claim for c in third.claims] == ["It retries activities."]


async def test_a_run_without_a_report_archives_no_evidence(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))
        await handle.result()
    assert fakes.calls["verify_citations"] == 1 and fakes.stored[0].evidence == []


class BrokenEvidenceCheck(FakeActivities):
    @implements(VerifyCalls.verify_citations)
    async def verify_citations(self, input: VerifyInput) -> VerifyOutput:
        if input.with_passages:
            raise ApplicationError("the archive lost this run's pages", non_retryable=True)
        return await super().verify_citations(input)


async def test_when_the_evidence_check_fails_the_run_is_archived_with_how_its_sources_were_read(
    env: WorkflowEnvironment,
) -> None:
    fakes, queue = BrokenEvidenceCheck(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
        result = await handle.result()
    assert result.outcome is Outcome.APPROVED
    [stored] = fakes.stored
    assert [(e.number, e.http_status, e.claims) for e in stored.evidence] == [(1, 200, []), (2, 200, [])]


def test_gathered_evidence_is_bounded() -> None:
    sources = [Source(number=1, url="https://a.example/", title="A"), Source(number=2, url="https://b", title="B")]
    pages = [Page(url="https://a.example/", title="A", text="a", http_status=200, sha256="0" * 64)]
    answer = " ".join(["A long claim " + "word " * 200 + "[1][2]."] * MAX_PASSAGES)
    checked = VerifyOutput.model_validate(
        {
            "claims": [
                {
                    "index": n,
                    "statement": "A long claim " + "word " * 200,
                    "numbers": [1, 2],
                    "verdict": "supported",
                    "passages": [{"number": 1, "text": "p" * 2000, "score": 1.0}],
                }
                for n in range(MAX_PASSAGES)
            ]
        }
    )
    records = gather(answer, sources, pages, checked)
    assert [r.number for r in records] == [1, 2] and records[1].note == "no record of the read"
    entries = [c for r in records for c in r.claims]
    assert len(entries) == MAX_PASSAGES
    assert all(len(c.claim) <= 500 and len(c.passage) <= 500 for c in entries)
    assert records[0].sha256 == "0" * 64 and records[0].claims[0].passage.endswith("…")


def test_gathered_evidence_is_bounded_in_bytes() -> None:
    sources = [Source(number=1, url="https://a.example/", title="𝔄" * 2_000)]
    wide = "𝔗" * 500
    checked = VerifyOutput.model_validate(
        {
            "claims": [
                {
                    "index": n,
                    "statement": wide,
                    "numbers": [1],
                    "verdict": "supported",
                    "passages": [{"number": 1, "text": wide, "score": 1.0}],
                }
                for n in range(MAX_PASSAGES)
            ]
        }
    )
    [record] = gather("A claim [1].", sources, [], checked)
    assert len(record.title) == 500 and 0 < len(record.claims) < MAX_PASSAGES
    assert sum(len(c.claim.encode()) + len(c.passage.encode()) for c in record.claims) <= EVIDENCE_BYTES
