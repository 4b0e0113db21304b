"""The page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): type, stream,
see the answer, find it in history and in search, nothing stored can inject script, an
EventSource cut mid-answer resumes by itself without repeating or losing a character, the usage
chart shows the day's tokens, and the export button downloads the history."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from gateway.upstreams.providers.mock import mock_answer
from tests.conftest import IN_CI, wait_finished
from tests.servers import CuttingProxy, UvicornProcess

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
KEY = "page-operator-key-0123456789"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(reason=message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def open_page(browser: Browser, url: str, width: int = 1280, height: int = 900) -> Page:
    page = await browser.new_page(viewport={"width": width, "height": height})
    await page.goto(url + "/")
    await page.fill("#key", KEY)
    await page.dispatch_event("#key", "change")
    return page


async def ask(page: Page, prompt: str) -> None:
    await page.fill("#prompt", prompt)
    await page.click("#send")


async def test_type_stream_find_in_history_and_search(
    browser: Browser, uvicorn_gateway: Callable[..., UvicornProcess]
) -> None:
    server = uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0.01")
    page = await open_page(browser, server.url)
    prompt = "How do glaciers carve valleys"
    await ask(page, prompt)
    await page.wait_for_function("document.getElementById('status').textContent === 'done'", timeout=20_000)
    expected = mock_answer([{"role": "user", "content": prompt}])
    assert await page.text_content("#answer") == expected
    await page.wait_for_selector("#items li .prompt")
    assert await page.text_content("#items li .prompt") == prompt
    await page.fill("#query", "glaciers")
    await page.click("#search button[type=submit]")
    await page.wait_for_selector("#items li mark")
    assert (await page.text_content("#items li mark") or "").lower().startswith("glacier")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "page-laptop.png"), full_page=True)
    phone = await open_page(browser, server.url, width=390, height=844)
    await phone.wait_for_selector("#items li")
    await phone.screenshot(path=str(ARTIFACTS / "page-phone.png"), full_page=True)
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_stored_text_never_becomes_markup(
    browser: Browser, uvicorn_gateway: Callable[..., UvicornProcess]
) -> None:
    server = uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0")
    hostile = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> walrus &amp; <mark>x</mark>'
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(server.url + "/stream", json={"prompt": hostile}, headers={"x-api-key": KEY})
    page = await open_page(browser, server.url)
    await page.wait_for_selector("#items li .prompt")
    assert await page.text_content("#items li .prompt") == hostile
    await page.fill("#query", "walrus")
    await page.click("#search button[type=submit]")
    await page.wait_for_selector("#items li mark")
    assert await page.evaluate("window.pwned") is None
    assert await page.evaluate("document.querySelectorAll('#items img, #items script').length") == 0
    marks = await page.eval_on_selector_all("#items li mark", "nodes => nodes.map(n => n.textContent)")
    assert "walrus" in [m.lower() for m in marks]


async def test_event_source_resumes_by_itself_after_the_connection_drops(
    browser: Browser, uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    server = uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0.05")
    proxy = CuttingProxy(server.port)
    port = await proxy.start()
    try:
        page = await open_page(browser, f"http://127.0.0.1:{port}")
        await ask(page, "Explain how lighthouses warn ships at night")
        await page.wait_for_function("document.getElementById('answer').textContent.split(' ').length > 6")
        before = await page.text_content("#answer") or ""
        proxy.cut()  # the connection drops mid-answer
        await page.wait_for_function("document.getElementById('status').textContent === 'done'", timeout=30_000)
        shown = await page.text_content("#answer")
        async with httpx.AsyncClient() as client:
            record_id = (await client.get(server.url + "/history", headers={"x-api-key": KEY})).json()["items"][0]["id"]
        record = await wait_finished(database_url, record_id)
        assert record["status"] == "complete"
        assert shown == record["response"], "a character was repeated or lost across the reconnect"
        assert shown is not None and shown.startswith(before) and len(shown) > len(before)
        assert proxy.connections >= 3  # the page, the first stream, and EventSource's own reconnect
    finally:
        await proxy.stop()


async def test_the_usage_chart_shows_todays_tokens_and_the_export_button_downloads_the_history(
    browser: Browser, uvicorn_gateway: Callable[..., UvicornProcess], tmp_path: Path
) -> None:
    server = uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0")
    async with httpx.AsyncClient(timeout=30) as client:
        for prompt in ("Explain tides", "Explain glaciers"):
            await client.post(server.url + "/stream", json={"prompt": prompt}, headers={"x-api-key": KEY})
        used = (await client.get(server.url + "/usage", headers={"x-api-key": KEY})).json()["total"]
    page = await open_page(browser, server.url)
    await page.wait_for_function("document.querySelectorAll('#chart g').length === 30")
    bars = await page.eval_on_selector_all(
        "#chart g", "nodes => nodes.map(n => [n.dataset.day, Number(n.dataset.tokens)])"
    )
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert bars[-1] == [today, used["total_tokens"]] and used["total_tokens"] > 0
    assert all(tokens == 0 for _, tokens in bars[:-1])
    heights = await page.eval_on_selector_all(
        "#chart g:last-of-type rect", "nodes => nodes.map(n => n.getBBox().height)"
    )
    assert sum(heights) > 100  # the day's bar reaches the top of the chart: it is the largest
    assert (await page.text_content("#totals") or "").startswith("2 requests")
    async with page.expect_download() as downloading:
        await page.click("#export")
    download = await downloading.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename.endswith(f"-{today}.jsonl")
    exported = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [record["prompt"] for record in exported] == ["Explain tides", "Explain glaciers"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "page-usage.png"), full_page=True)
