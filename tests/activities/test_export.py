"""Exported reports, read back: a run archived in SQLite and in PostgreSQL (with hostile and non-ASCII text),
exported as Markdown (parsed by markdown-it), HTML (opened in Chromium) and PDF (read by pdftotext)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pypdf import PdfReader

from activities.archive.export import ExportFormat, ReportDocument, render, report_document
from activities.archive.store import ArchiveStore
from tests.sandbox.test_browser import launch_chromium, require_chromium
from workflows.models import ClaimEvidence, Outcome, ResearchResult, Source, SourceEvidence, TokenUsage

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
GOOD = "https://good.example/retries"
EVIL = "https://evil.example/"
HASH_1 = "a" * 64
HASH_2 = "b" * 64
SCRIPT = "<script>alert('report')</script>"
JS_TITLE = "[click me](javascript:alert(1)) <script>alert('title')</script>"

REPORT = f"""# Retries, naïvely — explained

Temporal retries activities with a **retry policy** [1]. Café owners agree [2].

- A source link: [the docs]({GOOD})
- Not a source: [a trap]({EVIL}trap) and [a script](javascript:alert(1)) and {EVIL}bare
- An image: ![pixel]({EVIL}pixel.png)
- Raw HTML: {SCRIPT} <img src=x onerror="alert('img')">
- A broadcast: <!channel> and <!here|here>
- CJK: 日本語のテキスト

