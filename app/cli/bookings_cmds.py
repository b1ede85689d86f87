"""`meterlab lab|org|person|booking ...`: labs, participants and bookings from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import EXIT_OK, EXIT_REFUSED, cli_context, emit, local_iso
from app.domain.bookings import TRANSITIONS, Booking, BookingStatus, parse_phase
from app.domain.clock import Clock
from app.domain.errors import ValidationError
from app.domain.parsing import (
    MAX_BENCHES,
    MAX_SLOT_HOURS,
    MAX_SPACES,
    check_within_years,
    parse_clock_time,
    parse_day,
    parse_id,
    parse_instant,
    parse_positive_float,
    parse_positive_int,
)
from app.main import AppContext
from app.services.export import booking_to_dict, to_csv, to_ics, write_atomically


def _ctx(args: argparse.Namespace, clock: Clock) -> AppContext:
    return cli_context(args, clock)


def _booking_json(booking: Booking, ctx: AppContext) -> dict:
    """A booking for the JSON output: start and end in its lab's local time with the offset."""
    out = booking_to_dict(booking)
    tz = ctx.labs.get(booking.lab_id).tz
    out["start"], out["end"] = local_iso(booking.start, tz), local_iso(booking.end, tz)
    return out


def _lab_dict(lab) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": lab.id, "name": lab.name, "site": lab.site, "spaces": lab.spaces,
        "timezone": lab.timezone,
        "hours": {str(wd): [f"{h.opens:%H:%M}", f"{h.closes:%H:%M}"] for wd, h in lab.hours.items()},
        "benches": [{"number": b.number, "name": b.name, "equipment": b.equipment} for b in lab.benches],
        "attendance_notice_h": lab.attendance_notice_h,
        "e2e_notice_working_days": lab.e2e_notice_working_days,
        "comms_hub_types": list(lab.comms_hub_types),
    }


# --- handlers ---------------------------------------------------------------------------------
def lab_add(args: argparse.Namespace, clock: Clock) -> int:
    spaces = parse_positive_int(args.spaces, "spaces", maximum=MAX_SPACES)
    benches = parse_positive_int(args.benches, "benches", minimum=0, maximum=MAX_BENCHES)
    opens = parse_clock_time(args.opens, "opens") if args.opens else None
    closes = parse_clock_time(args.closes, "closes") if args.closes else None
    if (opens is None) != (closes is None):
        missing = "closes" if closes is None else "opens"
        raise ValidationError(missing, "Give both --opens and --closes, or neither (default 08:00-18:00).")
    ctx = _ctx(args, clock)
    lab = ctx.lab_service.add_lab(args.name, spaces, site=args.site or "", opens=opens,
                                  closes=closes, benches=benches)
    emit(_lab_dict(lab))
    return EXIT_OK


def lab_list(args: argparse.Namespace, clock: Clock) -> int:
    emit([_lab_dict(lab) for lab in _ctx(args, clock).labs.list()])
    return EXIT_OK


def _roles(text: str | None) -> list[str]:
    return [r.strip().upper() for r in (text or "").split(",") if r.strip()]


def org_add(args: argparse.Namespace, clock: Clock) -> int:
    not_held = [r for r in _roles(args.completed_roles) if r not in _roles(args.roles)]
    if not_held:
        raise ValidationError(
            "completed_roles", f"{', '.join(not_held)} is not among the roles the organisation "
                               f"holds (--roles {args.roles or 'none'}); add it to --roles first.")
    org = _ctx(args, clock).lab_service.add_org(args.name, args.roles, args.completed_roles)
    emit({"id": org.id, "name": org.name, "roles": list(org.roles),
          "completed_roles": list(org.completed_roles)})
    return EXIT_OK


def org_list(args: argparse.Namespace, clock: Clock) -> int:
    ctx = _ctx(args, clock)
    emit([{"id": o.id, "name": o.name, "roles": list(o.roles), "completed_roles": list(o.completed_roles)}
          for o in ctx.orgs.list(ctx.principal.org_scope())])
    return EXIT_OK


def _person_dict(p, ctx: AppContext) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": p.id, "name": p.name, "email": p.email, "org": ctx.orgs.get(p.org_id).name,
        "inductions": [
            {"lab": ctx.labs.get(i.lab_id).name, "date": i.date.isoformat(),
             "valid_until": i.valid_until.isoformat(), "delivered_by": i.delivered_by}
            for i in p.inductions
        ],
    }


def person_add(args: argparse.Namespace, clock: Clock) -> int:
    ctx = _ctx(args, clock)
    emit(_person_dict(ctx.lab_service.add_person(args.org, args.name, args.email), ctx))
    return EXIT_OK


