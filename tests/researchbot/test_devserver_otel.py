"""The OTEL_* variables are ResearchBot's: the embedded Temporal server does not read them as its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from researchbot.devserver import embedded_temporal
from tests.support.ports import free_port


async def test_the_embedded_server_starts_whatever_otel_variables_ask_of_researchbot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Go server refuses `console` ("unsupported OTEL exporter") if it is handed the variable.
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    async with embedded_temporal(free_port(), free_port(), tmp_path / "temporal.db") as address:
        assert address.startswith("127.0.0.1:")
