"""The corpus folder's documents, searchable offline with SQLite FTS5 and BM25, and readable by URL.

This is what the bot searches when no web search provider is configured (and what the tests search).
Each file becomes one or more parts (activities/search/documents.py): a PDF page, a slide, a sheet, or
the whole file. A part's URL points into its file, ``local://handbook.pdf#page=12``,
``local://deck.pptx#slide=3``, ``local://book.xlsx#sheet=Budget``, so a citation says where the passage is.
The index lives in a SQLite file (activities/search/corpus_index.py) and is refreshed incrementally.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import unquote

import structlog

from activities.search.corpus_index import CorpusIndex, Progress, RefreshReport, default_index_path
from activities.search.documents import (
    SUFFIXES,
    Converters,
    DocumentLimits,
    extract_html,
    locator_kind,
    quote_sheet,
)
from core.settings import Settings
from workflows.models import SearchHit

__all__ = [
    "LOCAL_SCHEME",
    "CorpusReadError",
    "LocalCorpus",
    "LocalDocument",
    "build_corpus",
    "extract_html",
    "fts_query",
]

log = structlog.get_logger(__name__)

LOCAL_SCHEME = "local://"

_TERM = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every document; dropping them lets the meaningful terms rank.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
    ]
)
MAX_QUERY_TERMS = 32
_NUMBERED = {"page": re.compile(r"page=([0-9]{1,6})"), "slide": re.compile(r"slide=([0-9]{1,6})")}
_SHEET = re.compile(r"sheet=([^#]+)")


class CorpusReadError(ValueError):
    """A local:// URL that is outside the corpus, missing, or not a document (or part) we index."""


class LocalDocument(NamedTuple):
    """One part of a corpus file as read: its title and text, and the SHA-256 of the whole file."""

    title: str
    text: str
    file: str  # the path relative to the corpus
    file_sha256: str


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every term quoted (so no operator or quote in
    user input is ever parsed as syntax), joined with OR so partial matches still rank."""
    terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(text)))
    meaningful = [t for t in terms if t not in _STOPWORDS] or terms
    return " OR ".join(f'"{t}"' for t in meaningful[:MAX_QUERY_TERMS])


def _url_path(relative: str) -> str:
    """A relative path as a local:// URL's path: only "%" and "#" escaped, so the fragment is unambiguous."""
    return relative.replace("%", "%25").replace("#", "%23")


def _canonical_locator(url: str, fragment: str, suffix: str) -> str:
    """The fragment as the index stores it ("page=12"); refused unless it names a part this format has."""
    kind = locator_kind(suffix)
    if not kind:
        if fragment:
            raise CorpusReadError(f"{url!r}: a {suffix} file is one document, with no page, slide or sheet")
        return ""
    if kind == "sheet":
        match = _SHEET.fullmatch(fragment)
        name = unquote(match.group(1)) if match else ""
        if not name.strip():
            raise CorpusReadError(f"{url!r} names no sheet (…{suffix}#sheet=Name)")
        return f"sheet={quote_sheet(name)}"
    match = _NUMBERED[kind].fullmatch(fragment)
    if not match or int(match.group(1)) < 1:
        raise CorpusReadError(f"{url!r} names no {kind} (…{suffix}#{kind}=1)")
    return f"{kind}={int(match.group(1))}"


