"""GroupCommit: a lone write goes at once; writes that come meanwhile go together, in batches of
at most MAX_BATCH, one batch for each free slot; a failure reaches only its own caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.db.groupcommit import GroupCommit


async def test_a_lone_write_goes_at_once_and_its_failure_reaches_its_caller() -> None:
    calls: list[int] = []

    async def run(sql: str, batch: list[list[Any]]) -> None:
        calls.append(len(batch))
        if batch[0][0] == "bad":
            raise RuntimeError("refused")

    writer = GroupCommit("INSERT", run)
    await writer.write(["ok"])
    with pytest.raises(RuntimeError, match="refused"):
        await writer.write(["bad"])
    assert calls == [1, 1] and writer.in_flight == 0


def slow_first_writer() -> tuple[list[list[str]], asyncio.Event, GroupCommit]:
    """A GroupCommit whose first write waits for `release`; `batches` lists what each wrote."""
    batches: list[list[str]] = []
    release = asyncio.Event()

    async def run(sql: str, batch: list[list[Any]]) -> None:
        batches.append([args[0] for args in batch])
        if len(batches) == 1:
            await release.wait()

    return batches, release, GroupCommit("INSERT", run)


async def test_writes_that_wait_on_a_slow_one_go_together_after_it() -> None:
    batches, release, writer = slow_first_writer()
    first = asyncio.ensure_future(writer.write(["a"]))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(writer.write([name])) for name in "bcd"]
    await asyncio.sleep(0)
    assert batches == [["a"]] and not any(task.done() for task in rest)
    release.set()
    await asyncio.gather(first, *rest)
    assert batches == [["a"], ["b", "c", "d"]] and writer.in_flight == 0


async def test_a_queue_longer_than_a_batch_goes_in_parallel_batches_one_per_slot() -> None:
    batches: list[list[str]] = []
    release = asyncio.Event()

    async def run(sql: str, batch: list[list[Any]]) -> None:
        batches.append([args[0] for args in batch])
        await release.wait()

    writer = GroupCommit("UPDATE", run, slots=2)
    writer.MAX_BATCH = 2
    first = asyncio.ensure_future(writer.write(["a"]))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(writer.write(["b"]))  # one waiting: it waits for "a"
    await asyncio.sleep(0)
    assert batches == [["a"]]
    rest = [asyncio.ensure_future(writer.write([name])) for name in "cdef"]  # a whole batch waits: it goes
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert batches == [["a"], ["b", "c"]] and writer.in_flight == 2  # both slots busy; d, e, f wait
    release.set()
    await asyncio.gather(first, second, *rest)
    assert batches[2:] == [["d", "e"], ["f"]] and writer.in_flight == 0


async def test_writes_submitted_while_one_is_in_flight_are_plain_futures_that_join_its_batch() -> None:
    # A burst of 1,000 streams starts 1,000 inserts: none gets a task of its own, and each caller
    # resumes straight from its batch.
    batches, release, writer = slow_first_writer()
    first = writer.submit(["a"])  # nothing in flight: it goes alone, in a task
    tasks = len(asyncio.all_tasks())
    rest = [writer.submit([name]) for name in "bcd"]  # before that task has even run
    assert len(asyncio.all_tasks()) == tasks and not any(isinstance(f, asyncio.Task) for f in rest)
    await asyncio.sleep(0)
    assert batches == [["a"]] and not any(f.done() for f in rest)
    release.set()
    await asyncio.gather(first, *rest)
    assert batches == [["a"], ["b", "c", "d"]] and writer.in_flight == 0
