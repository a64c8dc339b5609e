"""`jobdesk` / `python -m jobdesk`: parse, then hand to a subcommand module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from jobdesk.cli.common import run_guarded

# Each module has `register(subparsers)` that adds its parser with
# `set_defaults(func=...)`. Modules not present in this build are skipped.
SUBCOMMANDS = (
    "jobdesk.cli.gui",
    "jobdesk.cli.serve",
    "jobdesk.cli.worker",
    "jobdesk.cli.db",
    "jobdesk.cli.token",
    "jobdesk.cli.submit",
    "jobdesk.cli.schedule",
    "jobdesk.cli.limits",
    "jobdesk.cli.notify",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobdesk", description="Job manager: console, server and workers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("--jobs-module") or argv[0] in ("--workers",):
        # `jobdesk` alone opens the console, as the contract says.
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return run_guarded(args.func, args)
