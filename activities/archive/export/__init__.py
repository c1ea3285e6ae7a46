"""Exported reports: an archived run as a Markdown, HTML or PDF file, with its sources and evidence.

``report_document`` builds what the export says from the archive's rows (document.py); ``render`` writes it
in one format (as_markdown.py, as_html.py, as_pdf.py). The CLI (`researchbot show --format`) uses it.
"""

from __future__ import annotations

from enum import StrEnum

from activities.archive.export.document import ReportDocument, report_document

__all__ = ["ExportFormat", "ReportDocument", "render", "report_document"]


class ExportFormat(StrEnum):
    MD = "md"
    HTML = "html"
    PDF = "pdf"

    @property
    def mime_type(self) -> str:
        return {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}[self.value]


def render(document: ReportDocument, format: ExportFormat) -> bytes:
    """The document as the bytes of one file in ``format`` (text formats in UTF-8)."""
    if format is ExportFormat.PDF:
        from activities.archive.export.as_pdf import to_pdf  # fpdf2 and the fonts load only for a PDF

        return to_pdf(document)
    if format is ExportFormat.HTML:
        from activities.archive.export.as_html import to_html

        return to_html(document).encode()
    from activities.archive.export.as_markdown import to_markdown

    return to_markdown(document).encode()
