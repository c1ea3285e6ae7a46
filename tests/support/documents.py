"""Real documents for the corpus tests, written by the libraries that write them for people: fpdf2 (PDF),
pypdf (an encrypted PDF), python-docx, python-pptx and openpyxl. Nothing here pretends to be a format."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF


def write_pdf(path: Path, pages: Sequence[str], title: str = "") -> Path:
    """A PDF with one page per text ("" makes a page with no text, as a scan has)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 100, 60, style="F")  # a picture of a page: ink, no text
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_encrypted_pdf(path: Path, text: str, password: str = "s3cret") -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(path.with_suffix(".plain.tmp"), [text])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with path.open("wb") as file:
        writer.write(file)
    plain.unlink()
    return path


def write_docx(path: Path, paragraphs: Sequence[str], table: Sequence[Sequence[str]] = (), title: str = "") -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, cells in zip(grid.rows, table, strict=True):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_pptx(path: Path, slides: Sequence[tuple[str, str, str]]) -> Path:
    """A deck of (title, body, speaker notes) slides."""
    import pptx

    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # "Title and Content"
    for title, body, notes in slides:
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(path))
    return path


def write_zip_bomb(path: Path, unpacked_bytes: int = 12_000_000) -> Path:
    """A "DOCX" that is a zip of one member of zeros: a few kilobytes that unpack to ``unpacked_bytes``."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            left = unpacked_bytes
            while left > 0:
                member.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


def write_lying_docx(path: Path, unpacked_bytes: int = 5_000_000, declared: int = 1_000) -> Path:
    """A real DOCX whose document.xml unpacks to ``unpacked_bytes`` but whose zip headers say ``declared``:
    a bomb that the declared sizes alone would let through."""
    import io
    import struct

    write_docx(path, ["A document of whitespace."])
    with zipfile.ZipFile(path) as original:
        members = {info.filename: original.read(info.filename) for info in original.infolist()}
    xml = members["word/document.xml"]
    members["word/document.xml"] = xml + b" " * (unpacked_bytes - len(xml))  # trailing space keeps it valid XML
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        offset = archive.getinfo("word/document.xml").header_offset
    data = bytearray(buffer.getvalue())
    data[offset + 22 : offset + 26] = struct.pack("<I", declared)  # the local header's uncompressed size
    name = b"word/document.xml"
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack("<H", data[central + 28 : central + 30])[0]
        if data[central + 46 : central + 46 + name_length] == name:
            data[central + 24 : central + 28] = struct.pack("<I", declared)  # the central directory's
            break
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path
