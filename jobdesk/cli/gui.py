"""`jobdesk gui` (and plain `jobdesk`): the desktop console, hosting the server and local workers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from jobdesk.cli.common import CliError, add_common, registry_from, settings_from

DEFAULT_WORKERS = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop console (with the server and local workers in-process)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"local worker processes (default {DEFAULT_WORKERS}, or as saved in Settings; 0 for none)",
    )
    p.add_argument("--threads", type=int, default=8, help="threads per local worker process (default 8)")
    p.add_argument(
        "--server",
        metavar="URL",
        help="watch the jobdesk server at URL (e.g. http://host:3000) instead of hosting one",
    )
    p.add_argument("--token", help="API token for --server (default: $JOBDESK_TOKEN)")
    p.add_argument("--ws-url", metavar="URL", help="its WebSocket gateway (default: ws://HOST:3001/jobs)")
    add_common(p)
    p.set_defaults(func=run)


def check_display() -> None:
    """Qt aborts the process (no exception) when it finds no display; say so in one line instead."""
    if not sys.platform.startswith("linux"):
        return
    if not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise CliError(
            "no display to open the console on: run it in a desktop session, "
            "or set QT_QPA_PLATFORM=offscreen (or use `jobdesk serve` for no window)"
        )


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and not 0 <= args.workers <= 64:
        raise CliError("--workers must be between 0 and 64")
    if not 1 <= args.threads <= 256:
        raise CliError("--threads must be between 1 and 256")
    check_display()
    try:
        from jobdesk.ui.launch import run as run_console
    except ImportError as exc:
        raise CliError(f"the console needs PySide6 and qasync ({exc}): pip install 'jobdesk[gui]'") from None
    if args.server:
        return run_remote(args, run_console)
    settings = settings_from(args)
    registry_from(settings)  # a bad --jobs-module is reported here, before a window opens
    from jobdesk.embedded import EmbeddedConnector

    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    connector = EmbeddedConnector(settings, workers=workers, threads=args.threads)
    # Only an explicit --workers beats the count saved in the console's settings.
    overrides = {"workers": args.workers} if args.workers is not None else {}
    return run_console(connector, overrides=overrides)


def run_remote(args: argparse.Namespace, run_console: Callable[..., int]) -> int:
    """The same window over REST and WebSocket; nothing is hosted here."""
    from jobdesk.client.remote import RemoteConnector

    if not args.server.startswith(("http://", "https://")):
        raise CliError("--server takes the API's URL, e.g. http://host:3000")
    token = args.token or os.environ.get("JOBDESK_TOKEN")
    if not token:
        raise CliError("--server needs a token: --token, or JOBDESK_TOKEN (see `jobdesk token create`)")
    return run_console(RemoteConnector(args.server, token, args.ws_url))
