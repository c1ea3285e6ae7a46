"""The researchbot command as an operator meets it: real processes, real Temporal, offline defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).resolve().parents[2]
RESEARCHBOT = [sys.executable, "-m", "researchbot"]
# The answers asserted below come from a corpus of the tests' own, so editing corpus/ cannot change them.
TEST_CORPUS = REPO / "tests" / "data" / "corpus"


def offline_env(tmp_path: Path, corpus: Path | None = TEST_CORPUS, **extra: str) -> dict[str, str]:
    """The machine's environment without any ResearchBot or Temporal setting, plus `extra`.

    `corpus=None` leaves RESEARCH_CORPUS_DIR unset: the shipped default, corpus/."""
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/archive.db"
    if corpus is not None:
        env["RESEARCH_CORPUS_DIR"] = str(corpus)
    env.update(extra)
    return env


def researchbot(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RESEARCHBOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        (["ask", "   "], {}, "the question is empty"),
        (["ask", "x" * 2001], {}, "keep it under 2000"),
        (["ask", "what is temporal"], {"SEARCH_PROVIDER": "local,bing"}, "unknown search provider bing"),
        (["ask", "what is temporal"], {"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        (["ask", "what is temporal"], {"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "cannot reach Temporal at 127.0.0.1:1"),
        (["ask", "what is temporal"], {"APPROVAL_EXPIRE_AFTER": "soon"}, "APPROVAL_EXPIRE_AFTER"),
        (["worker"], {"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "cannot reach Temporal"),
        (
            ["ask", "what is temporal"],
            {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
            "cannot reach the LLM at http://127.0.0.1:1/v1",
        ),
        (["decide", "some-run", "maybe"], {}, "unknown decision 'maybe'"),
        (["show", "research-no-such-run"], {}, "no run 'research-no-such-run' in the archive"),
        (["show", "research-1"], {"DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/x"}, "cannot connect"),
        (["show", "research-1", "--format", "docx"], {}, "unknown format 'docx': use md, html or pdf"),
        (["show", "research-1", "--output", "report.txt"], {}, "cannot tell the format from 'report.txt'"),
        (["worker"], {"METRICS_BIND_ADDRESS": "9464"}, "METRICS_BIND_ADDRESS"),
        (
            ["worker"],
            {"METRICS_BIND_ADDRESS": "203.0.113.9:9464"},
            "METRICS_BIND_ADDRESS=203.0.113.9:9464 cannot serve metrics",
        ),
    ],
)
def test_bad_input_gets_one_line_and_a_nonzero_exit(
    tmp_path: Path, args: list[str], extra: dict[str, str], expected: str
) -> None:
    done = researchbot(args, offline_env(tmp_path, **extra), cwd=tmp_path)
    assert done.returncode != 0
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        done.stderr.strip().splitlines()[-1]
    ]


async def test_ask_runs_offline_end_to_end_and_archives(env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}")
    done = researchbot(
        [
            "ask",
            "How does Temporal retry activities?",
            "--revise",
            "add more on heartbeats",
            "--approve",
            "--feedback",
            "keep it short",
        ],
        settings,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "=== Draft, round 1 ===" in out and "=== Draft, round 2 ===" in out
    assert "Offline mode" in out
    assert "=== Approved ===" in out and "[1]" in out and "local://" in out
    from activities.archive.store import ArchiveStore

    stored = ArchiveStore(settings["DATABASE_URL"]).recent(limit=5)
    assert len(stored) == 1 and stored[0].outcome.value == "approved" and stored[0].revision_rounds == 1


async def test_a_question_the_corpus_cannot_answer_is_declined(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """Offline over the tests' corpus (Temporal, Slack, ...): no answer from memory or from a shared word."""
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}")
    done = researchbot(["ask", "What is the capital of France?", "--approve"], settings, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "I found nothing to cite for this question" in out and "Searches made:" in out
    assert "- What is the capital of France?" in out
    assert "Citations checked: no source supports an answer to this question" in out
    assert "=== Approved ===" not in out and "Capital One" not in out
    draft = out.split("=== Draft, round 1 ===", 1)[1].split("Sources:", 1)[0]
    assert "[1]" not in draft


async def test_an_answerable_question_says_what_was_verified(env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}")
    done = researchbot(["ask", "How does Temporal retry activities?", "--approve"], settings, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Citations checked: 5 of 5 cited claims verified against their sources" in done.stdout
    assert "=== Approved ===" in done.stdout and "unverified" not in done.stdout


async def test_show_prints_the_archived_report_with_its_evidence(env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}")
    asked = researchbot(["ask", "How does Temporal retry activities?", "--approve"], settings, cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    workflow_id = asked.stdout.split("Started run ", 1)[1].split()[0]
    assert f"Evidence: researchbot show {workflow_id}" in asked.stdout

    shown = researchbot(["show", workflow_id], settings, cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    from activities.archive.store import ArchiveStore

    store = ArchiveStore(settings["DATABASE_URL"])
    result, evidence = store.get(workflow_id), store.evidence(workflow_id)
    assert result is not None and evidence, "the run was archived without its evidence"
    out = shown.stdout
    assert out.startswith(f"=== Approved · {workflow_id} ===") and result.answer in out
    assert f"Evidence ({len(evidence)} cited source" in out
    for record in evidence:
        assert f"[{record.number}] {record.title}" in out and f"URL: {record.url}" in out
        assert record.sha256 and f"SHA-256: {record.sha256}" in out  # of the page text the run read
        assert record.http_status is None and record.url.startswith("local://")  # the offline corpus
        for claim in record.claims:
            assert claim.supported and claim.passage and f"- Claim: {claim.claim}" in out
            assert f"Passage (supported, score {claim.score:.2f}): {claim.passage}" in out
    supported = sum(len(record.claims) for record in evidence)
    assert supported >= 5  # "5 of 5 cited claims verified" (the test above), each with its source's passage


async def test_show_exports_the_report_as_md_html_and_pdf(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """A real run, archived by the worker, exported in each format and read back (PDF through pdftotext)."""
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}")
    asked = researchbot(["ask", "How does Temporal retry activities?", "--approve"], settings, cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    workflow_id = asked.stdout.split("Started run ", 1)[1].split()[0]

    for name in ("report.md", "report.html", "report.pdf"):  # the format from the file's name
        done = researchbot(["show", workflow_id, "--output", name], settings, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"Wrote {name} (")
    piped = subprocess.run(
        [*RESEARCHBOT, "show", workflow_id, "--format", "pdf"], env=settings, cwd=tmp_path, capture_output=True
    )
    assert piped.returncode == 0 and piped.stdout.startswith(b"%PDF-")  # to standard output, when redirected

    from activities.archive.store import ArchiveStore

    store = ArchiveStore(settings["DATABASE_URL"])
    result, evidence = store.get(workflow_id), store.evidence(workflow_id)
    assert result is not None and evidence
    pdf = subprocess.run(["pdftotext", "-enc", "UTF-8", "report.pdf", "-"], cwd=tmp_path, capture_output=True)
    assert pdf.returncode == 0, "pdftotext (poppler-utils, scripts/setup.sh) reads the PDF back"
    texts = {
        "md": (tmp_path / "report.md").read_text(),
        "html": (tmp_path / "report.html").read_text(),
        "pdf": pdf.stdout.decode(),
    }
    for kind, text in texts.items():
        flat = " ".join(text.split())
        assert "Temporal retries" in flat or "retried automatically" in flat, kind  # the report
        assert "Evidence appendix" in flat and "cited claims supported" in flat, kind
        for source in result.sources:
            assert source.url in flat, (kind, source.url)
        for record in evidence:
            assert record.sha256 and record.sha256 in flat, kind
    pdf_flat = " ".join(texts["pdf"].split())
    for source in result.sources:
        assert f"[{source.number}] {source.title}" in pdf_flat
    assert "Activities are retried automatically according to a retry policy. [1]" in pdf_flat


def test_show_prints_no_control_characters_from_pages() -> None:
    from datetime import UTC, datetime

    from researchbot.show import render_archived
    from workflows.models import ClaimEvidence, Outcome, ResearchResult, SourceEvidence, TokenUsage

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = ResearchResult(
        workflow_id="research-1",
        question="Why?",
        requested_by="U1",
        outcome=Outcome.APPROVED,
        answer="Line one [1].\nLine two.",
        steps_taken=3,
        sources=[],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at=moment,
        finished_at=moment,
    )
    hostile = SourceEvidence(
        number=1,
        url="https://a.example/",
        title="Title\x1b[2J\x1b]0;owned\x07",
        note="the search snippet from brave: the page could not be read (HTTP 403)",
        claims=[ClaimEvidence(claim="Line one.", passage="Said\nhere \x1b[31mred", score=0.8, supported=True)],
    )
    out = render_archived(result, [hostile])
    assert "\x1b" not in out and "\x07" not in out
    assert "Line one [1].\nLine two." in out  # the report keeps its lines
    assert "Passage (supported, score 0.80): Said here \ufffd[31mred" in out
    assert "Fetched: fetch time unknown · not read over HTTP" in out and "SHA-256: unknown" in out
    assert "Note: the search snippet from brave" in out
    assert "No evidence archived" in render_archived(result, [])
