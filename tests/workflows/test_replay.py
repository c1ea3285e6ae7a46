"""Replays committed histories through today's workflow code: a non-deterministic change fails here.

``histories/`` holds today's scenarios (re-recorded after a deliberate change); each ``histories/before-*/``
keeps those recorded before a change (the run state as one model; essential posts and the refused-signal
notice; verified citations and the research loop; the evidence archive and the budget that degrades;
claims judged by meaning; a schedule's run before it showed what changed; behind ``workflow.patched``),
standing for runs still in flight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.models import SlackContext
from workflows.ratings import RatingWorkflow
from workflows.research import ResearchWorkflow

HISTORY_DIR = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORY_DIR.rglob("*.json"))


def test_histories_are_committed() -> None:
    assert len(list(HISTORY_DIR.glob("*.json"))) >= 18, "record them with: python -m tests.workflows.record_histories"
    assert len(list(HISTORY_DIR.glob("before-run-state/*.json"))) == 4
    assert len(list(HISTORY_DIR.glob("before-essential-posts/*.json"))) == 6
    assert len(list(HISTORY_DIR.glob("before-verified-citations/*.json"))) == 8
    assert len(list(HISTORY_DIR.glob("before-research-loop/*.json"))) == 10
    assert len(list(HISTORY_DIR.glob("before-evidence-and-budget/*.json"))) == 11
    assert len(list(HISTORY_DIR.glob("before-claims-by-meaning/*.json"))) == 6
    assert len(list(HISTORY_DIR.glob("before-what-changed/*.json"))) == 1


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(HISTORY_DIR)) for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[ResearchWorkflow, RatingWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


def test_an_older_runs_input_loads_without_its_response_url() -> None:
    """Runs started before the response_url left the input (core/response_urls.py) carry one in their
    history: it still loads, and the URL is dropped rather than passed on to the activities."""
    converter = pydantic_data_converter.payload_converter
    older = {"channel_id": "C1", "user_id": "U1", "response_url": "https://hooks.slack.com/commands/T1/1/a"}
    [loaded] = converter.from_payloads(converter.to_payloads([older]), [SlackContext])
    assert loaded == SlackContext(channel_id="C1", user_id="U1")
    assert "response_url" not in loaded.model_dump()
