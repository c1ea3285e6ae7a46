"""A loopback OpenTelemetry collector: OTLP/HTTP trace requests (protobuf ``ExportTraceServiceRequest`` on
POST /v1/traces, as a collector's port 4318 takes them), kept for a test to read."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["Collector", "ReceivedSpan", "running_collector"]


class ReceivedSpan(NamedTuple):
    service: str
    name: str
    trace_id: int
    parent_span_id: int | None


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on loopback: POST /v1/traces with a protobuf body."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[tuple[str, str]]:
        """(service.name, span name) of every span received."""
        return [(span.service, span.name) for span in self.received()]

    def received(self) -> list[ReceivedSpan]:
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
                )
                for scope in resource_spans.scope_spans:
                    found += [
                        ReceivedSpan(
                            service,
                            span.name,
                            int.from_bytes(span.trace_id, "big"),
                            int.from_bytes(span.parent_span_id, "big") if span.parent_span_id else None,
                        )
                        for span in scope.spans
                    ]
        return found


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_error(415)
            return
        self.server.paths.append(self.path)
        self.server.requests.append(ExportTraceServiceRequest.FromString(body))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads what arrived
        pass


@contextmanager
def running_collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
