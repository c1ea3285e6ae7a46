"""DATABASE_URL, read once for every process that opens the database (the worker's archive, the bot's
look-up of run threads): SQLite files and PostgreSQL, with a message that says what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError

__all__ = ["SUPPORTED", "database_url_of"]

SUPPORTED = "use sqlite:///path/to/file.db or postgresql://user@host/db"


def database_url_of(database_url: str) -> URL:
    """The URL to connect with (PostgreSQL through psycopg 3); raises ConfigError for a bad one, and
    creates an SQLite file's folder."""
    try:
        url = sa.make_url(database_url.strip())
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL {_mask(database_url)!r} is not a database URL: {SUPPORTED}") from None
    shown = url.render_as_string(hide_password=True)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername not in ("sqlite", "sqlite+pysqlite"):
        raise ConfigError(f"DATABASE_URL {shown!r} is not supported: {SUPPORTED}")
    if url.database in (None, "", ":memory:"):
        raise ConfigError(
            f"DATABASE_URL {shown!r} is not a file, and the archive must outlive the worker: "
            "use sqlite:///path/to/file.db"
        )
    folder = Path(url.database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"DATABASE_URL {shown!r}: cannot create the folder {str(folder)!r} ({exc.strerror}); "
            "choose a path this process can write to"
        ) from None
    return url


def _mask(text: str) -> str:
    """Hide the password in a URL that SQLAlchemy could not parse."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", text.strip())
