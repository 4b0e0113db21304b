"""A record's last write, which nothing may lose: retried, and logged whole when the database still
refuses it; and the end of a record whose answer never started (refused, or cut by a shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
import uuid

from gateway.history.store import Ending, Store
from gateway.upstreams.llm import ChunkStream

log = logging.getLogger("gateway.exchange")

SHUTDOWN_CUT = "the gateway is shutting down; the answer was cut short"
SHUTDOWN_UNANSWERED = "the gateway is shutting down; the answer had not started"
ENDING_ATTEMPTS = 4


def unstarted(started: float, error: str) -> Ending:
    """The end of a record whose stream never started (refused, or cut by a shutdown)."""
    return Ending(status="error", error=error, duration_ms=round((time.perf_counter() - started) * 1000, 3))


async def end_cut_before_answer(
    store: Store,
    insert: asyncio.Future[None],
    record_id: uuid.UUID,
    started: float,
    chunks: ChunkStream | None = None,
    error: str = SHUTDOWN_UNANSWERED,
) -> None:
    """A request a shutdown cancelled before its stream started: its upstream stream is closed and
    its record, once written, ends `error` (with nothing relayed, the client is told 503)."""
    if chunks is not None:
        with contextlib.suppress(Exception):
            await chunks.aclose()
    try:
        await insert
    except Exception:
        return  # never written (and logged as such)
    await write_ending(store, record_id, unstarted(started, error))


async def write_ending(store: Store, record_id: uuid.UUID, ending: Ending) -> None:
    """A record's last write, retried over about two seconds; if the database still refuses, the
    whole record goes to the log at ERROR, so nothing is lost silently. One cancellation does not
    cut it: a shutdown that cancels a stream as it writes its end has it written again at once
    (an UPDATE by id) before the lifespan closes the database."""
    delay = 0.25
    attempt = 1
    cut = False
    while True:
        try:
            if attempt > 1:
                await asyncio.sleep(delay)
                delay *= 2
            await store.finish(record_id, ending)
            return
        except asyncio.CancelledError:
            if cut:
                raise
            cut = True
        except Exception as exc:
            if attempt == ENDING_ATTEMPTS:
                record = {
                    name: (value.isoformat() if isinstance(value, dt.datetime) else value)
                    for name, value in dataclasses.asdict(ending).items()
                }
                log.error(
                    "could not write the end of record %s after %d attempts (%s); the record follows",
                    record_id,
                    attempt,
                    exc,
                    extra={"record_id": str(record_id), "record": record},
                )
                return
            attempt += 1
