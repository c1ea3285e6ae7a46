"""Turn one file of the corpus into searchable *parts*: a PDF page, a slide, a sheet, or the whole file.

One small, well-kept reader per format: pypdf (text per page), python-docx (paragraphs and tables in
order), python-pptx (text per slide, speaker notes too), openpyxl in read-only mode (rows per sheet),
the standard library's csv, and trafilatura for HTML. markitdown would do all of them at once, but it
makes one Markdown text of a file (a PDF's pages run together), losing the page a citation points at.

Nothing here parses a binary format itself, and every bad file becomes an ``Unreadable`` with a reason
a person can act on (encrypted, corrupt, too big, a zip bomb, no text) instead of an exception that
could stop the index.
"""

from __future__ import annotations

import csv
import html
import io
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

__all__ = [
    "SUFFIXES",
    "Converters",
    "DocumentLimits",
    "Part",
    "Unreadable",
    "extract_html",
    "locator_kind",
]

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
CELL_SEPARATOR = " | "
# Below this many unpacked bytes an Office file's compression ratio is not looked at: a small file that
# packs well is harmless, and short XML often packs 50:1.
_RATIO_FLOOR_BYTES = 10_000_000


class Unreadable(Exception):
    """This file cannot be indexed; the message says why ("encrypted PDF", "no text: scanned PDF?")."""


@dataclass(frozen=True)
class Part:
    """One searchable piece of a file. ``locator`` is the URL fragment that points at it ("page=12",
    "slide=3", "sheet=Budget"; "" for a whole file), ``label`` how a person names it ("p. 12")."""

    locator: str
    label: str
    title: str
    text: str


@dataclass(frozen=True)
class DocumentLimits:
    """What a file may cost before it is read: CORPUS_MAX_FILE_BYTES, CORPUS_MAX_UNZIPPED_BYTES and
    CORPUS_MAX_ZIP_RATIO."""

    max_file_bytes: int = 50_000_000
    max_unzipped_bytes: int = 200_000_000
    max_zip_ratio: float = 100.0


def extract_html(markup: str) -> tuple[str, str]:
    """(title, main text) of an HTML document; either may be empty."""
    match = _HTML_TITLE.search(markup)
    title = " ".join(html.unescape(match.group(1)).split()) if match else ""
    text = trafilatura.extract(markup, include_comments=False, include_tables=True) or ""
    return title, text.strip()


def _titled(name: str, label: str, own_title: str) -> str:
    """A part's title: "Employee handbook — handbook.pdf, p. 12", or "handbook.pdf, p. 12" without a title
    of the file's own ("Roadmap — roadmap.docx" for a whole file)."""
    where = f"{name}, {label}" if label else name
    own = " ".join(own_title.split())
    return f"{own} — {where}" if own else where


def _text_file(path: Path) -> list[Part]:
    raw = path.read_text(encoding="utf-8", errors="replace")
    heading = _MD_HEADING.search(raw)
    title = heading.group(1).strip() if heading else ""
    return [Part("", "", title or path.name, raw.strip())]


def _html_file(path: Path) -> list[Part]:
    title, text = extract_html(path.read_text(encoding="utf-8", errors="replace"))
    return [Part("", "", title or path.name, text)]


