"""Token checks for REST and WebSocket, and the lock-out of addresses that keep guessing.

The limiter counts only presented tokens that are wrong (not missing ones), and
once an address is over the limit it is refused before its token is looked at:
otherwise a 200 among the 429s would still tell a guesser it had found one.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from jobdesk.core.errors import JobdeskError, Unauthorized
from jobdesk.store.tokens import TokenInfo, TokenStore

# Addresses remembered at most; the oldest are forgotten first.
_ADDRESSES_MAX = 10_000


class TooManyRequests(JobdeskError):
    status = 429
    code = "too_many_requests"

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many failed authentications from this address; retry in {self.retry_after}s")
        self.headers = {"Retry-After": str(self.retry_after)}


class FailureLimiter:
    """Failed authentications per address in a sliding window."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may try again; 0 if it may now."""
        times = self._failures.get(address)
        if not times:
            return 0.0
        now = self.clock()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[address]
            return 0.0
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window_s - now

    def failed(self, address: str) -> None:
        times = self._failures.setdefault(address, deque(maxlen=self.limit))
        times.append(self.clock())
        self._failures.move_to_end(address)
        while len(self._failures) > _ADDRESSES_MAX:
            self._failures.popitem(last=False)

    def reset(self) -> None:
        self._failures.clear()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class Authenticator:
    def __init__(self, tokens: TokenStore, limiter: FailureLimiter) -> None:
        self.tokens = tokens
        self.limiter = limiter

    async def check(self, token: str | None, address: str) -> TokenInfo:
        """Who `token` speaks for; raises TooManyRequests, Unauthorized or DatabaseUnavailable."""
        wait = self.limiter.retry_after(address)
        if wait > 0:
            raise TooManyRequests(wait)
        if not token:
            raise Unauthorized(
                "missing token: send `Authorization: Bearer <token>` (create one with `jobdesk token create`)"
            )
        info = await self.tokens.authenticate(token)
        if info is None:
            self.limiter.failed(address)
            raise Unauthorized("invalid or revoked token")
        return info
