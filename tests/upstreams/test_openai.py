"""The OpenAI client against respx: what it sends, retries and backoff, how each refusal maps to
the client's status, failures mid-stream, and reading the event stream as it arrives."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from gateway.errors import BadRequest, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import Chunk, Completion, StreamFailed
from gateway.upstreams.providers.openai import OpenAI
from gateway.upstreams.retries import retry_after_seconds
from gateway.upstreams.router import Router

BASE = "http://upstream.test/v1"
URL = f"{BASE}/chat/completions"


def sse_event(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None) -> bytes:
    event: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    event["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    event["usage"] = usage
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def good_stream(words: list[str], usage: bool = True) -> list[bytes]:
    parts = [sse_event({"role": "assistant", "content": ""})]
    parts += [sse_event({"content": word}) for word in words]
    parts.append(sse_event({}, finish="stop"))
    if usage:
        parts.append(sse_event(None, usage={"prompt_tokens": 9, "completion_tokens": len(words), "total_tokens": 0}))
    parts.append(b"data: [DONE]\n\n")
    return parts


def streamed(parts: list[bytes], error: Exception | None = None) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part
        if error is not None:
            raise error

    return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test",
        "openai_base_url": BASE,
        "openai_max_retries": 3,
        "openai_connect_deadline": 20.0,
    }
    values.update(overrides)
    return Settings(**values)


class Client(Router):
    """The real client on a respx router (its transport), as the gateway routes to it without a
    configuration file, with backoff sleeps recorded instead of waited."""

    def __init__(self, settings: Settings, router: respx.MockRouter) -> None:
        single = Router.single(OpenAI(settings, transport=httpx.MockTransport(router.async_handler)), settings)
        super().__init__(single.routing, single.upstreams, single.deadline)
        self.waits: list[float] = []

        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)

        self.failover.sleep = sleep


def completion(**kwargs: Any) -> Completion:
    values: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-x", "request_id": "req-1"}
    values.update(kwargs)
    return Completion(**values)


async def read_all(client: Router, request: Completion | None = None) -> list[Chunk]:
    stream = await client.open(request or completion())
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.aclose()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    # using=None: nothing is patched; each Client is handed the router as its transport.
    with respx.mock(assert_all_called=False, using=None) as router:
        yield router


async def test_streams_text_finish_and_usage(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed(good_stream(["Hello", " world"])))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "Hello world"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    [usage] = [c.usage for c in chunks if c.usage]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (9, 2, False)


async def test_sends_what_openai_expects(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=streamed(good_stream(["x"])))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second"},
    ]
    await read_all(
        Client(settings(), mock), completion(messages=messages, options={"temperature": 0.3, "max_tokens": 50})
    )
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["x-request-id"] == "req-1"
    assert json.loads(request.content) == {
        "model": "gpt-x",
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "max_tokens": 50,
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_retryable_statuses_are_retried_with_backoff(mock: respx.MockRouter, status: int) -> None:
    route = mock.post(URL)
    route.side_effect = [
        httpx.Response(status, json={"error": {"message": "busy"}}),
        httpx.Response(status, json={"error": {"message": "busy"}}),
        streamed(good_stream(["ok"])),
    ]
    client = Client(settings(), mock)
    chunks = await read_all(client)
    assert "".join(c.text for c in chunks) == "ok"
    assert route.call_count == 3
    assert len(client.waits) == 2
    assert 0 <= client.waits[0] <= 0.25 and 0 <= client.waits[1] <= 0.5


async def test_connection_errors_and_timeouts_before_the_answer_are_retried(mock: respx.MockRouter) -> None:
    route = mock.post(URL)
    route.side_effect = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), streamed(good_stream(["ok"]))]
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "ok"
    assert route.call_count == 3


async def test_a_broken_connection_is_retried_at_once_and_a_refused_one_with_backoff(mock: respx.MockRouter) -> None:
    # A connection that broke under the request is most often a kept-alive one the upstream closed
    # as it was reused, and a pool the upstream closed at once can hold several: no reason to wait.
    route = mock.post(URL)
    broken = [httpx.RemoteProtocolError("Server disconnected") for _ in range(3)]
    route.side_effect = [*broken, streamed(good_stream(["ok"]))]
    client = Client(settings(openai_max_retries=3), mock)
    assert "".join(c.text for c in await read_all(client)) == "ok"
    assert route.call_count == 4 and client.waits == []
    # (httpx-aiohttp reports a closed connection as ConnectTimeout: see the failure_kind test.)
    # A connection that could not be made (the upstream down or restarting) backs off every time.
    route.side_effect = [httpx.ConnectError("refused"), httpx.ConnectError("refused"), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert len(client.waits) == 2 and 0 <= client.waits[0] <= 0.25 and 0 <= client.waits[1] <= 0.5
    route.side_effect = [httpx.ReadTimeout("slow"), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert len(client.waits) == 1  # a timeout is not a closed connection: it backs off
    # Broken every time: it still gives up after the retries allowed.
    route.side_effect = [httpx.RemoteProtocolError("Server disconnected") for _ in range(3)]
    client = Client(settings(openai_max_retries=2), mock)
    with pytest.raises(UpstreamError):
        await read_all(client)
    assert client.waits == []


async def test_retry_after_seconds_is_honoured(mock: respx.MockRouter) -> None:
    route = mock.post(URL)
    route.side_effect = [httpx.Response(429, headers={"retry-after": "2"}), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert client.waits == [2.0]


async def test_retry_after_http_date_is_honoured(mock: respx.MockRouter) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    route = mock.post(URL)
    route.side_effect = [httpx.Response(503, headers={"retry-after": header}), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert 1.5 <= client.waits[0] <= 3.0


async def test_persistent_429_becomes_503_with_retry_after(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "1"}, json={}))
    client = Client(settings(openai_max_retries=2), mock)
    with pytest.raises(UpstreamBusy) as caught:
        await read_all(client)
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert route.call_count == 3


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "120"}, json={}))
    client = Client(settings(openai_connect_deadline=10), mock)
    with pytest.raises(UpstreamBusy) as caught:
        await read_all(client)
    assert route.call_count == 1 and client.waits == []
    assert caught.value.headers["Retry-After"] == "120"


async def test_persistent_5xx_and_connection_failure_become_502(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=httpx.Response(500, json={"error": {"message": "down"}}))
    with pytest.raises(UpstreamError) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 502 and "down" in caught.value.message
    mock.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamError) as refused:
        await read_all(Client(settings(), mock))
    assert refused.value.status == 502


async def test_a_timeout_before_the_answer_becomes_504(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(UpstreamTimeout) as caught:
        await read_all(Client(settings(openai_max_retries=1), mock))
    assert caught.value.status == 504


async def test_the_overall_deadline_becomes_504(mock: respx.MockRouter) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    mock.post(URL).mock(side_effect=slow)
    with pytest.raises(UpstreamTimeout):
        await asyncio.wait_for(read_all(Client(settings(openai_connect_deadline=0.2), mock)), timeout=3)


async def test_upstream_400_passes_its_message_without_retrying(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(
        return_value=httpx.Response(400, json={"error": {"message": "max_tokens is too large"}})
    )
    with pytest.raises(BadRequest) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 400 and "max_tokens is too large" in caught.value.message
    assert route.call_count == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_upstream_auth_failures_are_502_and_logged_loudly(
    mock: respx.MockRouter, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(status, json={"error": {"message": "bad key"}}))
    with caplog.at_level(logging.ERROR, logger="gateway.upstream"), pytest.raises(UpstreamError) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 502
    assert "credentials" in caught.value.message and "bad key" not in caught.value.message
    assert route.call_count == 1
    assert any("OPENAI_API_KEY" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ReadTimeout("silent"), "upstream_timeout"),
        (httpx.ReadError("reset"), "upstream_error"),
        (httpx.RemoteProtocolError("incomplete chunked read"), "upstream_error"),
    ],
)
async def test_failures_mid_stream_raise_stream_failed_after_the_partial_text(
    mock: respx.MockRouter, error: Exception, kind: str
) -> None:
    parts = good_stream(["one", " two", " three"])[:3]
    mock.post(URL).mock(return_value=streamed(parts, error))
    stream = await Client(settings(), mock).open(completion())
    texts = []
    with pytest.raises(StreamFailed) as caught:
        async for chunk in stream:
            texts.append(chunk.text)
    assert "".join(texts) == "one two"
    assert caught.value.type == kind


@pytest.mark.parametrize(
    ("line", "mentions"),
    [
        (b"this is not an event stream\n\n", "malformed"),
        (b"data: {not json\n\n", "not JSON"),
        (b'data: {"error": {"message": "overloaded"}}\n\n', "overloaded"),
    ],
)
async def test_bad_events_mid_stream_raise_stream_failed(mock: respx.MockRouter, line: bytes, mentions: str) -> None:
    mock.post(URL).mock(return_value=streamed([*good_stream(["one"])[:2], line]))
    with pytest.raises(StreamFailed) as caught:
        await read_all(Client(settings(), mock))
    assert mentions in caught.value.message


async def test_multibyte_characters_split_across_reads_are_reassembled(mock: respx.MockRouter) -> None:
    whole = b"".join(good_stream(["héllo", " 🙂", " 日本語"]))
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]  # cuts inside characters
    mock.post(URL).mock(return_value=streamed(pieces))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "héllo 🙂 日本語"


async def test_closing_the_stream_closes_the_response(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed(good_stream(["a"] * 100)))
    stream = await Client(settings(), mock).open(completion())
    first = await anext(aiter(stream))
    assert first.text == "a"
    await stream.aclose()
    assert stream.inner.response.is_closed  # type: ignore[attr-defined]


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2025 00:00:30 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


async def test_text_before_a_bad_line_in_the_same_read_is_still_relayed(mock: respx.MockRouter) -> None:
    together = b"".join([*good_stream(["one", " two"])[:3], b"data: {not json\n\n"])
    mock.post(URL).mock(return_value=streamed([together]))
    stream = await Client(settings(), mock).open(completion())
    texts = []
    with pytest.raises(StreamFailed):
        async for chunk in stream:
            texts.append(chunk.text)
    assert "".join(texts) == "one two"


async def test_events_that_arrive_together_are_relayed_as_one_chunk(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed([b"".join(good_stream(["a", "b", "c"]))]))
    chunks = await read_all(Client(settings(), mock))
    assert len(chunks) == 1
    assert chunks[0].text == "abc" and chunks[0].finish_reason == "stop" and chunks[0].usage is not None


async def test_an_upstream_that_compresses_anyway_is_decoded(mock: respx.MockRouter) -> None:
    # The gateway asks for `Accept-Encoding: identity` and reads the body as it comes; an upstream
    # (or a proxy before it) that gzips the stream all the same still gets its text relayed.
    body = gzip.compress(b"".join(good_stream(["zipped", " text"])))
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    route = mock.post(URL).mock(return_value=httpx.Response(200, content=body, headers=headers))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "zipped text"
    assert route.calls.last.request.headers["accept-encoding"] == "identity"


async def test_models_are_the_upstreams_read_once_a_minute_or_the_configured_one_without_a_route(
    mock: respx.MockRouter,
) -> None:
    listed = mock.get(f"{BASE}/models").mock(
        return_value=httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]})
    )
    client = Client(settings(), mock)
    assert await client.models() == ["a", "b"] and await client.models() == ["a", "b"]
    assert listed.call_count == 1
    mock.get(f"{BASE}/models").mock(return_value=httpx.Response(404, json={"error": {"message": "no route"}}))
    assert await Client(settings(openai_model="only-this"), mock).models() == ["only-this"]


async def test_a_whole_answer_is_the_upstreams_object_as_it_came_with_the_stream_fields_removed(
    mock: respx.MockRouter,
) -> None:
    answer = {"id": "x", "object": "chat.completion", "choices": [], "system_fingerprint": "fp"}
    route = mock.post(URL).mock(return_value=httpx.Response(200, json=answer))
    options = {"seed": 1, "stream_options": {"include_usage": True}}
    completed = await Client(settings(), mock).complete(completion(options=options))
    assert completed.body == answer and json.loads(completed.raw) == answer
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream"] is False and "stream_options" not in sent and sent["seed"] == 1


async def test_an_azure_deployment_is_asked_at_its_path_with_its_api_version_and_api_key_header() -> None:
    azure = Deployment("eu", "gpt-4o", "azure", "gpt4o-eu", "https://eu.openai.azure.com", "az-key", "2024-10-21")
    with respx.mock(assert_all_called=True) as router:
        chat = router.post("https://eu.openai.azure.com/openai/deployments/gpt4o-eu/chat/completions").mock(
            return_value=streamed(good_stream(["hi"]))
        )
        client = OpenAI(settings(), transport=httpx.MockTransport(router.async_handler), deployment=azure)
        stream = await client.open(Completion([{"role": "user", "content": "hi"}], "gpt4o-eu"))
        assert [chunk.text async for chunk in stream if chunk.text] == ["hi"]
        await stream.aclose()
    sent = chat.calls.last.request
    assert sent.url.params["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == "az-key" and "authorization" not in sent.headers
