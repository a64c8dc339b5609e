"""Sending one notification: email over SMTP, Slack, Discord or a plain webhook.

A send either returns (delivered) or raises SendFailed saying whether trying
again could help: a refused address or a 404 webhook will not get better,
a timeout or a 503 may.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import httpx

from jobdesk.config import Settings

TIMEOUT_S = 15.0
_TEXT_MAX = 1500


class SendFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


def summary(payload: dict[str, Any], bold: str = "") -> str:
    """One or two lines about the job's end; `bold` wraps the name (`*` Slack, `**` Discord)."""
    job = payload["data"]
    name = f"{bold}{job.get('name')}{bold}"
    head = f"Job {name} ({job.get('type')})"
    if payload["event"] == "job-completed":
        took = _duration(job)
        text = f"✅ {head} completed" + (f" in {took}" if took else "")
    else:
        error = (job.get("error") or {}).get("message") or "no error message"
        text = f"❌ {head} failed after {job.get('attempts')} attempt(s): {error}"
    text = f"{text}\nid {job.get('id')}, organization {job.get('organizationId')}"
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"


def _duration(job: dict[str, Any]) -> str | None:
    try:
        took = datetime.fromisoformat(job["completedAt"]) - datetime.fromisoformat(job["startedAt"])
    except (KeyError, TypeError, ValueError):
        return None
    seconds = took.total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def webhook_body(channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    if channel == "slack":
        # Slack reads &, < and > as markup: escaped, a job name cannot post a link or a mention.
        text = summary(payload, "*")
        return {"text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}
    if channel == "discord":
        # No pings: a job named "@everyone" must not notify a whole server.
        return {"content": summary(payload, "**"), "allowed_mentions": {"parse": []}}
    # Generic webhooks get what the WebSocket sends: {"event", "data": the job}.
    return payload


async def send_webhook(client: httpx.AsyncClient, channel: str, url: str, payload: dict[str, Any]) -> None:
    try:
        response = await client.post(url, json=webhook_body(channel, payload), timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    if response.is_success:
        return
    detail = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 429 or response.status_code >= 500 or response.status_code == 408:
        raise SendFailed(detail, retry_after_s=_retry_after(response))
    raise SendFailed(detail, permanent=True)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def email_message(settings: Settings, to: str, payload: dict[str, Any]) -> EmailMessage:
    job = payload["data"]
    outcome = "completed" if payload["event"] == "job-completed" else "failed"
    msg = EmailMessage()
    msg["Subject"] = f"[jobdesk] {job.get('name')} {outcome}"
    msg["From"] = settings.smtp_from
    msg["To"] = to
    details = job.get("result") if outcome == "completed" else job.get("error")
    body = summary(payload)
    if details is not None:
        body += "\n\n" + json.dumps(details, indent=2, default=str)[:20_000]
    msg.set_content(body)
    return msg


def send_email_sync(settings: Settings, to: str, payload: dict[str, Any]) -> None:
    """Blocking: run it in a thread. TLS on port 465, STARTTLS elsewhere when offered."""
    if not settings.smtp_host:
        raise SendFailed("email is not configured: set JOBDESK_SMTP_HOST")
    msg = email_message(settings, to, payload)
    cls = smtplib.SMTP_SSL if settings.smtp_port == 465 else smtplib.SMTP
    try:
        with cls(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            smtp.ehlo()
            if cls is smtplib.SMTP and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailed(f"recipient refused: {exc.recipients}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        # 5xx is the server's final word (bad address, auth refused); 4xx is "try later".
        raise SendFailed(f"SMTP {exc.smtp_code}: {text}", permanent=500 <= exc.smtp_code < 600) from None
    except (smtplib.SMTPException, OSError) as exc:  # timeouts and refused connections are OSErrors
        raise SendFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from None


class Channels:
    """The senders of one notifier: one HTTP client, shared; SMTP in a thread per message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": "jobdesk"})

    async def send(self, channel: str, target: str, payload: dict[str, Any]) -> None:
        if channel == "email":
            await asyncio.to_thread(send_email_sync, self.settings, target, payload)
        else:
            await send_webhook(self.http, channel, target, payload)

    async def close(self) -> None:
        await self.http.aclose()