class LocalCorpus:
    """The index of `corpus_dir`, in `index_path` (None: in memory), shared across threads.

    The first search refreshes the index (and waits for it, unless an earlier process left one); after
    that a search older than `refresh_seconds` since the last refresh starts one in the background and
    answers from the index as it is."""

    def __init__(
        self,
        corpus_dir: Path,
        index_path: Path | None = None,
        *,
        converters: Converters | None = None,
        refresh_seconds: float = 60.0,
    ) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        self.index_path = index_path
        self.converters = converters or Converters()
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._index: CorpusIndex | None = None  # opened on first use: a corpus that is never searched costs nothing
        self._last_refresh: float | None = None  # time.monotonic() when the last refresh began
        self._background: threading.Thread | None = None
        self._first = threading.Lock()  # held while the first search waits for a refresh
        self._ready = False  # the index has been refreshed once, here or by an earlier process

    # ------------------------------------------------------------------ search and read

    def search(self, query: str, limit: int) -> list[SearchHit]:
        match = fts_query(query)
        if not match or limit <= 0:
            return []
        index = self._fresh_index()
        return [
            # bm25() is lower-is-better; flip it so a bigger score means a better hit.
            SearchHit(
                url=self.url_for(path, locator),
                title=title,
                snippet=" ".join(snip.split()),
                provider="local",
                score=round(-rank, 6),
            )
            for path, locator, title, snip, rank in index.search(match, limit)
        ]

    def read(self, url: str) -> tuple[str, str]:
        """(title, text) of the document, or the page, slide or sheet, behind a local:// URL."""
        found = self.read_part(url)
        return found.title, found.text

    def read_part(self, url: str) -> LocalDocument:
        """The part behind a local:// URL, from the index (the file re-indexed first if it changed)."""
        relative, locator, path = self._resolve(url)
        index = self._opened()
        row = index.file(relative)
        try:
            stat = path.stat()
        except OSError as exc:  # removed since _resolve looked
            raise CorpusReadError(f"{url!r} is not a document in the local corpus") from exc
        if row is None or (row.size, row.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            index.refresh_file(relative, path)
            row = index.file(relative)
        if row is None or row.status != "indexed":
            reason = row.reason if row is not None else "not indexed"
            raise CorpusReadError(f"{relative} is not in the corpus index: {reason}")
        part = index.part(relative, locator)
        if part is None:
            raise CorpusReadError(f"{url!r}: {relative} has no {locator.replace('=', ' ')} with text")
        return LocalDocument(part[0], part[1], relative, row.sha256)

    def url_for(self, relative: str | Path, locator: str = "") -> str:
        if isinstance(relative, Path):
            relative = relative.resolve().relative_to(self.corpus_dir).as_posix()
        return LOCAL_SCHEME + _url_path(relative) + (f"#{locator}" if locator else "")

    # ------------------------------------------------------------------ keeping the index fresh

    def refresh(self, progress: Progress | None = None) -> RefreshReport:
        """Bring the index in line with the folder now (what `researchbot index` runs)."""
        index = self._opened()
        self._last_refresh = time.monotonic()
        return index.refresh(progress)

    def start_refresh(self) -> None:
        """Refresh in a background thread, unless one is running (the worker's start, a stale search)."""
        with self._lock:
            if self._background is not None and self._background.is_alive():
                return
            self._last_refresh = time.monotonic()
            self._background = threading.Thread(target=self._refresh_quietly, name="corpus-refresh", daemon=True)
            self._background.start()

    def _refresh_quietly(self) -> None:
        try:
            report = self.refresh()
        except Exception:  # a background refresh must never take the worker down; the next one tries again
            log.exception("corpus_refresh_failed", corpus_dir=str(self.corpus_dir))
            return
        if report.added or report.changed or report.removed:
            log.info(
                "corpus_refreshed",
                added=len(report.added),
                changed=len(report.changed),
                removed=len(report.removed),
                skipped=len(report.skipped),
            )

    def _fresh_index(self) -> CorpusIndex:
        index = self._opened()
        if not self._ready:
            with self._first:  # one thread waits for the first refresh; the others wait for it to end
                background = self._background
                if background is not None:
                    background.join()  # the worker's start-up refresh: wait for it rather than scan twice
                if not index.has_been_refreshed():  # nothing to search yet, not even from an earlier process
                    self.refresh()
                self._ready = True
        last = self._last_refresh
        if last is None or time.monotonic() - last >= self._refresh_seconds:
            self.start_refresh()
        return index

    def _opened(self) -> CorpusIndex:
        with self._lock:
            if self._index is None:
                self._index = CorpusIndex(self.corpus_dir, self.index_path, self.converters)
            return self._index

    # ------------------------------------------------------------------ URLs

    def _resolve(self, url: str) -> tuple[str, str, Path]:
        """(relative path, canonical locator, file) behind a local:// URL, or CorpusReadError."""
        if not url.startswith(LOCAL_SCHEME):
            raise CorpusReadError(f"{url!r} is not a {LOCAL_SCHEME} URL")
        raw_path, _, fragment = url[len(LOCAL_SCHEME) :].partition("#")
        relative = PurePosixPath(unquote(raw_path))
        # Refuse "..", absolute paths and symlinks leading out of the corpus. The fragment is never a path.
        try:
            path = (self.corpus_dir / relative).resolve()
        except (OSError, ValueError) as exc:  # a NUL byte, a loop of symlinks
            raise CorpusReadError(f"{url!r} is not a document in the local corpus") from exc
        if relative.is_absolute() or ".." in relative.parts or not path.is_relative_to(self.corpus_dir):
            raise CorpusReadError(f"{url!r} points outside the local corpus")
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES or not path.is_file():
            raise CorpusReadError(f"{url!r} is not a document in the local corpus")
        return path.relative_to(self.corpus_dir).as_posix(), _canonical_locator(url, fragment, suffix), path


def build_corpus(settings: Settings) -> LocalCorpus:
    """The corpus as the settings describe it: its folder, its index file, its limits."""
    limits = DocumentLimits(
        max_file_bytes=settings.corpus_max_file_bytes,
        max_unzipped_bytes=settings.corpus_max_unzipped_bytes,
        max_zip_ratio=settings.corpus_max_zip_ratio,
    )
    return LocalCorpus(
        settings.research_corpus_dir,
        settings.research_index_path or default_index_path(settings.research_corpus_dir),
        converters=Converters(limits),
        refresh_seconds=settings.research_index_refresh_seconds,
    )
