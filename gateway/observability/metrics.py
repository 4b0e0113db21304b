"""Prometheus metrics, and the text that GET /metrics serves.

One uvicorn worker per process (one per dyno) is the intended deployment, and then the default
registry is the whole truth. With several workers in one container, set
PROMETHEUS_MULTIPROC_DIR to an empty directory: every worker writes its samples there and
/metrics merges them (prometheus-client's multiprocess mode; the active-streams gauge is summed
over live processes).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# The methods the request counter names; any other is counted as "other" (a client's made-up
# method would otherwise start a new series for each).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "gateway_requests_total", "Requests by route template, method and status", ["route", "method", "status"]
)
STREAMS = Counter(
    "gateway_streams_total",
    "Streams by outcome: complete, cancelled_before_first_token, cancelled_after_first_token, error",
    ["outcome", "format"],
)
TTFT = Histogram(
    "gateway_time_to_first_token_seconds",
    "From the request's arrival to the first token sent",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
DURATION = Histogram(
    "gateway_stream_duration_seconds",
    "From the request's arrival to the stream's end",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
GAP = Histogram(
    "gateway_inter_chunk_gap_seconds",
    "Time between consecutive chunks relayed to a client",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15),
)
UPSTREAM_ATTEMPTS = Counter(
    "gateway_upstream_attempts_total", "Requests sent upstream, by upstream and result", ["upstream", "result"]
)
COOLING = Gauge("gateway_upstreams_cooling", "Upstreams cooling down now", multiprocess_mode="livemax")
UPSTREAM_RETRIES = Counter("gateway_upstream_retries_total", "Upstream attempts that were retried")
ACTIVE = Gauge("gateway_active_streams", "Streams being relayed now", multiprocess_mode="livesum")
TOKENS = Counter("gateway_tokens_total", "Tokens, as the upstream reported or as estimated", ["direction"])


@functools.lru_cache(maxsize=4096)
def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once: labels() checks the values and takes a lock on
    every call, five times a stream. The label values are bounded (routes, methods, statuses,
    outcomes, formats, error types), and so is the cache."""
    return metric.labels(*values)


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def process_ended() -> None:
    """With several workers, this one's live gauges (active streams, cooling upstreams) leave the
    sums as it exits, rather than when another process of the same pid comes."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
