"""What an exported report says, whatever its format: built once from the archive's rows.

Every text field is as the run archived it (from a model, a page or a person: untrusted), less control
characters. Each renderer (``as_markdown``, ``as_html``, ``as_pdf``) makes it safe for its own format;
none decides what the report contains.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel

from workflows.models import ClaimEvidence, ResearchResult, SourceEvidence

__all__ = ["ExportClaim", "ExportSource", "ReportDocument", "linkable", "report_document", "when"]

_LINK_SCHEMES = ("http://", "https://")


class ExportClaim(BaseModel):
    """One claim of the report and the passage of its source that supports it (or not)."""

    claim: str
    passage: str  # empty: none found in this source
    score: float
    supported: bool

    @property
    def verdict(self) -> str:
        return f"{'supported' if self.supported else 'NOT supported'} (score {self.score:.2f})"


class ExportSource(BaseModel):
    """One source of the run, with its evidence when the report cites it and the archive kept it."""

    number: int
    title: str
    url: str
    cited: bool = False  # has an evidence record: the report cites it
    fetched_at: datetime | None = None
    http_status: int | None = None
    sha256: str | None = None
    note: str | None = None
    claims: list[ExportClaim] = []

    @property
    def linkable(self) -> bool:
        return linkable(self.url)

    @property
    def how_read(self) -> str:
        """When and how the run read it: "2026-01-02 03:04:05 UTC · HTTP 200"."""
        fetched = when(self.fetched_at) if self.fetched_at else "fetch time unknown"
        status = f"HTTP {self.http_status}" if self.http_status is not None else "not read over HTTP"
        return f"{fetched} · {status}"


class ReportDocument(BaseModel):
    """An archived run as a document: its report, its sources and the evidence appendix."""

    workflow_id: str
    outcome: str  # "approved", "rejected", ...
    question: str
    requested_by: str
    finished_at: datetime
    report: str  # the archived report (Markdown), or the run's error when it has none
    sources: list[ExportSource]

    @property
    def title(self) -> str:
        return f"ResearchBot report: {self.question}"

    @property
    def cited(self) -> list[ExportSource]:
        return [source for source in self.sources if source.cited]

    @property
    def link_urls(self) -> list[str]:
        """The only addresses an export may link to: the run's own http(s) sources."""
        return [source.url for source in self.sources if source.linkable]

    @property
    def verdict(self) -> str:
        """The citation check's verdict over the archived claims, in one sentence."""
        claims = [claim for source in self.cited for claim in source.claims]
        if not claims:
            return "No claim evidence archived: the citation check did not run on the published text."
        supported = sum(claim.supported for claim in claims)
        return f"{supported} of {len(claims)} cited claims supported by a passage of their source."

    @property
    def finished(self) -> str:
        return when(self.finished_at)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def linkable(url: str) -> bool:
    """An address an export may make a link of: http or https, nothing else (no javascript:, data:, local://)."""
    return url.strip().lower().startswith(_LINK_SCHEMES) and not any(c.isspace() for c in url.strip())


def report_document(result: ResearchResult, evidence: list[SourceEvidence]) -> ReportDocument:
    """The document of an archived run: its sources in number order, each cited one with its evidence."""
    by_number = {record.number: record for record in evidence}
    sources = [
        _source(source.number, source.title, source.url, by_number.pop(source.number, None))
        for source in result.sources
    ]
    # Evidence for a number the run's source list lacks (it should not happen): kept, not dropped.
    sources += [_source(record.number, record.title, record.url, record) for record in by_number.values()]
    return ReportDocument(
        workflow_id=_clean(result.workflow_id),
        outcome=result.outcome.value,
        question=_clean(result.question),
        requested_by=_clean(result.requested_by),
        finished_at=result.finished_at,
        report=_clean(result.answer or result.error or "No report.", keep_lines=True),
        sources=sorted(sources, key=lambda source: source.number),
    )


def _source(number: int, title: str, url: str, record: SourceEvidence | None) -> ExportSource:
    if record is None:
        return ExportSource(number=number, title=_clean(title), url=_clean(url).strip())
    return ExportSource(
        number=number,
        title=_clean(record.title or title),
        url=_clean(record.url or url).strip(),
        cited=True,
        fetched_at=record.fetched_at,
        http_status=record.http_status,
        sha256=record.sha256,
        note=_clean(record.note) if record.note else None,
        claims=[_claim(claim) for claim in record.claims],
    )


def _claim(claim: ClaimEvidence) -> ExportClaim:
    return ExportClaim(
        claim=_clean(claim.claim), passage=_clean(claim.passage), score=claim.score, supported=claim.supported
    )


def _clean(text: str, *, keep_lines: bool = False) -> str:
    """No control characters (a NUL, an escape sequence): line breaks kept where asked, tabs as spaces."""

    def one(c: str) -> str:
        if c == "\n" and keep_lines:
            return c
        if c in "\t\r\n":
            return " "
        return "\ufffd" if unicodedata.category(c) == "Cc" else c

    return "".join(map(one, text.replace("\r\n", "\n")))
