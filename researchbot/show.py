"""`researchbot show <workflow-id>`: an archived run's report, and per cited source the evidence for it;
with ``--format md|html|pdf``, the same as a file to take away (activities/archive/export/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from activities.archive.export import ExportFormat
from researchbot.printable import printable as _printable
from workflows.models import ResearchResult, SourceEvidence

__all__ = ["export_format", "render_archived"]

_SUFFIXES = {".md": ExportFormat.MD, ".markdown": ExportFormat.MD, ".html": ExportFormat.HTML}
_SUFFIXES |= {".htm": ExportFormat.HTML, ".pdf": ExportFormat.PDF}


def export_format(format: str | None, output: Path | None) -> ExportFormat | None:
    """The format asked for, else the one the output file's name says; None: print the report as text.
    Raises ValueError, saying what to give, when neither says."""
    if format is not None:
        try:
            return ExportFormat(format.lower())
        except ValueError:
            raise ValueError(f"unknown format {format!r}: use md, html or pdf") from None
    if output is None:
        return None
    if output.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[output.suffix.lower()]
    raise ValueError(f"cannot tell the format from {output.name!r}: add --format md, html or pdf")


def render_archived(result: ResearchResult, evidence: list[SourceEvidence]) -> str:
    """The report as archived, then each cited source: how it was read and the passage behind each claim."""
    lines = [
        f"=== {result.outcome.value.capitalize()} · {result.workflow_id} ===",
        f"Question: {_printable(result.question)}",
        f"Asked by {_printable(result.requested_by)}, finished {_when(result.finished_at)}",
        "",
        _printable(result.answer, keep_lines=True) or (result.error and _printable(result.error)) or "No report.",
        "",
    ]
    if not evidence:
        lines.append("No evidence archived: the report cites no source, or it was archived before evidence was kept.")
        return "\n".join(lines)
    lines.append(f"Evidence ({len(evidence)} cited {'source' if len(evidence) == 1 else 'sources'}):")
    for record in evidence:
        lines += ["", *_source(record)]
    return "\n".join(lines)


def _source(record: SourceEvidence) -> list[str]:
    status = f"HTTP {record.http_status}" if record.http_status is not None else "not read over HTTP"
    fetched = _when(record.fetched_at) if record.fetched_at else "fetch time unknown"
    lines = [
        f"[{record.number}] {_printable(record.title)}",
        f"    URL: {_printable(record.url)}",
        f"    Fetched: {fetched} · {status}",
        f"    SHA-256: {record.sha256 or 'unknown'}",
    ]
    if record.note:
        lines.append(f"    Note: {_printable(record.note)}")
    if not record.claims:
        lines.append("    Claims: none archived (the citation check did not run on the published text)")
    for claim in record.claims:
        verdict = "supported" if claim.supported else "NOT supported"
        lines.append(f"    - Claim: {_printable(claim.claim)}")
        if claim.passage:
            lines.append(f"      Passage ({verdict}, score {claim.score:.2f}): {_printable(claim.passage)}")
        else:
            lines.append(f"      Passage: none found in this source ({verdict})")
    return lines


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
