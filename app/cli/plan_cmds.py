"""`meterlab plan list|check`: the test plans there are, and checking a plan file."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import EXIT_BAD_INPUT, EXIT_OK, emit, fail
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.services.runs.plans import find_plans, load_plan
from app.storage.db import default_plan_dir


def plan_list(args: argparse.Namespace, clock: Clock) -> int:
    extra = [Path(d) for d in (args.plan_dir or [])]
    for directory in extra:
        if not directory.is_dir():
            raise ValidationError("plan_dir", f"Folder {directory} does not exist or is not a "
                                              f"folder.")
    # A plan in a later folder overrides one of the same name before it.
    emit([entry.to_dict() for entry in find_plans([default_plan_dir(), *extra])])
    return EXIT_OK


def plan_check(args: argparse.Namespace, clock: Clock) -> int:
    try:
        plan = load_plan(Path(args.file))
    except ValidationError as exc:
        # The sentence already names the file, the step and what is wrong.
        return fail(exc.message, EXIT_BAD_INPUT)
    emit({"ok": True, "name": plan.name, "version": plan.version, "sha256": plan.sha256,
          "steps": len(plan.steps), "teardown": len(plan.teardown)})
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    plan = sub.add_parser("plan", help="test plans").add_subparsers(
        dest="plan_cmd", required=True, metavar="ACTION")
    p = plan.add_parser("list", parents=[common],
                        help="the built-in plans and the lab's own (JSON); a lab's plan of the "
                             "same name overrides the built-in one")
    p.add_argument("--plan-dir", dest="plan_dir", action="append", metavar="DIR",
                   help="also look for plans here (the user data directory's plans folder is "
                        "always searched; a plan here overrides one of the same name)")
    p.set_defaults(handler=plan_list)
    p = plan.add_parser("check", parents=[common],
                        help="check a plan file: exit 0, or 2 with the step and what is wrong")
    p.add_argument("file", metavar="FILE", help="the plan's TOML file")
    p.set_defaults(handler=plan_check)
