"""Activity tests: a loopback web for the search providers and page reader, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

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
