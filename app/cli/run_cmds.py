"""`meterlab run ...`: test runs from the command line (the stored history; JSON on stdout)."""

from __future__ import annotations

import argparse

from app.cli import EXIT_OK, cli_context, emit
from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.parsing import parse_id, parse_positive_int
from app.domain.runs import Verdict

#: The most runs one `run list` prints.
MAX_LIST = 100_000


def parse_verdict(text: str | None) -> Verdict | None:
    """A verdict filter (any letter case), or None when not given.

    Raises:
        ValidationError: not one of the verdicts.
    """
    if text is None:
        return None
    try:
        return Verdict(text.strip().upper())
    except ValueError:
        allowed = ", ".join(v.value for v in Verdict)
        raise ValidationError("verdict", f"--verdict must be one of {allowed}, not "
                                         f"{text!r}.") from None


def run_list(args: argparse.Namespace, clock: Clock) -> int:
    """Stored runs matching the filters, newest first (runs still executing have verdict null)."""
    from app.storage.runs import RunRepo

    verdict = parse_verdict(args.verdict)
    limit = parse_positive_int(args.limit, "limit", 1, MAX_LIST)
    ctx = cli_context(args, clock)
    try:
        scope = ctx.principal.org_scope()
        org_id = ctx.orgs.resolve(args.org, org_scope=scope).id if args.org else None
        runs = RunRepo(ctx.lab_source).list(org_id=org_id, bench=args.bench, device=args.device,
                                         plan=args.plan, verdict=verdict, limit=limit,
                                         org_scope=scope)
    finally:
        ctx.close()
    emit([r.to_dict() for r in runs])
    return EXIT_OK


def run_show(args: argparse.Namespace, clock: Clock) -> int:
    """One stored run: the object `run start` ends with, and everything else the run recorded."""
    from app.storage.runs import RunRepo

    run_id = parse_id(args.id, "id")
    ctx = cli_context(args, clock)
    try:
        # Another organisation's run reads exactly as a missing one: nothing is revealed.
        record = RunRepo(ctx.lab_source).get(run_id, ctx.principal.org_scope())
    finally:
        ctx.close()
    if record is None:
        raise NotFoundError("id", f"There is no run {run_id} (see `meterlab run list`).")
    emit(record.to_dict())
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `meterlab run` and its actions."""
    from app.cli.run_start import add_start

    p = sub.add_parser("run", help="test runs: execute a plan on a bench, and the stored results")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_start(actions, common)
    _add_list(actions, common)
    _add_show(actions, common)


def _add_list(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser("list", parents=[common],
                           help="stored runs, newest first, filtered by what is given")
    p.add_argument("--org", help="only runs for this organisation (name or id)")
    p.add_argument("--bench", metavar="NAME", help="only runs on this bench")
    p.add_argument("--device", metavar="LABEL",
                   help="only runs with this device under test (its label or device id)")
    p.add_argument("--plan", metavar="NAME", help="only runs of this plan")
    p.add_argument("--verdict", metavar="V",
                   help=f"only runs with this verdict ({', '.join(v.value for v in Verdict)})")
    p.add_argument("--limit", default="200", metavar="N", help="at most N runs (200)")
    p.set_defaults(handler=run_list)


def _add_show(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser("show", parents=[common],
                           help="one stored run: steps, measurements, devices, evidence")
    p.add_argument("id", metavar="ID", help="the run's id")
    p.set_defaults(handler=run_show)
