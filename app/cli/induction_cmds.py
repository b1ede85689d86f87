"""`meterlab induction ...`: a person's inductions, and a printable induction record.

    meterlab induction show --person EMAIL
    meterlab induction record --person EMAIL --pdf FILE [--lab LAB]

Inductions are given with the wizard on the Induction page (or recorded as held elsewhere with
`person induct`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import EXIT_OK, db_path_of, emit
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.principals import Principal
from app.main import AppContext, build_context


def _ctx(args: argparse.Namespace, clock: Clock) -> AppContext:
    return build_context(db_path_of(args), clock, getattr(args, "actor", None),
                         lab_store_url=getattr(args, "lab_store_url", None))


def _principal(args: argparse.Namespace, ctx: AppContext) -> Principal | None:
    """The participant acting (`--participant EMAIL`), if the option is given."""
    email = getattr(args, "participant", None)
    if not email:
        return None
    from app.services.principals import participant_principal

    return participant_principal(ctx.lab_source, ctx.clock, email)


def induction_show(args: argparse.Namespace, clock: Clock) -> int:
    from app.services.inductions import InductionService

    ctx = _ctx(args, clock)
    emit(InductionService.of(ctx).show(args.person, _principal(args, ctx)))
    return EXIT_OK


def induction_record(args: argparse.Namespace, clock: Clock) -> int:
    from app.services.induction_pdf import write_induction_pdf
    from app.services.inductions import InductionService, induction_dict
    from app.services.reports.files import write_atomically

    path = Path(args.pdf)
    if path.is_dir():
        raise ValidationError("pdf", f"{path} is a folder; give the file's path.")
    if not path.parent.is_dir():
        raise ValidationError("pdf", f"Folder {path.parent} does not exist; create it first or "
                                     f"correct the path.")
    ctx = _ctx(args, clock)
    service = InductionService.of(ctx)
    person, lab, induction = service.latest(args.person, args.lab)
    try:
        content = service.content(lab)
    except ValidationError:
        content = None  # the lab's file is broken now: the record is printed without sections
    org = ctx.orgs.get(person.org_id).name
    write_atomically(path, lambda tmp: write_induction_pdf(tmp, person, org, lab, induction,
                                                           content))
    emit({"person": person.email, "file": str(path),
          "induction": induction_dict(induction, lab, clock)})
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    ind = sub.add_parser("induction", help="lab inductions").add_subparsers(
        dest="induction_cmd", required=True, metavar="ACTION")
    p = ind.add_parser("show", parents=[common], help="a person's inductions (JSON)")
    p.add_argument("--person", required=True, metavar="EMAIL")
    p.set_defaults(handler=induction_show)
    p = ind.add_parser("record", parents=[common], help="a printable induction record (PDF)")
    p.add_argument("--person", required=True, metavar="EMAIL")
    p.add_argument("--pdf", required=True, type=Path, metavar="FILE")
    p.add_argument("--lab", help="the lab (default: the person's latest induction)")
    p.set_defaults(handler=induction_record)
