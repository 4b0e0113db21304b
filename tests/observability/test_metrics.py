"""Prometheus metrics: requests, streams, tokens and time counted; made-up methods share one series."""

from __future__ import annotations

from tests.conftest import Gateway


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            if series.split("{")[0] == name and all(f'{k}="{v}"' in series for k, v in labels.items()):
                return float(value)
    return 0.0


async def test_made_up_methods_share_one_series(gateway: Gateway) -> None:
    # A client's own method names must not grow the request counter without bound.
    for method in ("BREW", "WHEN", "BREW"):
        assert (await gateway.request(method, "/nowhere")).status_code in (404, 405)
    text = (await gateway.get("/metrics")).text
    assert sample(text, "gateway_requests_total", route="unmatched", method="other", status="404") >= 3
    assert 'method="BREW"' not in text and 'method="WHEN"' not in text


async def test_metrics_count_requests_streams_tokens_and_time(gateway: Gateway) -> None:
    before = (await gateway.get("/metrics")).text
    await gateway.post("/stream?stream_format=sse", json={"prompt": "hi", "max_tokens": 3})
    await gateway.get("/history/not-a-uuid")
    response = await gateway.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text
    requests = "gateway_requests_total"
    assert sample(after, requests, route="/stream", method="POST", status="200") == (
        sample(before, requests, route="/stream", method="POST", status="200") + 1
    )
    assert sample(after, requests, route="/history/{record_id}", status="422") >= 1
    streams = "gateway_streams_total"
    assert sample(after, streams, outcome="complete", format="sse") == (
        sample(before, streams, outcome="complete", format="sse") + 1
    )
    assert sample(after, "gateway_time_to_first_token_seconds_count") > sample(
        before, "gateway_time_to_first_token_seconds_count"
    )
    assert (
        sample(after, "gateway_inter_chunk_gap_seconds_count")
        >= sample(before, "gateway_inter_chunk_gap_seconds_count") + 2
    )
    assert (
        sample(after, "gateway_tokens_total", direction="out")
        == sample(before, "gateway_tokens_total", direction="out") + 3
    )
    assert "gateway_stream_duration_seconds_bucket" in after
    # Counted twice in one process: the cached label children are the registry's own.
    await gateway.post("/stream?stream_format=sse", json={"prompt": "hi", "max_tokens": 3})
    again = (await gateway.get("/metrics")).text
    assert (
        sample(again, streams, outcome="complete", format="sse")
        == sample(after, streams, outcome="complete", format="sse") + 1
    )
    assert "gateway_active_streams" in after
    attempts = "gateway_upstream_attempts_total"
    assert (
        sample(again, attempts, result="ok", upstream="mock")
        == sample(after, attempts, result="ok", upstream="mock") + 1
    )
