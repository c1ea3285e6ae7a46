"""Each Slack write is a span under the activity's (core/tracing.py): its method, and a 429 with its Retry-After,
against the sandbox Slack's Web API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from activities.slack.writes import SlackWrites
from core import tracing
from sandbox import SlackApiServer


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracing.use(provider):
        yield spans
    provider.shutdown()


async def test_a_write_met_by_a_429_shows_the_refused_call_the_retry_after_and_the_call_that_went_through(
    slack: SlackApiServer, exporter: InMemorySpanExporter
) -> None:
    writes = SlackWrites({})
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    await client.conversations_join(channel="CRESEARCH")
    slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    post = lambda: client.chat_postMessage(channel="CRESEARCH", text="The plan: a secret question")  # noqa: E731
    with tracing.span("RunActivity:report_progress"):
        await writes.write("chat.postMessage", "CRESEARCH", post, waited=True)

    spans = exporter.get_finished_spans()
    [activity] = [s for s in spans if s.name == "RunActivity:report_progress"]
    calls = [s for s in spans if s.name == "slack chat.postMessage"]
    assert [s.parent.span_id for s in calls if s.parent] == [activity.context.span_id] * 2
    refused, sent = calls
    assert refused.attributes["http.response.status_code"] == 429 and refused.attributes["slack.error"] == "ratelimited"
    assert refused.status.status_code is StatusCode.ERROR and refused.status.description == "SlackApiError"
    assert (refused.attributes["slack.try"], sent.attributes["slack.try"]) == (1, 2)
    assert sent.status.status_code is not StatusCode.ERROR and "http.response.status_code" not in sent.attributes
    [limited] = activity.events
    assert limited.name == "slack.rate_limited" and limited.attributes["slack.method"] == "chat.postMessage"
    assert "slack.retry_after" in limited.attributes
    everything = [
        str(v) for s in spans for v in [*s.attributes.values(), *(a for e in s.events for a in e.attributes.values())]
    ]
    assert not any("secret question" in value for value in everything), "a message's text is never in a span"


async def test_a_call_answered_with_a_plain_text_500_is_a_failed_span_with_its_status(
    slack: SlackApiServer, exporter: InMemorySpanExporter
) -> None:
    writes = SlackWrites({})
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    await client.conversations_join(channel="CRESEARCH")
    slack.lose_response("chat.postMessage", how="error")  # Slack took it, then answered 500 in plain text
    with pytest.raises(SlackApiError):
        await writes.write(
            "chat.postMessage", "CRESEARCH", lambda: client.chat_postMessage(channel="CRESEARCH", text="x"), waited=True
        )
    [call] = [s for s in exporter.get_finished_spans() if s.name == "slack chat.postMessage"]
    assert call.attributes["http.response.status_code"] == 500 and call.attributes["slack.error"] == ""
    assert call.status.status_code is StatusCode.ERROR
