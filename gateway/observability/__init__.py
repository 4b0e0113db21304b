"""What the gateway tells its operators: one JSON log line a request (with its request id), the
Prometheus metrics, and OpenTelemetry traces (a server span a request, write spans).

May import: the top's leaves only.
Public: `logs`, `metrics`, `tracing` (their names without a leading underscore),
`request_spans.TracingMiddleware`.
"""