def _csv_file(path: Path) -> list[Part]:
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(raw[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        lines = [_row_line(row) for row in csv.reader(io.StringIO(raw), dialect)]
    except csv.Error as exc:
        raise Unreadable(f"not a readable CSV file: {exc}") from exc
    return [Part("", "", path.name, "\n".join(line for line in lines if line))]


def _row_line(cells: Iterable[object]) -> str:
    return CELL_SEPARATOR.join(text for cell in cells if cell is not None and (text := " ".join(str(cell).split())))


def _pdf_file(path: Path) -> list[Part]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    # pypdf logs each flaw it works around; a file it cannot read gets our one skip line instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):  # an owner password alone still lets us read
            raise Unreadable("encrypted PDF: it needs a password")
        own_title = (reader.metadata.title if reader.metadata else None) or ""
        parts = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                label = f"p. {number}"
                parts.append(Part(f"page={number}", label, _titled(path.name, label, str(own_title)), text))
        return parts
    except (FileNotDecryptedError, DependencyError) as exc:
        raise Unreadable(f"encrypted PDF: {exc}") from exc
    except PdfReadError as exc:
        raise Unreadable(f"corrupt PDF: {exc}") from exc


def _docx_file(path: Path) -> list[Part]:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    lines: list[str] = []
    for block in document.iter_inner_content():  # paragraphs and tables, in the document's order
        if isinstance(block, Table):
            lines.extend(_row_line(cell.text for cell in row.cells) for row in block.rows)
        else:
            lines.append(block.text.strip())
    return [Part("", "", _titled(path.name, "", document.core_properties.title or ""), _joined(lines))]


def _pptx_file(path: Path) -> list[Part]:
    import pptx

    deck = pptx.Presentation(str(path))
    own_title = deck.core_properties.title or ""
    parts = []
    for number, slide in enumerate(deck.slides, start=1):
        lines = list(_shape_lines(slide.shapes))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                lines.append(f"Notes: {notes}")
        text = _joined(lines)
        if text:
            heading = slide.shapes.title.text_frame.text if slide.shapes.title is not None else ""
            label = f"slide {number}"
            parts.append(Part(f"slide={number}", label, _titled(path.name, label, heading or own_title), text))
    return parts


def _shape_lines(shapes: Iterable[object]) -> Iterator[str]:
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shape_lines(shape.shapes)
        elif getattr(shape, "has_table", False):
            yield from (_row_line(cell.text for cell in row.cells) for row in shape.table.rows)  # type: ignore[attr-defined]
        elif getattr(shape, "has_text_frame", False):
            yield shape.text_frame.text.strip()  # type: ignore[attr-defined]


def _xlsx_file(path: Path) -> list[Part]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)  # data_only: values, not formulas
    try:
        parts = []
        for sheet in book.worksheets:
            text = _joined(_row_line(row) for row in sheet.iter_rows(values_only=True))
            if text:
                label = f"sheet {sheet.title}"
                locator = f"sheet={quote_sheet(sheet.title)}"
                parts.append(Part(locator, label, _titled(path.name, label, book.properties.title or ""), text))
        return parts
    finally:
        book.close()


def quote_sheet(name: str) -> str:
    """A sheet's name as a URL fragment value: every character but letters, digits and -._~ escaped."""
    from urllib.parse import quote

    return quote(name, safe="")


def _joined(lines: Iterable[str]) -> str:
    return "\n".join(line for line in lines if line and line.strip()).strip()


def check_zip(path: Path, limits: DocumentLimits) -> None:
    """Refuse an Office file (a zip) that is not one, or would unpack into too much.

    The sizes are the ones the zip declares; Python's zipfile, which python-docx, python-pptx and
    openpyxl all read through, stops each member at its declared size and fails its CRC check past
    it, so a member that lies about its size cannot unpack into more."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise Unreadable(f"corrupt {path.suffix.lstrip('.').upper()} file (not a valid zip: {exc})") from exc
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if unpacked > limits.max_unzipped_bytes:
        raise Unreadable(
            f"unpacks to {unpacked:,} bytes, more than CORPUS_MAX_UNZIPPED_BYTES={limits.max_unzipped_bytes:,} "
            "(a zip bomb?)"
        )
    if unpacked > _RATIO_FLOOR_BYTES and unpacked / packed > limits.max_zip_ratio:
        raise Unreadable(
            f"compressed {unpacked / packed:,.0f}:1, more than CORPUS_MAX_ZIP_RATIO={limits.max_zip_ratio:g} "
            "(a zip bomb?)"
        )


Converter = Callable[[Path], list[Part]]

_CONVERTERS: dict[str, Converter] = {
    ".md": _text_file,
    ".markdown": _text_file,
    ".txt": _text_file,
    ".html": _html_file,
    ".htm": _html_file,
    ".csv": _csv_file,
    ".pdf": _pdf_file,
    ".docx": _docx_file,
    ".pptx": _pptx_file,
    ".xlsx": _xlsx_file,
}
_ZIPPED = frozenset({".docx", ".pptx", ".xlsx"})
SUFFIXES = frozenset(_CONVERTERS)
# Which fragment each format's parts carry; the others are whole files, with no fragment.
_LOCATOR_KINDS = {".pdf": "page", ".pptx": "slide", ".xlsx": "sheet"}


def locator_kind(suffix: str) -> str:
    """The fragment a file of this suffix is cited with: "page", "slide" or "sheet"; "" for a whole file."""
    return _LOCATOR_KINDS.get(suffix.lower(), "")


@dataclass
class Converters:
    """The converter for each suffix, behind the checks every file passes first (size, zip bomb), and a
    count of the files each suffix converted, which shows what a refresh really read."""

    limits: DocumentLimits = field(default_factory=DocumentLimits)
    calls: Counter[str] = field(default_factory=Counter)

    def parts(self, path: Path, size: int) -> list[Part]:
        """The parts of ``path`` (``size`` bytes, as stat found), or Unreadable saying why not."""
        suffix = path.suffix.lower()
        converter = _CONVERTERS.get(suffix)
        if converter is None:
            raise Unreadable(f"not a format the corpus reads ({suffix or 'no suffix'})")
        if size > self.limits.max_file_bytes:
            raise Unreadable(f"{size:,} bytes, more than CORPUS_MAX_FILE_BYTES={self.limits.max_file_bytes:,}")
        if suffix in _ZIPPED:
            check_zip(path, self.limits)
        self.calls[suffix] += 1
        try:
            parts = converter(path)
        except Unreadable:
            raise
        except Exception as exc:  # a third-party reader on a hostile file may raise anything: skip, never crash
            kind = suffix.lstrip(".").upper()
            raise Unreadable(f"corrupt or unreadable {kind} file ({type(exc).__name__}: {exc})"[:300]) from exc
        parts = [part for part in parts if part.text.strip()]
        if not parts:
            raise Unreadable("no text: scanned PDF?" if suffix == ".pdf" else "no text")
        return parts
