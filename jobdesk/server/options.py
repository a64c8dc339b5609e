"""The server's own knobs, read like the rest of the settings (JOBDESK_*, or `.env`).

Kept apart from jobdesk.config.Settings because only the server reads them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The contract's limits.
BODY_MAX_BYTES = 1024 * 1024
WS_MESSAGE_MAX_BYTES = 64 * 1024


class ServerOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBDESK_", env_file=".env", extra="ignore")

    # Comma-separated Origin values a WebSocket handshake may carry; empty allows
    # any. A client that sends no Origin (not a browser) is always allowed.
    ws_origins: str = ""
    # Queued bytes per WebSocket connection before it counts as a slow consumer
    # and is closed (code 1013); see the README.
    ws_queue_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    ws_ping_interval_s: float = Field(default=20.0, gt=0)
    # This many failed authentications from one address within the window, and
    # that address gets 429 until the oldest failure leaves the window.
    auth_failures_max: int = Field(default=20, ge=1)
    auth_failures_window_s: float = Field(default=60.0, gt=0)
    body_max_bytes: int = Field(default=BODY_MAX_BYTES, ge=1024)

    @property
    def origin_list(self) -> list[str]:
        return [o.strip() for o in self.ws_origins.split(",") if o.strip()]
