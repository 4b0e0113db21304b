import asyncio

from gateway.llm import Completion, estimate_tokens
from gateway.mock import MockLLM, mock_answer


def completion(prompt: str, **kwargs: object) -> Completion:
    return Completion(messages=[{"role": "user", "content": prompt}], model="m", **kwargs)  # type: ignore[arg-type]


async def collect(llm: MockLLM, request: Completion) -> list[object]:
    stream = await llm.open(request)
    return [chunk async for chunk in stream]


def test_mock_answer_is_deterministic_plausible_and_multi_sentence() -> None:
    messages = [{"role": "user", "content": "How do B-tree indexes work?"}]
    answer = mock_answer(messages)
    assert answer == mock_answer(list(messages))
    assert answer.count(".") >= 3
    assert "B-tree indexes" in answer
    assert "mock response" not in answer.lower()
    assert mock_answer([{"role": "user", "content": "Something else"}]) != answer


async def test_mock_streams_word_by_word_then_finish_then_usage() -> None:
    chunks = await collect(MockLLM(delay=0), completion("Tell me about caching"))
    texts = [c.text for c in chunks if c.text]  # type: ignore[attr-defined]
    assert len(texts) > 10
    assert all(len(t.split()) == 1 for t in texts)
    assert "".join(texts) == mock_answer([{"role": "user", "content": "Tell me about caching"}])
    assert chunks[-2].finish_reason == "stop"  # type: ignore[attr-defined]
    usage = chunks[-1].usage  # type: ignore[attr-defined]
    assert usage.completion_tokens == len(texts)
    assert usage.prompt_tokens > 0 and not usage.estimated


async def test_mock_honours_max_tokens_with_finish_reason_length() -> None:
    chunks = await collect(MockLLM(delay=0), completion("Tell me about caching", max_tokens=3))
    assert len([c for c in chunks if c.text]) == 3  # type: ignore[attr-defined]
    assert chunks[-2].finish_reason == "length"  # type: ignore[attr-defined]


async def test_mock_can_be_closed_early() -> None:
    stream = await MockLLM(delay=0.01).open(completion("Tell me about caching"))
    iterator = aiter(stream)
    first = await anext(iterator)
    assert first.text
    await stream.aclose()
    assert [c async for c in iterator] == []


async def test_mock_waits_its_delay_between_words() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks = await collect(MockLLM(delay=0.01), completion("hi", max_tokens=5))
    assert loop.time() - started >= 0.05
    assert len(chunks) == 7


def test_estimate_tokens_is_about_four_characters_a_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_a_greeting_gets_a_greeting() -> None:
    answer = mock_answer([{"role": "user", "content": "Hello there"}])
    assert answer.startswith(("Hello!", "Hi there!"))
    assert answer.endswith("?") and answer.count(".") >= 2
