"""`researchbot bot` as a child process, as an operator runs it: its environment, its start, its health."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

__all__ = ["clean_env", "spawn_bot", "wait_until_healthy"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without ResearchBot's settings, an archive under ``tmp_path``, and ``extra``."""
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "PORT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db", **extra}


def spawn_bot(settings: dict[str, str], cwd: Path, output: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """`researchbot bot` as an operator runs it, its output (stdout and stderr together) to ``output``."""
    # The suite's few askers start many runs on one Temporal: no caps unless a test sets them.
    settings = {"RESEARCH_MAX_RUNS_IN_FLIGHT": "0", "RESEARCH_MAX_RUNS_PER_HOUR": "0", **settings}
    return subprocess.Popen(
        [sys.executable, "-m", "researchbot", "bot"],
        env=settings,
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


async def wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never answered /healthz")
