"""An OTLP/HTTP trace receiver on 127.0.0.1 that decodes the protobuf (opentelemetry-proto) and
keeps every request's headers and spans, so tests check what a collector (or Datadog) receives.

    rx = OTLPReceiver().start()        # rx.endpoint == "http://127.0.0.1:<port>/v1/traces"
    ...
    rx.wait_for(lambda spans: any(s.name.startswith("chat") for s in spans), timeout=10)
    rx.stop()
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def any_value(v: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict
    resource: dict
    scope: str
    start_ns: int
    end_ns: int
    status_code: int
    events: list = field(default_factory=list)


class OTLPReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, status: int = 200):
        self.requests: list[dict] = []  # {"headers": {...}, "path": ..., "spans": n}
        self.spans: list[ReceivedSpan] = []
        self.status = status
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1/traces"

    def start(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(list(self.spans)):
                    return True
            time.sleep(0.05)
        return False

    def _handler(self):
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                enc = (self.headers.get("Content-Encoding") or "").lower()
                if enc == "gzip":
                    body = gzip.decompress(body)
                elif enc == "deflate":
                    body = zlib.decompress(body)
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                spans = []
                for rs in req.resource_spans:
                    resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            spans.append(ReceivedSpan(
                                name=s.name, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                                parent_span_id=s.parent_span_id.hex(),
                                attributes={kv.key: any_value(kv.value) for kv in s.attributes},
                                resource=resource, scope=ss.scope.name, start_ns=s.start_time_unix_nano,
                                end_ns=s.end_time_unix_nano, status_code=s.status.code,
                                events=[e.name for e in s.events],
                            ))
                with rx._lock:
                    rx.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "content_type": self.headers.get("Content-Type"),
                        "spans": len(spans),
                        "body": body,  # the decompressed protobuf, for byte-level checks
                    })
                    rx.spans.extend(spans)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(rx.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler
