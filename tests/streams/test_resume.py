"""Following a record on PostgreSQL: a checkpoint's NOTIFY wakes a waiting follower at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from gateway.db.notify import Listener
from gateway.db.stamps import utcnow
from gateway.history.store import Ending
from tests.servers import UvicornProcess

Start = Callable[..., UvicornProcess]


async def test_a_checkpoint_on_postgresql_wakes_a_waiting_follower_at_once(
    make_gateway: Any, database_url: str
) -> None:
    gateway = await make_gateway()
    store = gateway.state["store"]
    listener: Listener = gateway.state["listener"]
    if store.kind != "postgresql":
        assert not listener.listening  # SQLite: followers poll
        assert await listener.wait(uuid.uuid4(), 0.05) is False
        return
    assert listener.listening
    record_id = uuid.uuid4()
    now = utcnow()
    await store.create(
        id=record_id, conversation_id=uuid.uuid4(), prompt="p", model="m", stream_format="sse",
        created_at=now, heartbeat_at=now,
    )  # fmt: skip
    waiting = asyncio.create_task(listener.wait(record_id, 5.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await store.checkpoint(record_id, "partial text")
    assert await waiting is True
    assert asyncio.get_running_loop().time() - started < 0.5
    finished = asyncio.create_task(listener.wait(record_id, 5.0))
    await asyncio.sleep(0.05)
    await store.finish(record_id, Ending("complete", "partial text and more"))
    assert await finished is True