def person_induct(args: argparse.Namespace, clock: Clock) -> int:
    held_on = parse_day(args.date, "date")
    ctx = _ctx(args, clock)
    person = ctx.lab_service.induct(args.email, args.lab, held_on, args.by or "", args.reason)
    emit(_person_dict(person, ctx))
    return EXIT_OK


def person_list(args: argparse.Namespace, clock: Clock) -> int:
    ctx = _ctx(args, clock)
    scope = ctx.principal.org_scope()
    org_id = ctx.orgs.resolve(args.org, org_scope=scope).id if args.org else None
    emit([_person_dict(p, ctx) for p in ctx.people.list(org_id, org_scope=scope)])
    return EXIT_OK


def booking_request(args: argparse.Namespace, clock: Clock) -> int:
    spaces = parse_positive_int(args.spaces, "spaces", maximum=MAX_SPACES)
    phase = parse_phase(args.phase)
    ctx = _ctx(args, clock)
    lab = ctx.labs.resolve(args.lab)
    start = check_within_years(parse_instant(args.start, "start", lab.tz), "start", clock.now())
    end = check_within_years(parse_instant(args.end, "end", lab.tz), "end", clock.now())
    roles = [r for item in (args.role or []) for r in item.split(",")]
    lab, req = ctx.booking_service.build_request(
        args.lab, args.org, start, end, spaces, phase, roles=roles,
        attendees=args.attendee or [], benches=args.bench or [], devices=args.devices or "",
        notes=args.notes or "",
    )
    outcome = ctx.booking_service.request(lab, req, override=args.override or "")
    emit(outcome.to_dict())
    return EXIT_REFUSED if outcome.status == "refused" else EXIT_OK


def booking_transition(args: argparse.Namespace, clock: Clock) -> int:
    booking_id = parse_id(args.id, "id")
    ctx = _ctx(args, clock)
    booking = ctx.booking_service.transition(booking_id, args.action, args.reason or "")
    emit(_booking_json(booking, ctx))
    return EXIT_OK


def booking_list(args: argparse.Namespace, clock: Clock) -> int:
    day_from = parse_day(args.from_, "from") if args.from_ else None
    day_to = parse_day(args.to, "to") if args.to else None
    if day_from and day_to and day_to < day_from:
        raise ValidationError("to", f"--to {day_to} is before --from {day_from}.")
    statuses = None
    if args.status:
        try:
            statuses = tuple(BookingStatus(s.strip()) for s in args.status.split(","))
        except ValueError:
            allowed = ", ".join(s.value for s in BookingStatus)
            raise ValidationError("status", f"Status must be among {allowed}, not {args.status!r}.") from None
    ctx = _ctx(args, clock)
    found = ctx.booking_service.list(args.lab, args.org, day_from, day_to, statuses)
    emit([_booking_json(b, ctx) for b in found])
    return EXIT_OK


def booking_find_slot(args: argparse.Namespace, clock: Clock) -> int:
    spaces = parse_positive_int(args.spaces, "spaces", maximum=MAX_SPACES)
    hours = parse_positive_float(args.hours, "hours", MAX_SLOT_HOURS)
    phase = parse_phase(args.phase)
    ctx = _ctx(args, clock)
    lab = ctx.labs.resolve(args.lab)
    unknown = [name for name in args.bench or [] if lab.bench_by_name(name) is None]
    if unknown:  # the search would otherwise ignore a mistyped bench and offer any slot
        names = ", ".join(b.name for b in lab.benches) or "none"
        raise ValidationError("bench", f"Lab {lab.name} has no bench {unknown[0]!r} (benches: {names}).")
    slot = ctx.booking_service.find_slot(args.lab, spaces, hours, phase, tuple(args.bench or []))
    if slot is None:
        emit({"lab": lab.name, "start": None, "end": None, "spaces": spaces, "hours": hours})
        return EXIT_REFUSED
    emit({"lab": lab.name, "start": lab.local(slot[0]).isoformat(), "end": lab.local(slot[1]).isoformat(),
          "spaces": spaces, "hours": hours, "phase": phase.value})
    return EXIT_OK


