"""`jobdesk gui` (and plain `jobdesk`): the desktop console, hosting the server and local workers."""

from __future__ import annotations

import argparse
import os
import sys

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
    settings = settings_from(args)
    registry_from(settings)  # a bad --jobs-module is reported here, before a window opens
    from jobdesk.embedded import EmbeddedConnector

    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    connector = EmbeddedConnector(settings, workers=workers, threads=args.threads)
    # Only an explicit --workers beats the count saved in the console's settings.
    overrides = {"workers": args.workers} if args.workers is not None else {}
    return run_console(connector, overrides=overrides)
