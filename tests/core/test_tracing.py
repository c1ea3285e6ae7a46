"""Tracing is set up only when the standard OTEL_* variables ask for it, and then exports over real OTLP/HTTP
to a loopback collector (the protobuf ``ExportTraceServiceRequest`` a collector's port 4318 takes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from temporalio.exceptions import ApplicationError

from core import tracing
from core.errors import ConfigError
from tests.support.otlp import Collector, running_collector

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
)


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as server:
        yield server


@pytest.fixture(autouse=True)
def no_otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no OTEL_* set (as CI has none) and leaves tracing off."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
    tracing.shutdown()


def test_with_no_otel_variables_nothing_is_set_up() -> None:
    assert tracing.exporters() == []
    assert tracing.configure(tracing.WORKER_SERVICE) is None
    assert tracing.interceptors() == [], "no Temporal interceptor: runs carry no trace headers"
    with tracing.span("nothing") as span:
        assert not span.is_recording()


@pytest.mark.parametrize(
    "variables",
    [
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
    ],
)
def test_tracing_switched_off_explicitly_sets_nothing_up(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert tracing.configure(tracing.BOT_SERVICE) is None
    assert tracing.interceptors() == []


def test_an_endpoint_exports_the_spans_to_the_collector_under_the_service_name(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    provider = tracing.configure(tracing.WORKER_SERVICE)
    assert provider is not None and len(tracing.interceptors()) == 1
    with tracing.span("outer", {"a.count": 3, "left.out": None}), tracing.span("inner"):
        tracing.annotate({"b.size": 10})
    tracing.shutdown()  # sends what is batched, as the CLI does before it exits
    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    assert sorted(collector.spans()) == [("researchbot-worker", "inner"), ("researchbot-worker", "outer")]
    assert tracing.interceptors() == [], "off again once shut down"


def test_otel_service_name_overrides_the_default(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.endpoint}/v1/traces")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "research-bot-eu")
    tracing.configure(tracing.BOT_SERVICE)
    with tracing.span("request"):
        pass
    tracing.shutdown()
    assert collector.spans() == [("research-bot-eu", "request")]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "otlp, console or none"),
    ],
)
def test_an_exporter_not_offered_is_refused_naming_the_setting(
    name: str, value: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as refused:
        tracing.configure(tracing.WORKER_SERVICE)
    assert named in str(refused.value)


def test_temporals_spans_record_a_failure_by_its_type_only() -> None:
    """Temporal's interceptor sets ``"Type: message"`` as the status and records the exception with its
    traceback; the message may quote a question, so neither is exported."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    secret = "what is in the merger memo"
    with tracing.use(provider):
        [interceptor] = tracing.interceptors()

        def activity_fails() -> None:  # as the interceptor wraps an activity that raises
            with interceptor.tracer.start_as_current_span("RunActivity:x") as span:
                span.set_status(Status(StatusCode.ERROR, f"ValueError: {secret}"))
                raise ValueError(secret)

        with pytest.raises(ValueError):
            activity_fails()
        completed = interceptor.tracer.start_span("CompleteWorkflow:y")
        completed.record_exception(ApplicationError(secret))
        completed.set_status(StatusCode.ERROR, f"ApplicationError: {secret}")
        completed.end()
    exported = spans.get_finished_spans()
    assert [s.status.description for s in exported] == ["ValueError", "ApplicationError"]
    assert [e.attributes["exception.type"] for s in exported for e in s.events] == ["ValueError", "ApplicationError"]
    assert secret not in str([s.to_json() for s in exported])
