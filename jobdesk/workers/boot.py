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
logging.getLogger("dramatiq").setLevel(logging.WARNING)
