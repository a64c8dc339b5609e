"""The baseline: a plain Dramatiq no-op actor, nothing persisted anywhere.

Workers run it with `dramatiq benchmarks.bare --processes P --threads T` and
jobdesk's worker environment (the same `dramatiq_queue_prefetch` and
`dramatiq_worker_timeout`), on the same Redis under a namespace of its own.
The broker has no middleware, as jobdesk's has none of Dramatiq's own: the
strictest baseline. Messages are enqueued with Dramatiq's own enqueue script
through Redis pipelines (`enqueue`; jobdesk's dispatcher writes the same
keys with one HSET and one RPUSH per queue), and a run ends when the queue's message hash is empty: Dramatiq
deletes a message from it when the message is acked, so nothing is added to
the actor's work to count completions.
"""

from __future__ import annotations

import os
import random
import time
import uuid

import dramatiq
import redis
from dramatiq.brokers.redis import (
    DEFAULT_DEAD_MESSAGE_TTL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAINTENANCE_CHANCE,
    MAINTENANCE_SCALE,
    RedisBroker,
    _scripts,
)
from dramatiq.common import current_millis

QUEUE = "bare"
ACTOR = "bare_noop"
NAMESPACE = os.environ.get("BENCH_BARE_NAMESPACE", "jobdesk-bench-bare")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

broker = RedisBroker(url=REDIS_URL, namespace=NAMESPACE, middleware=[])
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, broker=broker)
def bare_noop(i: int) -> None:
    return None


def enqueue(client: redis.Redis, namespace: str, n: int, chunk: int = 1000) -> None:
    """n messages for bare_noop, a pipeline of `chunk` enqueue scripts per round trip."""
    script = client.register_script(_scripts["dispatch"])
    sender = str(uuid.uuid4())
    for lo in range(0, n, chunk):
        pipe = client.pipeline(transaction=False)
        now = current_millis()
        for i in range(lo, min(n, lo + chunk)):
            mid = str(uuid.uuid4())
            msg = dramatiq.Message(
                queue_name=QUEUE,
                actor_name=ACTOR,
                args=(i,),
                kwargs={},
                options={"redis_message_id": mid},
                message_id=mid,
            )
            maintenance = int(random.randint(1, MAINTENANCE_SCALE) <= DEFAULT_MAINTENANCE_CHANCE)
            script(
                keys=[namespace],
                args=[
                    "enqueue",
                    now,
                    QUEUE,
                    sender,
                    DEFAULT_HEARTBEAT_TIMEOUT,
                    DEFAULT_DEAD_MESSAGE_TTL,
                    maintenance,
                    3000,
                    mid,
                    msg.encode(),
                ],
                client=pipe,
            )
        pipe.execute()


def pending(client: redis.Redis, namespace: str) -> int:
    """Messages enqueued and not yet acked."""
    return int(client.hlen(f"{namespace}:{QUEUE}.msgs"))


def run(redis_url: str, namespace: str, n: int, timeout: float = 300, poll_s: float = 0.002) -> float:
    """Seconds from the first enqueue until the last of n messages is acked."""
    client = redis.Redis.from_url(redis_url)
    try:
        if pending(client, namespace):
            raise RuntimeError(f"the bare queue of {namespace} is not empty")
        t0 = time.perf_counter()
        enqueue(client, namespace, n)
        deadline = t0 + timeout
        while pending(client, namespace):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"bare Dramatiq: {pending(client, namespace)} of {n} messages left")
            time.sleep(poll_s)
        return time.perf_counter() - t0
    finally:
        client.close()
