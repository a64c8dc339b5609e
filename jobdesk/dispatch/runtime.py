"""Turning the registry into Dramatiq actors, one per job type."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from jobdesk.config import Settings
from jobdesk.core.registry import Registry
from jobdesk.dispatch.broker import WorkerBroker, actor_name, build_broker
from jobdesk.dispatch.middleware import JobStateMiddleware, run_current


def declare_actors(broker: RedisBroker, registry: Registry) -> None:
    for definition in registry:
        job_type = definition.type

        def body(job_id: str, token: int, _type: str = job_type) -> None:
            run_current(_type, registry)

        dramatiq.actor(actor_name=actor_name(job_type), queue_name=definition.queue, broker=broker)(body)


def build_worker_broker(settings: Settings, registry: Registry) -> RedisBroker:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    middleware = JobStateMiddleware(settings, registry)
    broker = build_broker(settings.redis, settings.namespace, [middleware], broker_class=WorkerBroker)
    assert isinstance(broker, WorkerBroker)
    broker.on_fetch = middleware.on_fetch
    declare_actors(broker, registry)
    return broker
