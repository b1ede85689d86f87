"""Starts the desktop application. The one place outside `ui` that reaches into it."""

from __future__ import annotations

import argparse

from app.domain.clock import Clock


def launch_gui(args: argparse.Namespace, clock: Clock) -> int:
    """Open the main window (or render a screenshot) and return the exit code."""
    from ui.launch import run

    return run(args, clock)