```
code stays code: <b>not bold</b>
```
"""


def hostile_run(workflow_id: str) -> tuple[ResearchResult, list[SourceEvidence]]:
    result = ResearchResult(
        workflow_id=workflow_id,
        question="How does Temporal retry activities, naïvely — <b>or</b> not?",
        requested_by="U1ASKER",
        outcome=Outcome.APPROVED,
        answer=REPORT,
        steps_taken=5,
        sources=[
            Source(number=1, url=GOOD, title="Temporal retry policies — the naïve guide"),
            Source(number=2, url="javascript:alert(2)", title=JS_TITLE),
            Source(number=3, url="local://notes.md", title="Team notes"),
        ],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at=T0,
        finished_at=T0,
    )
    evidence = [
        SourceEvidence(
            number=1,
            url=GOOD,
            title="Temporal retry policies — the naïve guide",
            fetched_at=T0,
            http_status=200,
            sha256=HASH_1,
            claims=[
                ClaimEvidence(
                    claim="Temporal retries activities with a retry policy.",
                    passage=f"Activities are retried by a retry policy; see {EVIL}passage <!channel>",
                    score=0.91,
                    supported=True,
                )
            ],
        ),
        SourceEvidence(
            number=2,
            url="javascript:alert(2)",
            title=JS_TITLE,
            sha256=HASH_2,
            note="the search snippet: the page could not be read",
            claims=[ClaimEvidence(claim="Café owners agree.", passage="", score=0.0, supported=False)],
        ),
    ]
    return result, evidence


@pytest.fixture
def document(store: ArchiveStore) -> ReportDocument:
    """A run saved to the archive (SQLite or PostgreSQL) and read back, as the CLI and the worker read it."""
    result, evidence = hostile_run("research-export-1")
    assert store.save(result, evidence)
    archived = store.get("research-export-1")
    assert archived is not None
    return report_document(archived, store.evidence("research-export-1"))


def flat(text: str) -> str:
    """Whitespace as one space: wrapped lines read as one."""
    return " ".join(text.split())


# ---------------------------------------------------------------- Markdown


def test_markdown_reads_back_with_only_its_sources_linked(document: ReportDocument) -> None:
    markdown = render(document, ExportFormat.MD).decode()
    tokens = MarkdownIt("commonmark").parse(markdown)  # raw HTML on: any that got through would show here
    every = list(_walk(tokens))

    assert not [t for t in every if t.type in ("html_inline", "html_block", "image")]
    hrefs = {t.attrGet("href") for t in every if t.type == "link_open"}
    assert hrefs == {GOOD}
    text = flat(" ".join(t.content for t in every if t.type in ("text", "code_inline", "fence")))
    assert "Retries, naïvely — explained" in text and "retry policy [1]" in text and "日本語のテキスト" in text
    assert SCRIPT in text  # shown as text, not markup
    assert "<!channel>" not in markdown and "@\u200bchannel" in text  # defused
    # Nothing a renderer links by itself (GitHub's autolinks) outside code: the bare addresses are code.
    plain = " ".join(t.content for t in every if t.type == "text")
    assert "evil.example" not in plain and "javascript:" not in " ".join(hrefs)
    for source in document.sources:
        assert source.url in text
    assert "Evidence appendix" in text and "1 of 2 cited claims supported" in text
    assert HASH_1 in text and HASH_2 in text and "supported (score 0.91)" in text and "NOT supported" in text


def _walk(tokens: list[Token]):  # type: ignore[no-untyped-def]
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


# ---------------------------------------------------------------- HTML, in Chromium


async def test_html_in_chromium_shows_the_report_and_runs_nothing(document: ReportDocument, tmp_path: Path) -> None:
    require_chromium()
    page_file = tmp_path / "report.html"
    page_file.write_bytes(render(document, ExportFormat.HTML))
    async with launch_chromium() as browser:
        page = await browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        await page.goto(page_file.as_uri())
        await page.wait_for_load_state("load")

        text = flat(await page.inner_text("body"))
        scripts = await page.eval_on_selector_all("script", "nodes => nodes.length")
        images = await page.eval_on_selector_all("img", "nodes => nodes.length")
        hrefs = await page.eval_on_selector_all("a", "nodes => nodes.map(a => a.getAttribute('href'))")
        title = await page.title()

    assert scripts == 0 and images == 0 and dialogs == []
    assert requests == [page_file.as_uri()]  # the page loads nothing: no image, no script, no font
    assert set(hrefs) == {GOOD}
    assert title == "ResearchBot report: How does Temporal retry activities, naïvely — <b>or</b> not?"
    assert "Retries, naïvely — explained" in text and "retry policy [1]" in text and "日本語のテキスト" in text
    assert SCRIPT in text and "code stays code: <b>not bold</b>" in text  # as text
    assert "<!channel>" not in text and "@\u200bchannel" in text
    for source in document.sources:
        assert f"[{source.number}] {source.title}" in text and source.url in text
    assert JS_TITLE in text  # the title as text; its javascript: is no link (hrefs above)
    assert "Evidence appendix" in text and "1 of 2 cited claims supported" in text
    assert HASH_1 in text and HASH_2 in text
    assert f"Activities are retried by a retry policy; see {EVIL}passage" in text


# ---------------------------------------------------------------- PDF, through pdftotext


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("no pdftotext: install poppler-utils (scripts/setup.sh lists it)")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode()


def test_pdf_reads_back_through_pdftotext(document: ReportDocument, tmp_path: Path) -> None:
    pdf = render(document, ExportFormat.PDF)
    assert pdf.startswith(b"%PDF-")
    text = flat(pdf_text(pdf, tmp_path))

    assert "ResearchBot report: How does Temporal retry activities, naïvely — <b>or</b> not?" in text
    assert "Retries, naïvely — explained" in text and "Temporal retries activities with a retry policy [1]" in text
    assert SCRIPT in text and "Café owners agree [2]" in text
    assert "CJK: \ufffd" in text  # DejaVu has no CJK glyphs: drawn as U+FFFD, not dropped, no crash
    for source in document.sources:
        assert f"[{source.number}] {source.title}" in text and source.url in text
    assert "Evidence appendix" in text and "1 of 2 cited claims supported" in text
    assert f"SHA-256: {HASH_1}" in text and f"SHA-256: {HASH_2}" in text
    assert "Verdict: supported (score 0.91)" in text and "Verdict: NOT supported (score 0.00)" in text
    assert "Fetched: 2026-03-04 05:06:07 UTC · HTTP 200" in text


def test_pdf_links_only_to_http_sources(document: ReportDocument) -> None:
    reader = PdfReader(BytesIO(render(document, ExportFormat.PDF)))
    uris = set()
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            uris.add(action.get_object().get("/URI") if action else None)
    assert uris == {GOOD}
    assert not re.search(rb"/JavaScript|/JS\b|/Launch", render(document, ExportFormat.PDF))


def test_a_long_report_with_long_words_spans_pages(tmp_path: Path) -> None:
    result, evidence = hostile_run("research-export-long")
    long_word = "x" * 400
    result = result.model_copy(update={"answer": "\n\n".join(f"Paragraph {n}: {long_word} [1]." for n in range(60))})
    pdf = render(report_document(result, evidence), ExportFormat.PDF)
    text = pdf_text(pdf, tmp_path)
    assert len(PdfReader(BytesIO(pdf)).pages) > 3
    assert "Paragraph 59:" in text and "page 1/" in text
