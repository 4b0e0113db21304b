"""A record's last write: retried while the database refuses, then logged whole; never cut by a
single cancellation (a shutdown cancelling a stream as it writes its end)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest

from gateway.history.store import Ending
from gateway.streams import ending


class Finishes:
    """A store's `finish` that refuses `refusals` times, or waits until cancelled once."""

    def __init__(self, refusals: int = 0, hang_first: bool = False) -> None:
        self.refusals = refusals
        self.hang_first = hang_first
        self.written: list[Ending] = []
        self.calls = 0

    async def finish(self, record_id: uuid.UUID, ending: Ending) -> None:
        self.calls += 1
        if self.hang_first and self.calls == 1:
            await asyncio.Event().wait()
        if self.calls <= self.refusals:
            raise ConnectionError("the database went away")
        self.written.append(ending)


async def test_a_last_write_the_database_keeps_refusing_is_retried_then_logged_whole_at_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_wait)  # only write_ending sleeps here
    store: Any = Finishes(refusals=99)
    record_id = uuid.uuid4()
    with caplog.at_level(logging.ERROR, logger="gateway.exchange"):
        await ending.write_ending(store, record_id, Ending("complete", "the whole answer"))
    assert store.calls == ending.ENDING_ATTEMPTS and waits == [0.25, 0.5, 1.0]
    (logged,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(record_id) in logged.getMessage()
    record = logged.__dict__["record"]
    assert record["response"] == "the whole answer" and record["status"] == "complete"
    json.dumps(record)  # the log line can carry it (timestamps as text)


async def test_one_cancellation_does_not_cut_a_last_write() -> None:
    store: Any = Finishes(hang_first=True)
    writing = asyncio.ensure_future(ending.write_ending(store, uuid.uuid4(), Ending("error", "so far")))
    await asyncio.sleep(0)
    writing.cancel()
    await asyncio.wait_for(writing, 5)  # written again at once, and the task ends as if not cut
    assert [ending.response for ending in store.written] == ["so far"]
