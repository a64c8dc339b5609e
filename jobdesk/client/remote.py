"""Watching a jobdesk server elsewhere: the connector `jobdesk gui --server URL` hands the console."""

from __future__ import annotations

from jobdesk.client.base import ConnectOptions, JobsClient
from jobdesk.client.rest import RestClient


class RemoteConnector:
    """Makes a RestClient; it hosts nothing, so the connection settings of the dialog do not apply.

    Attributes:
        remote: True: the console shows the server's address instead of database settings.
    """

    remote = True

    def __init__(self, base_url: str, token: str, ws_url: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.ws_url = ws_url

    def defaults(self) -> ConnectOptions:
        return ConnectOptions(database_url=self.base_url, redis_url=self.ws_url or "", workers=0)

    async def connect(self, options: ConnectOptions) -> JobsClient:
        client = RestClient(self.base_url, self.token, ws_url=self.ws_url)
        try:
            await client.stats()  # fails now, readably, if the URL or the token is wrong
        except BaseException:
            await client.close()
            raise
        return client