def booking_export(args: argparse.Namespace, clock: Clock) -> int:
    if not args.lab and not args.org:
        raise ValidationError("lab", "Name the bookings to export with --lab LAB or --org ORG.")
    target = Path(args.ics or args.csv)
    option = "ics" if args.ics else "csv"
    if not target.parent.exists():
        raise ValidationError(option, f"Folder {target.parent} does not exist.")
    if target.is_dir():
        raise ValidationError(option, f"{target} is a folder; give the name of the file to write.")
    ctx = _ctx(args, clock)
    found = ctx.booking_service.list(args.lab, args.org)
    try:
        if args.ics:
            title = f"MeterLab bookings: {args.lab or args.org}"
            write_atomically(target, to_ics(found, title, clock.now()))
        else:
            write_atomically(target, to_csv(found, lambda lab_id: ctx.labs.get(lab_id).tz).encode("utf-8"))
    except OSError as exc:
        raise ValidationError(option, f"Cannot write {target}: {exc.strerror or exc}.") from None
    emit({"file": str(target), "bookings": len(found), "format": "ics" if args.ics else "csv"})
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    lab = sub.add_parser("lab", help="labs").add_subparsers(dest="lab_cmd", required=True, metavar="ACTION")
    p = lab.add_parser("add", parents=[common], help="add a lab")
    p.add_argument("--name", required=True)
    p.add_argument("--spaces", required=True)
    p.add_argument("--site")
    p.add_argument("--opens", metavar="HH:MM")
    p.add_argument("--closes", metavar="HH:MM")
    p.add_argument("--benches", default="0", help="number of benches to create (Bench 1..N)")
    p.set_defaults(handler=lab_add)
    lab.add_parser("list", parents=[common], help="list labs").set_defaults(handler=lab_list)

    org = sub.add_parser("org", help="participant organisations").add_subparsers(
        dest="org_cmd", required=True, metavar="ACTION")
    p = org.add_parser("add", parents=[common], help="add an organisation")
    p.add_argument("--name", required=True)
    p.add_argument("--roles", help="SEC user roles held, e.g. IS,GS")
    p.add_argument("--completed-roles", dest="completed_roles",
                   help="roles whose mandatory testing is complete, e.g. IS")
    p.set_defaults(handler=org_add)
    org.add_parser("list", parents=[common], help="list organisations").set_defaults(handler=org_list)

    person = sub.add_parser("person", help="people").add_subparsers(
        dest="person_cmd", required=True, metavar="ACTION")
    p = person.add_parser("add", parents=[common], help="add a person")
    p.add_argument("--org", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.set_defaults(handler=person_add)
    p = person.add_parser("induct", parents=[common], help="record an induction")
    p.add_argument("--email", required=True)
    p.add_argument("--lab", required=True)
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--by", help="who delivered it")
    p.add_argument("--reason", required=True,
                   help="why it is recorded here rather than given at the workstation, e.g. where "
                        "it was held (kept in the audit trail)")
    p.set_defaults(handler=person_induct)
    p = person.add_parser("list", parents=[common], help="list people")
    p.add_argument("--org")
    p.set_defaults(handler=person_list)

    booking = sub.add_parser("booking", help="bookings").add_subparsers(
        dest="booking_cmd", required=True, metavar="ACTION")
    p = booking.add_parser("request", parents=[common], help="request a booking (rules checked)")
    p.add_argument("--lab", required=True)
    p.add_argument("--org", required=True)
    p.add_argument("--start", required=True, metavar="ISO")
    p.add_argument("--end", required=True, metavar="ISO")
    p.add_argument("--spaces", required=True)
    p.add_argument("--phase", required=True, help="e2e, uept, device, induction or other")
    p.add_argument("--role", action="append", help="E2E role (repeat or comma-separate)")
    p.add_argument("--attendee", action="append", metavar="EMAIL")
    p.add_argument("--bench", action="append", metavar="NAME")
    p.add_argument("--devices", help="devices the participant brings (free text)")
    p.add_argument("--notes")
    p.add_argument("--override", metavar="JUSTIFICATION",
                   help="lab staff: book despite refusals, with this written justification")
    p.set_defaults(handler=booking_request)
    for action in TRANSITIONS:
        name = action.replace("_", "-")
        p = booking.add_parser(name, parents=[common], help=f"{name} a booking")
        p.add_argument("id")
        p.add_argument("--reason", help="why (kept in the audit trail)")
        p.set_defaults(handler=booking_transition, action=action)
    p = booking.add_parser("list", parents=[common], help="list bookings")
    p.add_argument("--lab")
    p.add_argument("--org")
    p.add_argument("--from", dest="from_", metavar="DATE")
    p.add_argument("--to", metavar="DATE")
    p.add_argument("--status", help="comma-separated statuses")
    p.set_defaults(handler=booking_list)
    p = booking.add_parser("find-slot", parents=[common], help="earliest slot that passes every rule")
    p.add_argument("--lab", required=True)
    p.add_argument("--spaces", required=True)
    p.add_argument("--hours", required=True)
    p.add_argument("--phase", default="device")
    p.add_argument("--bench", action="append", metavar="NAME")
    p.set_defaults(handler=booking_find_slot)
    p = booking.add_parser("export", parents=[common], help="export bookings to ICS or CSV")
    p.add_argument("--lab")
    p.add_argument("--org")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--ics", metavar="FILE")
    fmt.add_argument("--csv", metavar="FILE")
    p.set_defaults(handler=booking_export)
