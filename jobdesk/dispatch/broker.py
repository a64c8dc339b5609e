"""Building the Dramatiq Redis broker and the messages that carry job ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import dramatiq
import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from jobdesk.core.errors import BrokerUnavailable

# Dramatiq requeues the unacked messages of a worker silent this long (ms).
# Short, because PostgreSQL, not Redis, decides what a job's state is.
HEARTBEAT_TIMEOUT_MS = 15_000


def actor_name(job_type: str) -> str:
    return f"jobdesk:{job_type}"


def message_id(job_id: str, token: int) -> str:
    """The Redis message id: one per dispatch, so the reconciler can look it up."""
    return f"{job_id}.{token}"


def job_message(job_id: str, job_type: str, queue: str, token: int) -> dramatiq.Message:
    mid = message_id(job_id, token)
    return dramatiq.Message(
        queue_name=queue,
        actor_name=actor_name(job_type),
        args=(job_id, token),
        kwargs={},
        options={"redis_message_id": mid},
        message_id=mid,
    )


def redacted(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def check_redis(url: str) -> None:
    """Fail with a readable error if Redis cannot be reached."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        raise BrokerUnavailable(
            f"cannot reach Redis at {redacted(url)} ({exc}); "
            "check JOBDESK_REDIS_URL (or REDIS_HOST/REDIS_PORT) and that Redis is running"
        ) from None


class _FetchNotifyingConsumer(Consumer):
    """A Redis consumer that reports each message as it arrives from Redis."""

    def __init__(self, inner: Consumer, on_fetch: Callable[[MessageProxy], None]) -> None:
        self.inner = inner
        self.on_fetch = on_fetch

    def __iter__(self) -> _FetchNotifyingConsumer:
        return self

    def __next__(self) -> MessageProxy | None:
        message = next(self.inner)
        if message is not None:
            self.on_fetch(message)
        return message

    def ack(self, message: MessageProxy) -> None:
        self.inner.ack(message)

    def nack(self, message: MessageProxy) -> None:
        self.inner.nack(message)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        self.inner.requeue(messages)

    def close(self) -> None:
        self.inner.close()


class WorkerBroker(RedisBroker):
    """The workers' broker: `on_fetch` sees every message when Redis hands it over,
    before it waits in the worker's queue for a thread (see checker.py)."""

    on_fetch: Callable[[MessageProxy], None] | None = None

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        inner = super().consume(queue_name, prefetch, timeout)
        return inner if self.on_fetch is None else _FetchNotifyingConsumer(inner, self.on_fetch)


def build_broker(
    redis_url: str,
    namespace: str,
    middleware: Iterable[Middleware] = (),
    broker_class: type[RedisBroker] = RedisBroker,
) -> RedisBroker:
    """A broker whose every key is under the namespace, with only our middleware.

    Dramatiq's own Retries, TimeLimit and AgeLimit are left out on purpose:
    retries and cancellation are decided in PostgreSQL.
    """
    broker = broker_class(
        url=redis_url,
        namespace=namespace,
        middleware=list(middleware),
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
    )
    dramatiq.set_broker(broker)
    return broker
