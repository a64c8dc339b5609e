"""Building the Dramatiq Redis broker and the messages that carry job ids."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
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


class PromptConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, with its two waits cut to what they wait for.

    Dramatiq's consumer sleeps an exponential back-off (5-10 ms, doubling up to
    the idle timeout) whenever a fetch brings nothing, and also when it did not
    fetch because its prefetch is all taken. Both are common here: the
    dispatcher keeps queues short on purpose (priority), and a job waits for its
    start check while it counts against the prefetch. py-spy showed the worker
    threads of a saturated benchmark idle 89 % of the time, their consumer
    asleep in that back-off while the queue refilled or acks freed room.

    - Prefetch taken: wait for an ack (a worker thread's) to free room, not a
      back-off; the idle timeout still bounds the wait.
    - Nothing fetched: back off from 1 ms, doubling to the idle timeout, so a
      queue the dispatcher refills is read within milliseconds while an idle
      one is still polled only every idle timeout.

    Every message is reported to `on_fetch` as it leaves the consumer, before
    it waits in the worker's queue for a thread (see checker.py).
    """

    MAX_DOUBLINGS = 16

    def __init__(
        self,
        broker: WorkerBroker,
        queue_name: str,
        prefetch: int,
        timeout: int,
        on_fetch: Callable[[MessageProxy], None] | None = None,
    ) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.on_fetch = on_fetch
        self._room = threading.Event()
        self._ack_lock = threading.Lock()
        self._acks: list[str] = []
        self._acking = False

    def ack(self, message: MessageProxy) -> None:
        """Acks from all worker threads go to Redis together: one round trip for
        whatever piled up while the last one was out, sent by the thread that
        found none out. Eight threads each waiting on their own ack had been
        the worker's main wait once Redis shared two cores with PostgreSQL.
        A worker that dies with acks unsent leaves those messages to Dramatiq's
        requeue; their jobs are finished in PostgreSQL, so the start check
        skips them."""
        with self._ack_lock:
            self._acks.append(message.options["redis_message_id"])
            self.queued_message_ids.discard(message.message_id)
            if self._acking:
                self._room.set()
                return
            self._acking = True
        self._room.set()
        while True:
            with self._ack_lock:
                ids, self._acks = self._acks, []
                if not ids:
                    # Under the lock that found none: an ack arriving after
                    # this sends itself instead of waiting on a sender that left.
                    self._acking = False
                    return
            try:
                self._send_acks(ids)
            except BaseException as exc:
                with self._ack_lock:
                    self._acks[:0] = ids
                    self._acking = False
                if isinstance(exc, redis.ConnectionError):
                    raise ConnectionClosed(exc) from None
                raise

    def _send_acks(self, ids: list[str]) -> None:
        broker = self.broker
        ns, worker = broker.namespace, broker.broker_id
        queue = self.queue_name
        broker.ack_many(
            keys=[f"{ns}:__heartbeats__", f"{ns}:__acks__.{worker}.{queue}", f"{ns}:{queue}.msgs"],
            args=[current_millis(), worker, *ids],
        )

    def nack(self, message: MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self._room.set()

    def __next__(self) -> MessageProxy | None:
        try:
            while self.message_cache:
                data = self.message_cache.pop(0)
                if data is None:  # Dramatiq logs this as its own bug (#266) and skips it
                    continue
                self.misses = 0
                message = Message.decode(data)
                self.queued_message_ids.add(message.message_id)
                proxy = MessageProxy(message)
                if self.on_fetch is not None:
                    self.on_fetch(proxy)
                return proxy
            if self.outstanding_message_count >= self.prefetch:
                self._room.clear()
                # Checked again after clearing: an ack in between must not be missed.
                if self.outstanding_message_count >= self.prefetch:
                    self._room.wait(self.timeout / 1000)
                return None
            self.message_cache = self.broker.do_fetch(
                self.queue_name, self.prefetch - self.outstanding_message_count
            )
            if not self.message_cache:
                time.sleep(min(self.timeout, 2**self.misses) / 1000)
                self.misses = min(self.misses + 1, self.MAX_DOUBLINGS)
            return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None


# Dramatiq's "ack" command of dispatch.lua, for many messages of one queue:
# the worker's heartbeat, then each message dropped from the worker's acks and
# from the queue's messages, unless Dramatiq already requeued it.
ACK_MANY_LUA = """
redis.call("zadd", KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV do
    if redis.call("srem", KEYS[2], ARGV[i]) > 0 then
        redis.call("hdel", KEYS[3], ARGV[i])
    end
end
"""


class WorkerBroker(RedisBroker):
    """The workers' broker: its consumers are PromptConsumers reporting to `on_fetch`."""

    on_fetch: Callable[[MessageProxy], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ack_many = self.client.register_script(ACK_MANY_LUA)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        return PromptConsumer(self, queue_name, prefetch, timeout, self.on_fetch)


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
