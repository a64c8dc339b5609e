"""What routes receive: the engine, and the token's owner."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobdesk.core.errors import Forbidden, ServiceUnavailable
from jobdesk.server.auth import Authenticator
from jobdesk.service.engine import Engine
from jobdesk.service.extras import Extras
from jobdesk.store.tokens import TokenInfo

# Declares the scheme in the OpenAPI document; the check itself is ours, so
# that every failure has the contract's error shape and counts toward the limit.
_bearer = HTTPBearer(auto_error=False, description="an API token from `jobdesk token create`")


def client_address(request: Request) -> str:
    # The socket's peer: uvicorn runs without proxy headers, so a client cannot
    # dodge the failed-auth limit with X-Forwarded-For.
    return request.client.host if request.client else "unknown"


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_extras(request: Request) -> Extras:
    extras: Extras | None = getattr(request.app.state, "extras", None)
    if extras is None:
        raise ServiceUnavailable("schedules, notifications and metrics are not running on this server")
    return extras


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> TokenInfo:
    auth: Authenticator = request.app.state.auth
    token = credentials.credentials if credentials else None
    return await auth.check(token, client_address(request))


async def get_admin(principal: Annotated[TokenInfo, Depends(get_principal)]) -> TokenInfo:
    if not principal.is_admin:
        raise Forbidden("this needs an admin token (`jobdesk token create --admin`)")
    return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
ExtrasDep = Annotated[Extras, Depends(get_extras)]
Principal = Annotated[TokenInfo, Depends(get_principal)]
Admin = Annotated[TokenInfo, Depends(get_admin)]
