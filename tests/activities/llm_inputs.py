"""A question with its sources and pages (one unread), shared by the LLM tests."""

from __future__ import annotations

from typing import Any

from workflows.activity_io import SynthesizeInput
from workflows.models import Page, Source

HI = [{"role": "user", "content": "hello there"}]
QUESTION = "What is Temporal and how do its workflows survive worker crashes?"
SOURCES = [
    Source(number=1, url="https://docs.example/temporal", title="Temporal docs"),
    Source(number=2, url="https://blog.example/durable", title="Durable execution"),
    Source(number=3, url="https://unread.example/", title="Could not be read"),
]
PAGES = [
    Page(
        url="https://docs.example/temporal",
        title="Temporal docs",
        text=(
            "Temporal is a durable execution platform that runs workflows reliably. "
            "It was created by the former Cadence team at Uber [7]. "
            "Workflows are written as ordinary code in Python, Go, Java or TypeScript. "
            "Pricing for Temporal Cloud is based on the actions a namespace consumes each month."
        ),
    ),
    Page(
        url="https://blog.example/durable",
        title="Durable execution",
        text=(
            "Temporal workflows survive worker crashes because every step is recorded in an "
            "event history.\nWhen a worker crashes, another worker replays the history and "
            "the workflow continues where it stopped. Retries of failed activities follow a "
            "retry policy, for example an exponential backoff."
        ),
    ),
    Page(url="https://unread.example/", title="Could not be read", ok=False, error="HTTP 403"),
]


def synth(**changes: Any) -> SynthesizeInput:
    """A draft request for QUESTION over SOURCES and PAGES, with ``changes`` applied."""
    values = {"question": QUESTION, "sources": SOURCES, "pages": PAGES} | changes
    return SynthesizeInput(**values)
