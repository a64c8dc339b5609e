"""What the console knows of jobs: one async interface, with an in-process and a remote implementation.

The remote one (REST + WebSocket) lives here; the in-process one wraps the
engine and so sits above this package, in `jobdesk.embedded`.
"""

from jobdesk.client.base import (
    BulkResult,
    ConnectOptions,
    Connector,
    JobPage,
    JobQuery,
    JobsClient,
    JobType,
    LocalWorkerControl,
)

__all__ = [
    # the interface
    "JobsClient",
    "Connector",
    "LocalWorkerControl",
    # values it speaks in
    "BulkResult",
    "ConnectOptions",
    "JobPage",
    "JobQuery",
    "JobType",
]
