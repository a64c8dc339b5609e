"""The REST API and the WebSocket gateway over the job engine.

`start_server` is the one start-up, shared by `jobdesk serve` and the console.
"""

from jobdesk.server.runtime import ListenFailed, Server, start_server

__all__ = ["ListenFailed", "Server", "start_server"]
