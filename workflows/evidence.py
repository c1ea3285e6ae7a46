"""The evidence for a published report: one record per cited source, with the passage behind each claim.

Pure functions of plain data, so the workflow can build the records itself; the passages come from the
citation check (activities/verify.py, asked ``with_passages``), and the archive keeps the records
(activities/archive/store.py, ``research_evidence``). Everything is bounded, since it travels through workflow
history twice (the check's answer, the store's input).
"""

from __future__ import annotations

import re

from workflows.activity_io import ClaimVerdict, VerifyOutput
from workflows.guardrails import cited_numbers
from workflows.models import ClaimEvidence, Page, Source, SourceEvidence

__all__ = ["EVIDENCE_BYTES", "EVIDENCE_PATCH", "MAX_PASSAGES", "PASSAGE_CHARS", "cut", "gather", "utf8_size"]

# Runs started before the archive kept evidence store their result without it.
EVIDENCE_PATCH = "evidence-archive"
PASSAGE_CHARS = 500  # a supporting passage, and a claim, as archived
MAX_PASSAGES = 60  # (claim, source) pairs per report
# And at most this much text in them (UTF-8: a character may take 4 bytes), far under history's limits.
EVIDENCE_BYTES = 64_000
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")  # where a claim's citations were taken out


def cut(text: str, limit: int = PASSAGE_CHARS) -> str:
    """``text`` in at most ``limit`` characters, ending in … when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="replace"))


def gather(answer: str, sources: list[Source], pages: list[Page], checked: VerifyOutput | None) -> list[SourceEvidence]:
    """The sources ``answer`` cites, by number, each with how its page was read and the claims it
    is cited for (with their passages when ``checked`` has them; None: the check could not run)."""
    cited = set(cited_numbers(answer))
    read = {page.url: page for page in pages if page.ok}  # one page per URL: the run reads a URL once
    records = {source.number: _record(source, read.get(source.url)) for source in sources if source.number in cited}
    entries, size = 0, 0
    for claim in checked.claims if checked else []:
        passages = {passage.number: passage for passage in claim.passages}
        for number in claim.numbers:
            passage = passages.get(number)
            entry = ClaimEvidence(
                claim=cut(_SPACE_BEFORE_PUNCTUATION.sub(r"\1", claim.statement)),
                passage=cut(passage.text) if passage else "",
                score=passage.score if passage else 0.0,
                supported=claim.verdict is ClaimVerdict.SUPPORTED,
            )
            entry_size = utf8_size(entry.claim) + utf8_size(entry.passage)
            if number not in records or entries >= MAX_PASSAGES or size + entry_size > EVIDENCE_BYTES:
                continue
            records[number].claims.append(entry)
            entries, size = entries + 1, size + entry_size
    return sorted(records.values(), key=lambda record: record.number)


def _record(source: Source, page: Page | None) -> SourceEvidence:
    if page is None:  # cited but never read in this run's state (a run carried from an older version)
        return SourceEvidence(
            number=source.number, url=source.url, title=cut(source.title), note="no record of the read"
        )
    return SourceEvidence(
        number=source.number,
        url=source.url,
        title=cut(source.title),
        fetched_at=page.fetched_at,
        http_status=page.http_status,
        sha256=page.sha256,
        note=page.note,
    )
