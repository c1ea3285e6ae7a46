"""The corpus's persistent full-text index: one SQLite file with a row per file and an FTS5 table of parts.

A refresh stats every file. One whose size and modification time match its row is not read at all; one
whose bytes still hash the same is not converted again; a new or changed one is converted and its parts
replaced; a removed one is dropped. So a worker that refreshes every minute reads only what changed.
Several processes may share the file (a worker, `researchbot index`): SQLite's WAL mode lets them read
while one writes, and each file's change is one transaction.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from activities.search.documents import SUFFIXES, Converters, Unreadable

__all__ = ["CorpusIndex", "FileRow", "Progress", "RefreshReport", "Skipped", "default_index_path"]

log = structlog.get_logger(__name__)

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS parts (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, locator TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
    UNIQUE (path, locator)
);
CREATE VIRTUAL TABLE IF NOT EXISTS parts_fts USING fts5(
    title, body, content='parts', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS parts_added AFTER INSERT ON parts BEGIN
    INSERT INTO parts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS parts_dropped AFTER DELETE ON parts BEGIN
    INSERT INTO parts_fts (parts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
"""
_TABLES = ("parts_fts", "parts", "files", "meta")
# bm25() weights per column (title, body): a title hit counts more than a body hit.
_BM25 = "bm25(parts_fts, 5.0, 1.0)"
INDEXED, SKIPPED = "indexed", "skipped"

Progress = Callable[[int, int, str], None]  # (files done, files in all, the file now) for a progress bar


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str
    new: bool  # examined in this refresh (False: skipped before and unchanged since)


