"""Sending many job messages to Redis in one round trip.

Dramatiq has no bulk enqueue; its RedisBroker runs one Lua script per
message. We run the same script, with the same arguments, through one
pipeline, which is what lets the dispatcher keep up with thousands of jobs
per second.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from dramatiq.brokers.redis import (
    DEFAULT_DEAD_MESSAGE_TTL,
    DEFAULT_MAINTENANCE_CHANCE,
    MAINTENANCE_SCALE,
    _scripts,
)
from dramatiq.common import current_millis

from jobdesk.dispatch.broker import HEARTBEAT_TIMEOUT_MS, job_message

# Dramatiq's default; only matters for maintenance unpacking, which we never trigger here.
_MAX_UNPACK = 3000


@dataclass(frozen=True, slots=True)
class Outgoing:
    job_id: str
    job_type: str
    queue: str
    token: int


class Sender:
    def __init__(self, redis_url: str, namespace: str) -> None:
        self.client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=3)
        self.namespace = namespace
        self.script = self.client.register_script(_scripts["dispatch"])
        self.sender_id = str(uuid.uuid4())

    async def send(self, messages: Sequence[Outgoing], head: bool = False) -> None:
        """Enqueue in order; with `head`, ahead of everything queued (first stays first)."""
        if not messages:
            return
        if head:
            await self._send_to_head(messages)
            return
        pipe = self.client.pipeline(transaction=False)
        now = current_millis()
        for m in messages:
            msg = job_message(m.job_id, m.job_type, m.queue, m.token)
            maintenance = int(random.randint(1, MAINTENANCE_SCALE) <= DEFAULT_MAINTENANCE_CHANCE)
            await self.script(
                keys=[self.namespace],
                args=[
                    "enqueue",
                    now,
                    m.queue,
                    self.sender_id,
                    HEARTBEAT_TIMEOUT_MS,
                    DEFAULT_DEAD_MESSAGE_TTL,
                    maintenance,
                    _MAX_UNPACK,
                    msg.options["redis_message_id"],
                    msg.encode(),
                ],
                client=pipe,
            )
        await pipe.execute()

    async def _send_to_head(self, messages: Sequence[Outgoing]) -> None:
        # What the enqueue script does, with LPUSH for RPUSH: Dramatiq's fetch
        # pops from the left. Reversed, so the first message ends up first.
        pipe = self.client.pipeline(transaction=True)
        for m in reversed(messages):
            msg = job_message(m.job_id, m.job_type, m.queue, m.token)
            mid = msg.options["redis_message_id"]
            pipe.hset(f"{self.namespace}:{m.queue}.msgs", mid, msg.encode())
            pipe.lpush(f"{self.namespace}:{m.queue}", mid)
        await pipe.execute()

    async def present(self, messages: Sequence[Outgoing]) -> list[bool]:
        """Whether Redis still holds each message (queued or fetched and unacked)."""
        pipe = self.client.pipeline(transaction=False)
        for m in messages:
            pipe.hexists(f"{self.namespace}:{m.queue}.msgs", f"{m.job_id}.{m.token}")
        return [bool(x) for x in await pipe.execute()]

    async def close(self) -> None:
        await self.client.aclose()
