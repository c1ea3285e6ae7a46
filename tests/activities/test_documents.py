"""The corpus's documents: each format indexed by page, slide or sheet, read back by its URL, kept fresh
incrementally, and bad files skipped with a reason. Every file is written here by a real writer
(tests/support/documents.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from activities.search.corpus_index import RefreshReport
from activities.search.documents import Converters, DocumentLimits
from activities.search.local_corpus import CorpusReadError, LocalCorpus
from activities.search.pages import PageReader
from tests.support.documents import (
    write_docx,
    write_encrypted_pdf,
    write_lying_docx,
    write_pdf,
    write_pptx,
    write_xlsx,
    write_zip_bomb,
)

HANDBOOK = [
    "Welcome to the company. This handbook covers onboarding and equipment.",
    "Holidays: every employee takes twenty-eight days of paid leave a year.",
    "Expenses are claimed within thirty days with the receipt attached.",
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write_pdf(root / "handbook.pdf", HANDBOOK, title="Employee handbook")
    write_docx(
        root / "plans/roadmap.docx",
        ["The Nimbus migration moves the archive to PostgreSQL in the spring."],
        table=[["Owner", "Project"], ["Ada Okafor", "Nimbus migration"]],
    )
    write_pptx(
        root / "deck.pptx",
        [
            ("Quarterly review", "Revenue grew in every region.", ""),
            ("Orion launch", "The Orion satellite launches on 14 March.", "Mention the backup date of 21 March."),
        ],
    )
    write_xlsx(
        root / "budget.xlsx",
        {
            "Summary": [["Total", 9000]],
            "Travel 2026": [["Item", "Amount"], ["Zephyr conference trip", 4200]],
        },
    )
    (root / "people.csv").write_text("name,team\nGrace Hopper,compilers\nLinus Torvalds,kernels\n")
    (root / "notes.md").write_text("# Notes\n\nLoose notes on nothing in particular.")
    return root


def corpus_of(folder: Path, **limits: float) -> LocalCorpus:
    return LocalCorpus(
        folder,
        folder.parent / "index.sqlite",
        converters=Converters(DocumentLimits(**limits)),  # type: ignore[arg-type]
    )


def test_each_format_is_indexed_with_its_locator(folder: Path) -> None:
    corpus = corpus_of(folder)
    report = corpus.refresh()
    assert sorted(report.added) == [
        "budget.xlsx",
        "deck.pptx",
        "handbook.pdf",
        "notes.md",
        "people.csv",
        "plans/roadmap.docx",
    ]
    assert report.skipped == [] and report.removed == [] and report.changed == []

    def best(query: str) -> tuple[str, str]:
        hit = corpus.search(query, 1)[0]
        return hit.url, hit.title

    assert best("paid leave holidays") == (
        "local://handbook.pdf#page=2",
        "Employee handbook — handbook.pdf, p. 2",
    )
    assert best("expenses receipt") == ("local://handbook.pdf#page=3", "Employee handbook — handbook.pdf, p. 3")
    assert best("Orion satellite launch") == ("local://deck.pptx#slide=2", "Orion launch — deck.pptx, slide 2")
    assert best("backup date") == ("local://deck.pptx#slide=2", "Orion launch — deck.pptx, slide 2")  # notes
    assert best("Zephyr conference") == (
        "local://budget.xlsx#sheet=Travel%202026",
        "budget.xlsx, sheet Travel 2026",
    )
    assert best("Ada Okafor") == ("local://plans/roadmap.docx", "roadmap.docx")  # a table cell
    assert best("Grace Hopper compilers") == ("local://people.csv", "people.csv")


def test_read_returns_that_parts_text(folder: Path) -> None:
    corpus = corpus_of(folder)
    title, text = corpus.read("local://handbook.pdf#page=2")
    assert title == "Employee handbook — handbook.pdf, p. 2"
    assert "twenty-eight days" in text and "onboarding" not in text and "thirty days" not in text
    slide = corpus.read("local://deck.pptx#slide=2")[1]
    assert "14 March" in slide and "Notes: Mention the backup date" in slide and "Revenue" not in slide
    sheet = corpus.read("local://budget.xlsx#sheet=Travel 2026")[1]  # an unescaped name finds it too
    assert sheet == "Item | Amount\nZephyr conference trip | 4200"
    docx = corpus.read("local://plans/roadmap.docx")[1]
    assert docx == "The Nimbus migration moves the archive to PostgreSQL in the spring.\nOwner | Project\n" + (
        "Ada Okafor | Nimbus migration"
    )


async def test_a_read_page_keeps_the_parts_url_title_and_the_files_hash(folder: Path) -> None:
    async with httpx.AsyncClient() as client:
        reader = PageReader(client, corpus_of(folder), allow_private_networks=False, max_bytes=100_000)
        page = await reader.read("local://handbook.pdf#page=3", "", 10_000)
    assert page.ok and page.url == "local://handbook.pdf#page=3"
    assert page.title == "Employee handbook — handbook.pdf, p. 3" and page.http_status is None
    assert page.sha256 == hashlib.sha256(page.text.encode()).hexdigest()
    file_hash = hashlib.sha256((folder / "handbook.pdf").read_bytes()).hexdigest()
    assert page.note == f"from the corpus file handbook.pdf, SHA-256 {file_hash}"


def test_refresh_reads_only_what_changed(folder: Path) -> None:
    corpus = corpus_of(folder)
    corpus.refresh()
    assert sum(corpus.converters.calls.values()) == 6

    again = corpus.refresh()
    assert again == RefreshReport(unchanged=6)
    assert sum(corpus.converters.calls.values()) == 6, "an unchanged file was converted again"

    # Touched but not changed: the hash says so, and the file is not converted again.
    stat = (folder / "deck.pptx").stat()
    os.utime(folder / "deck.pptx", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert corpus.refresh() == RefreshReport(unchanged=6)
    assert corpus.converters.calls[".pptx"] == 1

    write_pdf(folder / "handbook.pdf", [*HANDBOOK, "Bicycles may be parked in the courtyard."])
    (folder / "notes.md").unlink()
    report = corpus.refresh()
    assert report.changed == ["handbook.pdf"] and report.removed == ["notes.md"] and report.unchanged == 4
    assert corpus.converters.calls[".pdf"] == 2 and corpus.converters.calls[".md"] == 1
    assert corpus.search("bicycles courtyard", 1)[0].url == "local://handbook.pdf#page=4"
    assert all("notes.md" not in hit.url for hit in corpus.search("loose notes particular", 5))
    with pytest.raises(CorpusReadError):
        corpus.read("local://notes.md")


def test_the_index_persists_across_processes(folder: Path) -> None:
    corpus_of(folder).refresh()
    later = corpus_of(folder)  # as a worker that starts again finds it
    assert later.search("paid leave", 1)[0].url == "local://handbook.pdf#page=2"
    assert later.refresh() == RefreshReport(unchanged=6)
    assert sum(later.converters.calls.values()) == 0


def test_a_file_changed_since_the_refresh_is_read_as_it_is_now(folder: Path) -> None:
    corpus = corpus_of(folder)
    corpus.refresh()
    write_pptx(folder / "deck.pptx", [("Orion launch", "The Orion launch moved to 2 April.", "")])
    assert "2 April" in corpus.read("local://deck.pptx#slide=1")[1]
    with pytest.raises(CorpusReadError, match="no slide 2"):
        corpus.read("local://deck.pptx#slide=2")


def test_an_index_of_another_folder_is_rebuilt(folder: Path, tmp_path: Path) -> None:
    corpus_of(folder).refresh()
    other = tmp_path / "other"
    (other).mkdir()
    (other / "only.md").write_text("# Only\n\nThe only document here.")
    moved = LocalCorpus(other, folder.parent / "index.sqlite")
    assert moved.refresh().added == ["only.md"]
    assert moved.search("paid leave", 5) == []


def test_bad_files_are_skipped_with_their_reason(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_encrypted_pdf(folder / "locked.pdf", "The vault code is 1234.")
    write_pdf(folder / "scan.pdf", ["", ""])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntruncated")
    (folder / "fake.docx").write_bytes(b"PK\x03\x04 this is not a zip at all")
    write_zip_bomb(folder / "bomb.docx", unpacked_bytes=12_000_000)
    write_zip_bomb(folder / "big.xlsx", unpacked_bytes=3_000_000)
    (folder / "huge.txt").write_text("x " * 600_000)  # 1.2 MB, over the limit set below

    corpus = corpus_of(folder, max_file_bytes=1_000_000, max_unzipped_bytes=2_000_000)
    report = corpus.refresh()

    reasons = {skip.path: skip.reason for skip in report.skipped}
    assert set(reasons) == {"locked.pdf", "scan.pdf", "broken.pdf", "fake.docx", "bomb.docx", "big.xlsx", "huge.txt"}
    assert reasons["locked.pdf"] == "encrypted PDF: it needs a password"
    assert reasons["scan.pdf"] == "no text: scanned PDF?"
    assert reasons["broken.pdf"].startswith("corrupt PDF")
    assert reasons["fake.docx"].startswith("corrupt DOCX file (not a valid zip")
    assert "CORPUS_MAX_ZIP_RATIO" in reasons["bomb.docx"] or "CORPUS_MAX_UNZIPPED_BYTES" in reasons["bomb.docx"]
    assert "more than CORPUS_MAX_UNZIPPED_BYTES=2,000,000 (a zip bomb?)" in reasons["big.xlsx"]
    assert reasons["huge.txt"] == "1,200,000 bytes, more than CORPUS_MAX_FILE_BYTES=1,000,000"
    assert all(skip.new for skip in report.skipped)
    assert sorted(report.added) == [
        "budget.xlsx",
        "deck.pptx",
        "handbook.pdf",
        "notes.md",
        "people.csv",
        "plans/roadmap.docx",
    ]
    assert corpus.converters.calls[".docx"] == 1  # the bomb and the fake never reached python-docx
    # Unchanged bad files are not tried again, and still reported as skipped.
    again = corpus.refresh()
    assert again.unchanged == 6 and {s.path for s in again.skipped} == set(reasons)
    assert not any(s.new for s in again.skipped) and corpus.converters.calls[".docx"] == 1
    with pytest.raises(CorpusReadError, match="encrypted PDF"):
        corpus.read("local://locked.pdf#page=1")


def test_a_zip_bomb_is_refused_by_its_ratio_before_any_reader_opens_it(folder: Path) -> None:
    write_zip_bomb(folder / "bomb.docx", unpacked_bytes=12_000_000)
    corpus = corpus_of(folder)  # the default limits: 200 MB unpacked, 100:1
    reasons = {s.path: s.reason for s in corpus.refresh().skipped}
    assert (
        reasons["bomb.docx"].startswith("compressed ") and "more than CORPUS_MAX_ZIP_RATIO=100" in reasons["bomb.docx"]
    )
    assert corpus.converters.calls[".docx"] == 1  # roadmap.docx only


def test_a_zip_that_lies_about_its_sizes_is_not_unpacked_past_them(folder: Path) -> None:
    """The zip checks trust the declared sizes because the reader underneath enforces them: a member that
    says 1,000 bytes and holds 5 MB fails its CRC check at byte 1,000, and the file is skipped."""
    write_lying_docx(folder / "liar.docx", unpacked_bytes=5_000_000, declared=1_000)
    corpus = corpus_of(folder, max_unzipped_bytes=2_000_000)  # the declared sizes pass; the real ones would not
    reasons = {s.path: s.reason for s in corpus.refresh().skipped}
    assert reasons == {
        "liar.docx": "corrupt or unreadable DOCX file (BadZipFile: Bad CRC-32 for file 'word/document.xml')"
    }


@pytest.mark.parametrize(
    "url",
    [
        "local://deck.pptx#slide=../../secret.md",
        "local://handbook.pdf#page=1/../../secret.md",
        "local://../secret.md#page=1",
        "local://%2e%2e/secret.md",
        "local://plans/..%2F..%2Fsecret.md",
        "local://handbook.pdf#page=0",
        "local://handbook.pdf#page=-1",
        "local://handbook.pdf#page=2#page=3",
        "local://handbook.pdf#slide=2",
        "local://handbook.pdf",
        "local://deck.pptx#sheet=Budget",
        "local://budget.xlsx#sheet=",
        "local://notes.md#page=1",
        "local://handbook.pdf#page=99",
        "local://budget.xlsx#sheet=Nope",
        "local://secret.md%23page=1",
    ],
)
def test_fragments_cannot_escape_or_name_what_is_not_there(folder: Path, url: str) -> None:
    (folder.parent / "secret.md").write_text("# Secret\n\nnot part of the corpus")
    with pytest.raises(CorpusReadError):
        corpus_of(folder).read(url)


def test_a_file_name_with_a_hash_gets_a_url_that_reads_back(folder: Path) -> None:
    (folder / "issue #20.md").write_text("# Issue\n\nDocuments in any common format.")
    corpus = corpus_of(folder)
    hit = corpus.search("documents common format", 1)[0]
    assert hit.url == "local://issue %2320.md"
    assert corpus.read(hit.url)[0] == "Issue"


def test_a_stale_index_is_refreshed_in_the_background_by_a_search(folder: Path) -> None:
    corpus = LocalCorpus(folder, folder.parent / "index.sqlite", refresh_seconds=0)
    assert corpus.search("paid leave", 1)[0].url == "local://handbook.pdf#page=2"  # the first waits for it
    write_docx(folder / "kestrel.docx", ["The Kestrel project ships in June."])
    corpus.search("Kestrel project", 1)  # answers from the index as it is, and starts a refresh
    assert corpus._background is not None
    corpus._background.join()
    assert corpus.search("Kestrel project", 1)[0].url == "local://kestrel.docx"


def test_a_fresh_index_is_not_refreshed_again_by_the_next_search(folder: Path) -> None:
    corpus = corpus_of(folder)  # RESEARCH_INDEX_REFRESH_SECONDS's default: a minute
    corpus.search("paid leave", 1)
    corpus.search("Orion", 1)
    assert corpus._background is None and sum(corpus.converters.calls.values()) == 6


def test_the_first_search_waits_for_the_workers_start_up_refresh_instead_of_a_second(folder: Path) -> None:
    corpus = corpus_of(folder)
    corpus.start_refresh()  # what the worker does as it starts
    assert corpus.search("Orion satellite", 1)[0].url == "local://deck.pptx#slide=2"
    assert sum(corpus.converters.calls.values()) == 6
