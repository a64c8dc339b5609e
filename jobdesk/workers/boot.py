"""What `dramatiq jobdesk.workers.boot` imports in each worker process.

It reads settings from the environment (`jobdesk worker` passes them on),
loads the built-in and the user's job modules and declares one actor per type.
"""

from __future__ import annotations

import logging

from jobdesk.config import load_settings
from jobdesk.core.registry import load_job_modules
from jobdesk.dispatch.runtime import build_worker_broker

settings = load_settings()
registry = load_job_modules(settings.job_module_list)
broker = build_worker_broker(settings, registry)


class _NoHandlerTracebacks(logging.Filter):
    """A job's exception is stored with the job; the middleware logs one line for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Failed to process message", "Message "))


logging.getLogger("dramatiq.worker.WorkerThread").addFilter(_NoHandlerTracebacks())
