"""Where a finished job is announced: a channel, a target and the events that trigger it.

Used in two places: a job's own `notify` list (JobSpec) and per-type rules an
organization keeps. Both are checked here, before anything is stored, so a
typo in an address is a 422 at creation rather than a failed delivery later.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Channel = Literal["email", "slack", "discord", "webhook"]
NotifyEvent = Literal["completed", "failed"]
CHANNELS: tuple[str, ...] = ("email", "slack", "discord", "webhook")
EVENTS: tuple[str, ...] = ("completed", "failed")
TARGET_MAX = 500
NOTIFY_MAX = 10

# Deliberately loose: one @, no spaces, a dot in the domain. The SMTP server is
# the judge of the rest; this only catches what is clearly not an address.
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")


def check_target(channel: str, target: str) -> str:
    """The target, stripped, if it suits the channel; ValueError naming the problem otherwise."""
    target = target.strip()
    if channel == "email":
        if not _EMAIL.match(target):
            raise ValueError(f"{target!r} is not an email address")
        return target
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a {channel} target must be an http(s) URL, not {target!r}")
    return target


class NotifyTarget(BaseModel):
    """One announcement: `{channel, target, events}`; events default to both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    target: str = Field(min_length=1, max_length=TARGET_MAX)
    # pydantic copies a mutable default per instance.
    events: list[NotifyEvent] = Field(default=["completed", "failed"], min_length=1, max_length=2)

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _target_fits_channel(self) -> NotifyTarget:
        object.__setattr__(self, "target", check_target(self.channel, self.target))
        return self
