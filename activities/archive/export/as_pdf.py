"""A report as a PDF, through fpdf2: the report, its sources, the evidence appendix.

fpdf2 is pure Python (no system libraries) and embeds a subset of a TrueType font, with a ToUnicode map,
so text extraction (pdftotext, a reader's search and copy) gets the text back. The font is DejaVu Sans,
vendored in fonts/ with its licence: it covers Latin, Greek, Cyrillic and the typographic marks a
report uses. A character it has no glyph for (CJK, most emoji) is drawn as U+FFFD instead of failing or
vanishing silently; the Markdown and HTML exports keep every character.

Only the run's http(s) sources become links (in the source list and the appendix); the report's own
Markdown is laid out as text, never as links, and nothing in a PDF here runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from markdown_it import MarkdownIt
from markdown_it.token import Token

from activities.archive.export.document import ExportClaim, ExportSource, ReportDocument
from slack_ui.mrkdwn import markdown_for_slack

__all__ = ["to_pdf"]

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
GREY = (97, 96, 97)
INDENT_MM = 6.0


@dataclass(frozen=True)
class _Block:
    """One paragraph of the report, as the PDF lays it out."""

    style: str  # "body", "heading", "code", "rule"
    text: str
    indent: int = 0


class _Pdf(FPDF):
    def __init__(self, document: ReportDocument) -> None:
        super().__init__(format="A4")
        self.document = document
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_title(document.title)
        self.set_author("ResearchBot")
        self.set_creator("ResearchBot (fpdf2)")
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 6, self.drawable(f"{self.document.workflow_id} · page {self.page_no()}/{{nb}}"), align=Align.C)
        self.set_text_color(0, 0, 0)

    def drawable(self, text: str) -> str:
        """``text`` with each character the font cannot draw as U+FFFD (fpdf2 would drop it)."""
        glyphs = _glyphs()
        return "".join(c if c in "\n " or ord(c) in glyphs else "\ufffd" for c in text)

    def para(
        self,
        text: str,
        *,
        size: float = 10.5,
        bold: bool = False,
        indent: int = 0,
        link: str | None = None,
        grey: bool = False,
        gap: float = 1.5,
    ) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*(GREY if grey else (0, 0, 0)))
        self.set_x(self.l_margin + indent * INDENT_MM)
        self.multi_cell(
            self.epw - indent * INDENT_MM,
            size * 0.5,
            self.drawable(text),
            align=Align.L,
            link=link,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.set_text_color(0, 0, 0)
        self.ln(gap)


def to_pdf(document: ReportDocument) -> bytes:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # fpdf2's font subsetting narrates every table
    pdf = _Pdf(document)
    pdf.add_page()
    pdf.para(document.title, size=16, bold=True, gap=1)
    pdf.para(
        f"{document.outcome.capitalize()} · run {document.workflow_id} · asked by {document.requested_by}"
        f" · finished {document.finished}",
        size=9,
        grey=True,
        gap=4,
    )
    for block in _report_blocks(document):
        if block.style == "rule":
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
            pdf.ln(3)
        else:
            pdf.para(block.text, bold=block.style == "heading", indent=block.indent, grey=block.style == "code")
    pdf.ln(3)
    pdf.para("Sources", size=14, bold=True)
    for source in document.sources:
        _source_line(pdf, source)
    if not document.sources:
        pdf.para("No sources.")
    pdf.ln(3)
    pdf.para("Evidence appendix", size=14, bold=True)
    pdf.para(document.verdict)
    for source in document.cited:
        _evidence(pdf, source)
    return bytes(pdf.output())


def _source_line(pdf: _Pdf, source: ExportSource) -> None:
    pdf.para(f"[{source.number}] {source.title}", gap=0.5)
    pdf.para(source.url, size=9, indent=1, link=source.url if source.linkable else None, grey=not source.linkable)


def _evidence(pdf: _Pdf, source: ExportSource) -> None:
    pdf.ln(2)
    pdf.para(f"[{source.number}] {source.title}", size=12, bold=True, gap=0.5)
    pdf.para(f"URL: {source.url}", size=9, link=source.url if source.linkable else None, gap=0.5)
    pdf.para(f"Fetched: {source.how_read}", size=9, gap=0.5)
    pdf.para(f"SHA-256: {source.sha256 or 'unknown'}", size=9, gap=0.5)
    if source.note:
        pdf.para(f"Note: {source.note}", size=9, gap=0.5)
    if not source.claims:
        pdf.para("Claims: none archived (the citation check did not run on the published text)", size=9)
    for claim in source.claims:
        _claim(pdf, claim)


def _claim(pdf: _Pdf, claim: ExportClaim) -> None:
    pdf.ln(1)
    pdf.para(f"Claim: {claim.claim}", gap=0.5)
    pdf.para(f"Verdict: {claim.verdict}", size=9, indent=1, gap=0.5)
    passage = f"“{claim.passage}”" if claim.passage else "none found in this source"
    pdf.para(f"Passage: {passage}", size=9, indent=1, grey=True)


# ---------------------------------------------------------------- the report's Markdown, as blocks of text


def _report_blocks(document: ReportDocument) -> list[_Block]:
    """The report's Markdown (made safe as for Slack: non-source links show their address) as paragraphs:
    headings bold, list items with their bullet or number, code as it is; emphasis and links as plain text."""
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False})
    blocks: list[_Block] = []
    lists: list[int | None] = []  # per open list: None for bullets, else the last number used
    quotes = 0
    prefix, style = "", "body"
    for token in parser.parse(markdown_for_slack(document.report, document.link_urls)):
        kind = token.type
        if kind == "heading_open":
            style = "heading"
        elif kind == "heading_close":
            style = "body"
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(None if kind == "bullet_list_open" else int(token.attrGet("start") or 1) - 1)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1]
            if number is None:
                prefix = "• "
            else:
                lists[-1] = number + 1
                prefix = f"{number + 1}. "
        elif kind == "blockquote_open":
            quotes += 1
        elif kind == "blockquote_close":
            quotes -= 1
        elif kind == "inline":
            blocks.append(_Block(style, prefix + _inline_text(token), max(len(lists) - 1, 0) + quotes))
            prefix = ""
        elif kind in ("fence", "code_block"):
            blocks.append(_Block("code", token.content.rstrip("\n"), len(lists) + quotes))
        elif kind == "hr":
            blocks.append(_Block("rule", ""))
    return blocks


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


@cache
def _glyphs() -> frozenset[int]:
    """The code points both DejaVu Sans faces draw."""
    from fontTools.ttLib import TTFont  # fpdf2's own dependency

    with TTFont(str(FONTS / "DejaVuSans.ttf")) as regular, TTFont(str(FONTS / "DejaVuSans-Bold.ttf")) as bold:
        return frozenset(regular.getBestCmap()) & frozenset(bold.getBestCmap())
