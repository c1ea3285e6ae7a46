"""A folder of Markdown, text and HTML files, searchable offline with SQLite FTS5 and BM25.

This is what the bot searches when no web search provider is configured (and what the
tests search), so it needs nothing beyond the standard library and trafilatura.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading
from pathlib import Path, PurePosixPath

import trafilatura

from workflows.models import SearchHit

__all__ = ["LOCAL_SCHEME", "CorpusReadError", "LocalCorpus", "extract_html", "fts_query"]

LOCAL_SCHEME = "local://"
SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
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
# bm25() weights per column (url, title, body): a title hit counts more than a body hit.
_BM25 = "bm25(docs, 0.0, 5.0, 1.0)"


class CorpusReadError(ValueError):
    """A local:// URL that is outside the corpus, missing, or not a document type we index."""


def extract_html(markup: str) -> tuple[str, str]:
    """(title, main text) of an HTML document; either may be empty."""
    match = _HTML_TITLE.search(markup)
    title = " ".join(html.unescape(match.group(1)).split()) if match else ""
    text = trafilatura.extract(markup, include_comments=False, include_tables=True) or ""
    return title, text.strip()


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every term quoted (so no operator or quote in
    user input is ever parsed as syntax), joined with OR so partial matches still rank."""
    terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(text)))
    meaningful = [t for t in terms if t not in _STOPWORDS] or terms
    return " OR ".join(f'"{t}"' for t in meaningful[:MAX_QUERY_TERMS])


class LocalCorpus:
    """An in-memory FTS5 index over `corpus_dir`, built on first use and shared across threads."""

    def __init__(self, corpus_dir: Path) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def search(self, query: str, limit: int) -> list[SearchHit]:
        match = fts_query(query)
        if not match or limit <= 0:
            return []
        sql = (
            f"SELECT url, title, snippet(docs, 2, '', '', '…', 32), {_BM25} AS rank "
            "FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?"
        )
        db = self._connection()
        with self._lock:  # one connection, many worker threads: take turns
            rows = db.execute(sql, (match, limit)).fetchall()
        return [
            # bm25() is lower-is-better; flip it so a bigger score means a better hit.
            SearchHit(url=url, title=title, snippet=" ".join(snip.split()), provider="local", score=round(-rank, 6))
            for url, title, snip, rank in rows
        ]

    def read(self, url: str) -> tuple[str, str]:
        """(title, text) of the document behind a local:// URL."""
        return self._load(self._resolve(url))

    def url_for(self, path: Path) -> str:
        return LOCAL_SCHEME + path.resolve().relative_to(self.corpus_dir).as_posix()

    # ------------------------------------------------------------------ internals

    def _resolve(self, url: str) -> Path:
        if not url.startswith(LOCAL_SCHEME):
            raise CorpusReadError(f"{url!r} is not a {LOCAL_SCHEME} URL")
        relative = PurePosixPath(url[len(LOCAL_SCHEME) :])
        # Refuse "..", absolute paths and symlinks leading out of the corpus.
        path = (self.corpus_dir / relative).resolve()
        if relative.is_absolute() or ".." in relative.parts or not path.is_relative_to(self.corpus_dir):
            raise CorpusReadError(f"{url!r} points outside the local corpus")
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            raise CorpusReadError(f"{url!r} is not a document in the local corpus")
        return path

    def _load(self, path: Path) -> tuple[str, str]:
        raw = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() in {".html", ".htm"}:
            title, text = extract_html(raw)
        else:
            heading = _MD_HEADING.search(raw)
            title, text = (heading.group(1).strip() if heading else ""), raw.strip()
        return title or path.name, text

    def _connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._db is None:
                self._db = self._build()
            return self._db

    def _build(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(url UNINDEXED, title, body, tokenize='porter unicode61')")
        files = (p for p in sorted(self.corpus_dir.rglob("*")) if p.suffix.lower() in SUFFIXES)
        rows = []
        for path in files:
            if not path.is_file() or not path.resolve().is_relative_to(self.corpus_dir):
                continue
            title, text = self._load(path)
            rows.append((self.url_for(path), title, text))
        db.executemany("INSERT INTO docs (url, title, body) VALUES (?, ?, ?)", rows)
        db.commit()
        return db
