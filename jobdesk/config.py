"""Settings from the environment or a `.env` file; no I/O happens at import."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a jobdesk process reads from its environment.

    The original's REDIS_HOST / REDIS_PORT / REDIS_PASSWORD are honoured when
    JOBDESK_REDIS_URL is not given, so an existing `.env` keeps working.
    """

    model_config = SettingsConfigDict(
        env_prefix="JOBDESK_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/jobdesk"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    api_port: int = Field(default=3000, ge=0, le=65535)
    ws_port: int = Field(default=3001, ge=0, le=65535)
    namespace: str = Field(default="jobdesk", pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    job_modules: str = ""
    data_dir: Path = Path.home() / ".local" / "share" / "jobdesk"

    # The original design's variables (no JOBDESK_ prefix).
    redis_host: str | None = Field(default=None, validation_alias="REDIS_HOST")
    redis_port: int | None = Field(default=None, validation_alias="REDIS_PORT")
    redis_password: str | None = Field(default=None, validation_alias="REDIS_PASSWORD")

    # Engine tuning; the defaults are what the benchmarks settled on.
    dispatch_tick_s: float = 0.2
    dispatch_batch_max: int = 500
    # Target time a dispatched window should cover: the window per worker thread is
    # about this long divided by the queue's recent job duration (see dispatch/window.py).
    dispatch_window_s: float = 0.25
    dispatch_window_max: int = 64
    # Rounds run at most this often: under load, finishes wake the dispatcher
    # hundreds of times a second, and one round per wake claims a job or two at
    # the price of four queries. Gathering the wakes makes rounds claim dozens.
    dispatch_min_gap_s: float = 0.01
    redispatch_after_s: float = 30.0
    worker_heartbeat_s: float = 2.0
    worker_dead_after_s: float = 15.0
    cancel_poll_s: float = 0.25
    cancel_grace_s: float = 3.0
    progress_interval_s: float = 0.1
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    db_pool_max: int = 10

    # Email notifications (SMTP). Without a host, email notifications fail with a reason.
    # Port 465 speaks TLS from the start; elsewhere STARTTLS is used when the server offers it.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "jobdesk@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None

    @field_validator("redis_password", "smtp_host", "smtp_user", "smtp_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None

    @model_validator(mode="after")
    def _redis_from_parts(self) -> Settings:
        if self.redis_url is None:
            host = self.redis_host or "127.0.0.1"
            port = self.redis_port or 6379
            auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
            self.redis_url = f"redis://{auth}{host}:{port}/0"
        return self

    @property
    def redis(self) -> str:
        assert self.redis_url is not None
        return self.redis_url

    def worker_env(self) -> dict[str, str]:
        """What worker processes started from here must share with this process."""
        return {
            "JOBDESK_DATABASE_URL": self.database_url,
            "JOBDESK_REDIS_URL": self.redis,
            "JOBDESK_NAMESPACE": self.namespace,
            "JOBDESK_DATA_DIR": str(self.data_dir),
            "JOBDESK_JOB_MODULES": self.job_modules,
        }

    @property
    def job_module_list(self) -> list[str]:
        return [m.strip() for m in self.job_modules.split(",") if m.strip()]


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
