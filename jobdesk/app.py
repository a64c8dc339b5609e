"""Composition root: the console script's entry point."""

from __future__ import annotations

import sys


def main() -> None:
    from jobdesk.cli.main import main as cli_main

    sys.exit(cli_main())
