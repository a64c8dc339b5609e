"""The workers' Redis consumer (dispatch/broker.py PromptConsumer), against the real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from jobdesk.config import Settings
from jobdesk.dispatch.broker import PromptConsumer, WorkerBroker, job_message

QUEUE = "consumer-test"


@pytest.fixture
def broker(clean: Settings) -> Iterator[WorkerBroker]:
    b = WorkerBroker(url=clean.redis, namespace=f"{clean.namespace}-consumer", middleware=[])
    b.declare_queue(QUEUE)
    try:
        yield b
    finally:
        keys = list(b.client.scan_iter(match=f"{b.namespace}:*"))
        if keys:
            b.client.delete(*keys)
        b.close()


def _evalsha_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def _fetch(consumer: PromptConsumer, n: int) -> list:
    got = []
    deadline = time.monotonic() + 5
    while len(got) < n and time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            got.append(message)
    assert len(got) == n
    return got


def test_acks_that_pile_up_go_to_redis_in_one_round_trip(broker: WorkerBroker) -> None:
    for i in range(5):
        broker.enqueue(job_message(f"job-{i}", "test.noop", QUEUE, 1))
    consumer = broker.consume(QUEUE, prefetch=10, timeout=100)
    assert isinstance(consumer, PromptConsumer)
    messages = _fetch(consumer, 5)
    consumer.ack(messages[0])  # loads the script
    before = _evalsha_calls(broker.client)
    # As if another thread's ack were out: these wait for it instead of each going alone.
    consumer._acking = True
    consumer.ack(messages[1])
    consumer.ack(messages[2])
    consumer.ack(messages[3])
    assert _evalsha_calls(broker.client) == before
    consumer._acking = False
    consumer.ack(messages[4])  # finds none out: sends all four
    assert _evalsha_calls(broker.client) == before + 1
    ns = broker.namespace
    assert broker.client.hlen(f"{ns}:{QUEUE}.msgs") == 0
    assert broker.client.scard(f"{ns}:__acks__.{broker.broker_id}.{QUEUE}") == 0
    assert consumer.outstanding_message_count == 0


def test_a_requeued_message_is_not_dropped_by_a_late_ack(broker: WorkerBroker) -> None:
    """As Dramatiq's own ack: a message already requeued (its worker presumed dead) stays."""
    broker.enqueue(job_message("job-late", "test.noop", QUEUE, 1))
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    (message,) = _fetch(consumer, 1)
    ns = broker.namespace
    broker.client.srem(f"{ns}:__acks__.{broker.broker_id}.{QUEUE}", message.options["redis_message_id"])
    consumer.ack(message)
    assert broker.client.hexists(f"{ns}:{QUEUE}.msgs", message.options["redis_message_id"])


def test_a_full_consumer_wakes_on_an_ack_not_after_a_back_off(broker: WorkerBroker) -> None:
    for i in range(2):
        broker.enqueue(job_message(f"job-full-{i}", "test.noop", QUEUE, 1))
    # A long idle timeout: a consumer waiting it out would take 5 s.
    consumer = broker.consume(QUEUE, prefetch=1, timeout=5000)
    (first,) = _fetch(consumer, 1)
    returned = threading.Event()

    def wait_for_room() -> None:
        assert next(consumer) is None  # prefetch taken: waits for room
        returned.set()

    waiter = threading.Thread(target=wait_for_room)
    waiter.start()
    time.sleep(0.2)
    assert not returned.is_set()
    consumer.ack(first)
    assert returned.wait(2), "the consumer did not wake on the ack"
    waiter.join()
    (second,) = _fetch(consumer, 1)
    assert second.args[0] == "job-full-1"
