"""Building the Dramatiq Redis broker and the messages that carry job ids."""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq
import redis
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


def build_broker(redis_url: str, namespace: str, middleware: Iterable[Middleware] = ()) -> RedisBroker:
    """A broker whose every key is under the namespace, with only our middleware.

    Dramatiq's own Retries, TimeLimit and AgeLimit are left out on purpose:
    retries and cancellation are decided in PostgreSQL.
    """
    broker = RedisBroker(
        url=redis_url,
        namespace=namespace,
        middleware=list(middleware),
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
    )
    dramatiq.set_broker(broker)
    return broker
