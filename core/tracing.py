"""Traces from a click in Slack to the report: OpenTelemetry, exported over OTLP/HTTP only when asked for.

The standard variables decide (docs/operations.md#traces): ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``..._TRACES_ENDPOINT``) or ``OTEL_TRACES_EXPORTER=otlp`` turn the exporter on; ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS`` and the rest work as
the OpenTelemetry SDK documents them. With none set there is no provider, no exporter and no Temporal
interceptor: :func:`span` and :func:`annotate` cost a no-op call.

The provider is this module's, not OpenTelemetry's process-wide one (which can be set only once), so a test
can read the spans of one run from an in-memory exporter (:func:`use`) and leave nothing behind.

Attributes never carry a question, a prompt, a model's answer, a search query or a page's text: only
counts, names, ids, statuses and sizes. Failures are recorded by their exception's type only, in our spans
and in Temporal's (its interceptor gets a tracer that drops the message: :class:`TypeOnlyTracer`), since an
exception's message or traceback may quote any of those.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AttributeValue
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.errors import ConfigError

__all__ = [
    "BOT_SERVICE",
    "ONE_PROCESS_SERVICE",
    "WORKER_SERVICE",
    "TypeOnlyTracer",
    "annotate",
    "configure",
    "event",
    "exporters",
    "interceptors",
    "shutdown",
    "span",
    "tracer",
    "use",
]

BOT_SERVICE = "researchbot-bot"
WORKER_SERVICE = "researchbot-worker"
ONE_PROCESS_SERVICE = "researchbot"  # `researchbot dev`, `ask`, `demo`: the bot and the worker in one process
TRACER_NAME = "researchbot"
HTTP_PROTOCOL = "http/protobuf"  # the one OTLP transport installed: no gRPC stack for the worker to carry

_provider: TracerProvider | None = None


def exporters() -> list[SpanExporter]:
    """The exporters the OTEL_* variables ask for: OTLP when an endpoint is set or OTEL_TRACES_EXPORTER names
    it, the console for ``console``; none when nothing is set, for ``none``, or with OTEL_SDK_DISABLED=true."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    named = {name.strip().lower() for name in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()}
    wanted = named or ({"otlp"} if endpoint else set())
    if "none" in wanted:
        return []
    if unknown := wanted - {"otlp", "console"}:
        raise ConfigError(f"OTEL_TRACES_EXPORTER={','.join(sorted(unknown))} is not offered: use otlp, console or none")
    found: list[SpanExporter] = []
    if "otlp" in wanted:
        found.append(_otlp_exporter())
    if "console" in wanted:
        found.append(ConsoleSpanExporter())
    return found


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol and protocol.strip() != HTTP_PROTOCOL:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not offered: ResearchBot exports OTLP over HTTP "
            f"({HTTP_PROTOCOL}, a collector's port 4318)"
        )
    # Imported here: a process that exports nothing does not load the exporter (nor requests).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout and compression from the OTEL_* variables


def _resource(service: str) -> Resource:
    """OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES' service.name if set, else ``service``."""
    detected = Resource.create()
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: service}))
    return detected


def configure(service: str) -> TracerProvider | None:
    """Set up tracing for this process as the OTEL_* variables ask; None (and nothing set up) when they do
    not. ``service`` is the service name unless OTEL_SERVICE_NAME gives one. Call before :func:`interceptors`
    is read, that is before the Temporal client connects (core/temporal.py)."""
    global _provider
    found = exporters()
    if not found:
        return None
    provider = TracerProvider(resource=_resource(service))  # OTEL_TRACES_SAMPLER is read here
    for exporter in found:
        provider.add_span_processor(BatchSpanProcessor(exporter))  # batched: a span costs no request of its own
    shutdown()
    _provider = provider
    return provider


def shutdown() -> None:
    """Send what is still batched and stop; the CLI calls this before it exits without interpreter teardown."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


@contextmanager
def use(provider: TracerProvider) -> Iterator[TracerProvider]:
    """Send this process's spans to ``provider`` for a while (a test's in-memory exporter), then as before.
    Temporal clients connected meanwhile keep the interceptor."""
    global _provider
    before, _provider = _provider, provider
    try:
        yield provider
    finally:
        _provider = before


def tracer() -> trace.Tracer:
    return _provider.get_tracer(TRACER_NAME) if _provider is not None else trace.NoOpTracer()


def interceptors() -> list[TracingInterceptor]:
    """Temporal's OpenTelemetry interceptor while tracing is on, for the client and so for the worker built
    on it: workflow starts, updates and signals carry the trace in their headers, and the worker's workflow
    and activity spans join it. None while tracing is off."""
    return [TracingInterceptor(TypeOnlyTracer(tracer()))] if _provider is not None else []


class TypeOnlySpan(trace.Span):
    """A span that records a failure by its exception's type: Temporal's interceptor sets a status of
    ``"Type: message"`` and records the exception with its traceback; neither reaches the exporter."""

    def __init__(self, inner: trace.Span) -> None:
        self._inner = inner

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, Status):
            status, description = status.status_code, status.description
        self._inner.set_status(Status(status, _type_only(description)) if status is StatusCode.ERROR else status)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._inner.add_event("exception", {"exception.type": type(exception).__name__}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        self._inner.end(end_time)

    def get_span_context(self) -> trace.SpanContext:
        return self._inner.get_span_context()

    def is_recording(self) -> bool:
        return self._inner.is_recording()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._inner.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self._inner.set_attributes(attributes)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self._inner.add_event(name, attributes, timestamp)

    def update_name(self, name: str) -> None:
        self._inner.update_name(name)


class TypeOnlyTracer(trace.Tracer):
    """The tracer Temporal's interceptor gets: its spans are :class:`TypeOnlySpan`."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        inner = self._inner.start_span(
            name, context, kind, attributes, links, start_time, record_exception=False, set_status_on_exception=False
        )
        return TypeOnlySpan(inner)

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        current = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(current, end_on_exit=end_on_exit, record_exception=False, set_status_on_exception=False):
            try:
                yield current
            except BaseException as error:
                if record_exception:
                    current.record_exception(error)
                if set_status_on_exception:
                    current.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise


def _type_only(description: str | None) -> str | None:
    """``"ValueError: what it said"`` → ``"ValueError"``."""
    return None if description is None else description.split(":", 1)[0].strip()[:80]


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, AttributeValue | None] | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
) -> Iterator[trace.Span]:
    """A child of the current span (a no-op one while tracing is off); attributes that are None are left out.
    An exception marks it failed with the exception's type."""
    # The type only, as Temporal's spans: an exception's message or traceback may quote what a span must not carry.
    with TypeOnlyTracer(tracer()).start_as_current_span(
        name, kind=kind, attributes=_present(attributes or {}), record_exception=False
    ) as current:
        yield current


def annotate(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (in an activity: its RunActivity span); None values are left out."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(_present(attributes))


def event(name: str, attributes: Mapping[str, AttributeValue | None]) -> None:
    """Record an event on the current span, such as a 429 and its Retry-After."""
    current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, _present(attributes))


def _present(attributes: Mapping[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    return {key: value for key, value in attributes.items() if value is not None}
