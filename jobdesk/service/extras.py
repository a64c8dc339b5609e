"""Schedules, notifications and metrics, started beside an engine.

The server calls this once the engine runs, and stops it before the engine:

    extras = await start_extras(engine)
    ...  # routes call extras.schedules, extras.notifications, extras.metrics
    await extras.stop()

Every server may run the scheduler and the notifier: their claims lock rows
(SKIP LOCKED) and their inserts are keyed, so two servers never fire a tick or
send a notification twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobdesk.service.engine import Engine
from jobdesk.service.metrics import Metrics, extras_counters
from jobdesk.service.notifications import NotificationsService
from jobdesk.service.notifier import Notifier
from jobdesk.service.scheduler import Scheduler
from jobdesk.service.schedules import SchedulesService


@dataclass(eq=False)
class Extras:
    schedules: SchedulesService
    notifications: NotificationsService
    metrics: Metrics
    scheduler: Scheduler | None
    notifier: Notifier | None

    async def stop(self) -> None:
        self.metrics.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.notifier is not None:
            await self.notifier.stop()


async def start_extras(engine: Engine, *, scheduler: bool = True, notifier: bool = True) -> Extras:
    """Services for the routes, plus (unless turned off) the scheduler and notifier loops."""
    sched = Scheduler(engine.store, engine.registry, engine.settings) if scheduler else None
    notif = Notifier(engine.store, engine.settings, engine.hub) if notifier else None
    metrics = Metrics(engine.store, engine.settings, engine.hub, counters=extras_counters(sched, notif))
    metrics.start()
    if sched is not None:
        sched.start()
    if notif is not None:
        notif.start()
    return Extras(
        schedules=SchedulesService(engine.store, engine.registry, engine.settings),
        notifications=NotificationsService(engine.store, engine.registry),
        metrics=metrics,
        scheduler=sched,
        notifier=notif,
    )
