"""The demo lab a newcomer sees on first start: a lab, participants, people and a week of bookings."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.domain.bookings import Phase
from app.domain.lab import Bench
from app.services.bookings import BookingService, LabService

DEMO_LAB = "Demo Lab"


def create_demo_lab(labs: LabService, bookings: BookingService) -> str:
    """Fill an empty database with a working demo lab. Returns the lab's name.

    All of it is one transaction: a failure (or a closed window) half-way leaves no partial demo
    lab that a later start would not recognise as empty.
    """
    with bookings.write_transaction():
        return _create_demo_lab(labs, bookings)


def _create_demo_lab(labs: LabService, bookings: BookingService) -> str:
    now = labs.clock.now()
    benches = [
        Bench(number=i, name=f"Bench {i}", equipment=equip)
        for i, equip in enumerate(
            ["EDMI CH, ESME, GSME, IHD, relay", "Toshiba CH, ESME, IHD, relay",
             "WNC CH, ESME, GSME, relay", "EDMI CH, ESME, PPMID", "Toshiba CH, ESME, GSME",
             "WNC CH, ESME, IHD", "Spare bench", "Spare bench"], start=1)
    ]
    lab = labs.add_lab(
        DEMO_LAB, 24, site="Demo site", benches=benches,
        comms_hub_types=("EDMI", "Toshiba", "WNC"),
    )
    orgs = [
        labs.add_org("Northern Energy Supply", "IS,ES,GS", "IS,GS"),
        labs.add_org("Southern Gas Transport", "GT", "GT"),
        labs.add_org("Brightside Power", "IS,RSA", ""),
    ]
    people = [
        (orgs[0], "Alex Morgan", "alex.morgan@northern-energy.example"),
        (orgs[0], "Priya Shah", "priya.shah@northern-energy.example"),
        (orgs[1], "Tom Evans", "tom.evans@southern-gas.example"),
        (orgs[2], "Jo Walker", "jo.walker@brightside.example"),
    ]
    today = lab.local(now).date()
    for i, (org, name, email) in enumerate(people):
        labs.add_person(org.name, name, email)
        if i < 3:
            labs.induct(email, lab.name, today - timedelta(days=30 + 20 * i), delivered_by="Lab staff",
                         reason="demo lab: inducted on an earlier visit")
    # A week of bookings around today. Demo bookings are entered by lab staff, who may place
    # them inside the notice period with an override note.
    monday = today - timedelta(days=today.weekday())
    plan = [
        (0, 9, 17, orgs[0], 6, Phase.UEPT, ["Bench 1", "Bench 2"], [people[0][2]], "scheduled"),
        (1, 8, 12, orgs[1], 4, Phase.DEVICE, ["Bench 3"], [people[2][2]], "scheduled"),
        (1, 13, 18, orgs[0], 8, Phase.UEPT, ["Bench 4"], [people[1][2]], "checked_in"),
        (2, 9, 16, orgs[2], 3, Phase.INDUCTION, [], [people[3][2]], "requested"),
        (3, 8, 18, orgs[0], 10, Phase.DEVICE, ["Bench 1", "Bench 5"], [people[0][2], people[1][2]], "scheduled"),
        (4, 10, 15, orgs[1], 5, Phase.OTHER, ["Bench 6"], [people[2][2]], "requested"),
        (7, 9, 17, orgs[0], 12, Phase.UEPT, ["Bench 2"], [people[1][2]], "requested"),
    ]
    for offset, h0, h1, org, spaces, phase, bench_names, attendees, status in plan:
        day = monday + timedelta(days=offset)
        if not lab.is_working_day(day):
            continue
        start = datetime.combine(day, time(h0), tzinfo=lab.tz)
        end = datetime.combine(day, time(h1), tzinfo=lab.tz)
        lab_obj, req = bookings.build_request(
            lab.name, org.name, start, end, spaces, phase, attendees=attendees, benches=bench_names,
            notes="Demo booking",
        )
        outcome = bookings.request(lab_obj, req, override="Entered by lab staff for the demo lab")
        if outcome.booking is None:
            continue
        steps = {"scheduled": ["approve"], "checked_in": ["approve", "checkin"]}.get(status, [])
        for action in steps:
            bookings.transition(outcome.booking.id, action, "Demo")
    return lab.name
