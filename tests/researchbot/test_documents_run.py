"""A team's documents as the corpus, end to end and offline: `researchbot index` says what it indexed and
skipped, and a run over a PDF, a DOCX, a PPTX and an XLSX cites a passage of each, with its page, slide
or sheet, in the draft and in the evidence archive."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.support.documents import write_docx, write_encrypted_pdf, write_pdf, write_pptx, write_xlsx

RESEARCHBOT = [sys.executable, "-m", "researchbot"]
QUESTION = (
    "What is the Zephyr travel budget, who leads the Nimbus migration, when does the Orion satellite launch, "
    "and how many days of paid leave do Acme employees take?"
)
# Each file holds one fact of the question, on a page, slide or sheet that is not its first.
CITED = {
    "local://handbook.pdf#page=2": ("Acme employee handbook — handbook.pdf, p. 2", "twenty-eight days of paid leave"),
    "local://roadmap.docx": ("Platform roadmap — roadmap.docx", "led by Ada Okafor"),
    "local://launch.pptx#slide=2": ("Orion launch — launch.pptx, slide 2", "launches from Kourou on 14 March 2027"),
    "local://budget.xlsx#sheet=Travel": ("budget.xlsx, sheet Travel", "Zephyr travel budget is 4200 euros"),
}


def write_corpus(root: Path) -> Path:
    write_pdf(
        root / "handbook.pdf",
        [
            "Welcome to Acme. This handbook explains how the company works and whom to ask.",
            "Paid leave: every Acme employee takes twenty-eight days of paid leave each year.",
            "Expenses are claimed within thirty days with the receipt attached.",
        ],
        title="Acme employee handbook",
    )
    write_docx(
        root / "roadmap.docx",
        [
            "Roadmap for the platform team this year.",
            "The Nimbus migration is led by Ada Okafor, who moves the archive to PostgreSQL.",
        ],
        title="Platform roadmap",
    )
    write_pptx(
        root / "launch.pptx",
        [
            ("Quarterly review", "Revenue grew in every region this quarter.", ""),
            (
                "Orion launch",
                "The Orion satellite launches from Kourou on 14 March 2027.",
                "The backup window is later.",
            ),
        ],
    )
    write_xlsx(
        root / "budget.xlsx",
        {
            "Summary": [["Total budget", 9000]],
            "Travel": [
                ["Item", "Amount (EUR)", "Note"],
                ["Zephyr conference", 4200, "The Zephyr travel budget is 4200 euros for the whole team."],
            ],
        },
    )
    return root


def offline_env(tmp_path: Path, corpus: Path, **extra: str) -> dict[str, str]:
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "CORPUS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
        "RESEARCH_CORPUS_DIR": str(corpus),
        "RESEARCH_INDEX_PATH": str(tmp_path / "index" / "corpus.sqlite"),
    }
    return env | extra


def researchbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RESEARCHBOT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )


def test_index_prints_what_changed_and_what_it_skipped(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    write_encrypted_pdf(corpus / "payroll.pdf", "Salaries are confidential.")
    env = offline_env(tmp_path, corpus)

    first = researchbot(["index"], env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"Index of {corpus} in {tmp_path / 'index' / 'corpus.sqlite'}"
    assert {"added     handbook.pdf", "added     roadmap.docx", "added     launch.pptx"} <= set(lines)
    assert "skipped   payroll.pdf: encrypted PDF: it needs a password" in lines
    assert lines[-1] == "4 added, 0 changed, 0 removed, 0 unchanged, 1 skipped"
    assert "corpus_file_skipped" in first.stderr and "payroll.pdf" in first.stderr  # the one log line

    (corpus / "roadmap.docx").unlink()
    write_pptx(corpus / "launch.pptx", [("Orion launch", "The Orion launch moved to April.", "")])
    again = researchbot(["index"], env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "changed   launch.pptx" in again.stdout and "removed   roadmap.docx" in again.stdout
    assert again.stdout.splitlines()[-1] == "0 added, 1 changed, 1 removed, 2 unchanged, 1 skipped"
    assert "corpus_file_skipped" not in again.stderr  # an unchanged bad file is not tried (or logged) again


def test_index_refuses_a_missing_folder(tmp_path: Path) -> None:
    done = researchbot(["index"], offline_env(tmp_path, tmp_path / "nope"), cwd=tmp_path)
    assert done.returncode == 2 and "is not a directory" in done.stderr and "Traceback" not in done.stderr


async def test_a_run_cites_a_page_a_document_a_slide_and_a_sheet(env: WorkflowEnvironment, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    address = env.client.service_client.config.target_host
    settings = offline_env(tmp_path, corpus, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=f"docs-{tmp_path.name}")

    done = researchbot(["ask", QUESTION, "--approve"], settings, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    approved = done.stdout.split("=== Approved ===", 1)[1]
    answer, sources = approved.split("Sources:", 1)
    numbers = {url: int(n) for n, url in re.findall(r"\[(\d+)\] .*? — (local://\S+)", sources)}
    for url, (title, fact) in CITED.items():
        assert f"] {title} — {url}" in sources, f"{url} is not among the sources"
        cited = [line for line in answer.splitlines() if fact in line]
        assert cited and f"[{numbers[url]}]" in cited[0], f"{fact!r} is not cited to {url}"

    from activities.archive.store import ArchiveStore

    workflow_id = done.stdout.split("Started run ", 1)[1].split()[0]
    store = ArchiveStore(settings["DATABASE_URL"])
    try:
        evidence = {record.url: record for record in store.evidence(workflow_id)}
    finally:
        store.dispose()
    assert set(CITED) <= set(evidence)
    for url, (title, fact) in CITED.items():
        record = evidence[url]
        file = url.removeprefix("local://").split("#")[0]
        file_hash = hashlib.sha256((corpus / file).read_bytes()).hexdigest()
        assert record.title == title and record.sha256 and record.http_status is None
        assert record.note == f"from the corpus file {file}, SHA-256 {file_hash}"
        assert any(fact in claim.passage for claim in record.claims), f"no passage of {url} archived"
