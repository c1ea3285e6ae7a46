"""Activity tests: a loopback web for the search providers and page reader, an HTTP client, and
the PostgreSQL server on 127.0.0.1:5432 (a fresh schema for each test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest

from activities.store import ArchiveStore
from tests.fakes.search_servers import FakeWeb


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    """A loopback web: SearXNG, Tavily and Brave APIs, and pages to read."""
    with FakeWeb() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


POSTGRES_USERS = ("postgres", "root")


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    for user in POSTGRES_USERS:
        url = f"postgresql://{user}@127.0.0.1:5432/test"
        try:
            psycopg.connect(url, connect_timeout=3).close()
        except psycopg.OperationalError:
            continue
        return url
    pytest.skip(
        "PostgreSQL at 127.0.0.1:5432 was unreachable (database test, users "
        f"{', '.join(POSTGRES_USERS)}): the PostgreSQL archive tests did NOT run"
    )


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A fresh schema for each test, dropped afterwards."""
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_base_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_base_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_base_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/archive/runs.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[ArchiveStore]:
    store = ArchiveStore(database_url)
    store.migrate()
    yield store
    store.dispose()