@dataclass
class RefreshReport:
    """What one refresh changed, by path relative to the corpus."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class FileRow:
    size: int
    mtime_ns: int
    sha256: str
    status: str
    reason: str


class CorpusIndex:
    """The index of one corpus folder, in ``db_path`` (None: in memory, gone with the process)."""

    def __init__(self, corpus_dir: Path, db_path: Path | None, converters: Converters | None = None) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        self.converters = converters or Converters()
        self._lock = threading.RLock()  # one connection, many threads: take turns
        self._refreshing = threading.Lock()  # one refresh at a time in this process
        self._db = _open(db_path)
        self._prepare()

    # ------------------------------------------------------------------ reading

    def search(self, match: str, limit: int) -> list[tuple[str, str, str, str, float]]:
        """(path, locator, title, snippet, bm25 rank) of the best parts for an FTS5 ``match``."""
        sql = (
            f"SELECT p.path, p.locator, p.title, snippet(parts_fts, 1, '', '', '…', 32), {_BM25} AS rank "
            "FROM parts_fts JOIN parts AS p ON p.id = parts_fts.rowid WHERE parts_fts MATCH ? ORDER BY rank LIMIT ?"
        )
        with self._lock:
            return self._db.execute(sql, (match, limit)).fetchall()

    def part(self, path: str, locator: str) -> tuple[str, str] | None:
        """(title, text) of one part, if indexed."""
        with self._lock:
            row = self._db.execute(
                "SELECT title, body FROM parts WHERE path = ? AND locator = ?", (path, locator)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def file(self, path: str) -> FileRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT size, mtime_ns, sha256, status, reason FROM files WHERE path = ?", (path,)
            ).fetchone()
        return FileRow(*row) if row else None

    def has_been_refreshed(self) -> bool:
        """True once a whole refresh has finished, in this process or an earlier one."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM meta WHERE key = 'refreshed'").fetchone() is not None

    # ------------------------------------------------------------------ refreshing

    def refresh(self, progress: Progress | None = None) -> RefreshReport:
        """Bring the index in line with the folder; never raises for a bad file (it is skipped)."""
        with self._refreshing:
            report = RefreshReport()
            found = self._scan()
            with self._lock:
                known = {row[0] for row in self._db.execute("SELECT path FROM files")}
            for done, (relative, path) in enumerate(found.items()):
                if progress is not None:
                    progress(done, len(found), relative)
                self._refresh_one(relative, path, report)
            for relative in sorted(known - found.keys()):
                with self._writing() as db:
                    db.execute("DELETE FROM parts WHERE path = ?", (relative,))
                    db.execute("DELETE FROM files WHERE path = ?", (relative,))
                report.removed.append(relative)
            with self._writing() as db:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('refreshed', '1')")
            if progress is not None:
                progress(len(found), len(found), "")
            return report

    def refresh_file(self, relative: str, path: Path) -> None:
        """Re-index one file now if it changed (a read of a part must not wait for the next refresh). Not
        behind the refresh's lock, so a read never waits for a whole folder: both would write the same rows."""
        self._refresh_one(relative, path, RefreshReport())

    def _scan(self) -> dict[str, Path]:
        """The files the corpus indexes, by relative path; a symlink out of the folder is left out."""
        found: dict[str, Path] = {}
        for path in sorted(self.corpus_dir.rglob("*")):
            # "~$deck.pptx" is the lock file Office leaves beside an open document, not a document.
            if path.suffix.lower() not in SUFFIXES or path.name.startswith("~$"):
                continue
            if not path.is_file() or not path.resolve().is_relative_to(self.corpus_dir):
                continue
            found[path.relative_to(self.corpus_dir).as_posix()] = path
        return found

    def _refresh_one(self, relative: str, path: Path, report: RefreshReport) -> None:
        try:
            stat = path.stat()
        except OSError:
            return  # gone since the scan: the next refresh drops it
        row = self.file(relative)
        if row is not None and (row.size, row.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            self._count_unchanged(relative, row, report)
            return
        digest = _sha256(path) if stat.st_size <= self.converters.limits.max_file_bytes else ""
        if row is not None and digest and row.sha256 == digest:  # touched, not changed: keep its parts
            with self._writing() as db:
                db.execute(
                    "UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?", (stat.st_mtime_ns, stat.st_size, relative)
                )
            self._count_unchanged(relative, row, report)
            return
        try:
            parts = self.converters.parts(path, stat.st_size)
            status, reason = INDEXED, ""
        except Unreadable as exc:
            parts, status, reason = [], SKIPPED, str(exc)
        except OSError as exc:
            parts, status, reason = [], SKIPPED, f"cannot read the file: {exc.strerror or exc}"
        with self._writing() as db:
            db.execute("DELETE FROM parts WHERE path = ?", (relative,))
            db.executemany(
                "INSERT INTO parts (path, locator, title, body) VALUES (?, ?, ?, ?)",
                [(relative, part.locator, part.title, part.text) for part in parts],
            )
            db.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256, status, reason) VALUES (?, ?, ?, ?, ?, ?)",
                (relative, stat.st_size, stat.st_mtime_ns, digest, status, reason),
            )
        if status == SKIPPED:
            log.warning("corpus_file_skipped", path=relative, reason=reason)
            report.skipped.append(Skipped(relative, reason, new=True))
        elif row is None:
            report.added.append(relative)
        else:
            report.changed.append(relative)

    @staticmethod
    def _count_unchanged(relative: str, row: FileRow, report: RefreshReport) -> None:
        if row.status == SKIPPED:
            report.skipped.append(Skipped(relative, row.reason, new=False))
        else:
            report.unchanged += 1

    # ------------------------------------------------------------------ the database

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:  # one transaction: committed, or rolled back on an error
            yield self._db

    def _prepare(self) -> None:
        """Create the tables; start afresh if the file holds another folder's index or an older schema."""
        with self._writing() as db:
            db.executescript("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            expected = {"schema": SCHEMA_VERSION, "corpus_dir": str(self.corpus_dir)}
            if any(meta.get(key) != value for key, value in expected.items()):
                if meta:
                    log.info("corpus_index_rebuilt", corpus_dir=str(self.corpus_dir), was=meta.get("corpus_dir"))
                for table in _TABLES:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            db.executescript(_SCHEMA)
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", expected.items())


def _open(db_path: Path | None) -> sqlite3.Connection:
    """The index's connection; an index that cannot be written where asked is kept in memory, with a warning."""
    if db_path is not None:
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(db_path, check_same_thread=False, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")  # readers in other processes never wait for a refresh
            db.isolation_level = ""  # back to transactions that `with db:` commits
            return db
        except (OSError, sqlite3.Error) as exc:
            log.warning("corpus_index_in_memory", path=str(db_path), error=str(exc))
    return sqlite3.connect(":memory:", check_same_thread=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def default_index_path(corpus_dir: Path) -> Path:
    """.data/corpus-index/<folder>-<hash of its path>.sqlite in the working directory: beside the default
    archive, outside the corpus (which may be read-only), one file per folder so two never mix."""
    folder = Path(corpus_dir).resolve()
    tag = hashlib.sha256(os.fsencode(folder)).hexdigest()[:12]
    return Path(".data") / "corpus-index" / f"{folder.name or 'corpus'}-{tag}.sqlite"
