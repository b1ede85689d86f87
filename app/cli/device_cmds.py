"""`meterlab emulate|decode|capture`: device commands (registered as they are built)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Device subcommands are added here."""
