"""Sending many job messages to Redis in one round trip.

Dramatiq has no bulk enqueue; its RedisBroker runs its dispatch script once
per message, which stores the message in the queue's hash and appends its id
to the queue's list. We do exactly that, for a whole batch, with two commands
per queue (one HSET, one RPUSH) in one pipeline: the dispatcher's sending
went from the bulk of its time to a small share. Dramatiq's workers read the
same keys. Urgent messages go to the head with LPUSH, which Dramatiq's fetch
(LPOP) takes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from jobdesk.dispatch.broker import job_message


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

    async def send(self, messages: Sequence[Outgoing], head: bool = False) -> None:
        """Enqueue in order; with `head`, ahead of everything queued (first stays first)."""
        if not messages:
            return
        by_queue: dict[str, list[Outgoing]] = {}
        for m in messages:
            by_queue.setdefault(m.queue, []).append(m)
        pipe = self.client.pipeline(transaction=head)
        for queue, group in by_queue.items():
            encoded = {}
            for m in group:
                msg = job_message(m.job_id, m.job_type, m.queue, m.token)
                encoded[msg.options["redis_message_id"]] = msg.encode()
            pipe.hset(f"{self.namespace}:{queue}.msgs", mapping=encoded)
            ids = list(encoded)
            if head:
                pipe.lpush(f"{self.namespace}:{queue}", *reversed(ids))
            else:
                pipe.rpush(f"{self.namespace}:{queue}", *ids)
        await pipe.execute()

    async def present(self, messages: Sequence[Outgoing]) -> list[bool]:
        """Whether Redis still holds each message (queued or fetched and unacked)."""
        pipe = self.client.pipeline(transaction=False)
        for m in messages:
            pipe.hexists(f"{self.namespace}:{m.queue}.msgs", f"{m.job_id}.{m.token}")
        return [bool(x) for x in await pipe.execute()]

    async def close(self) -> None:
        await self.client.aclose()
