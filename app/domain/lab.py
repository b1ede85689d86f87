"""Labs, benches, opening hours and the working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from app.domain.errors import ValidationError

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
E2E_ROLES = ("IS", "ES", "GS", "GT", "RSA", "ED", "OU")
#: Most benches one lab may have. The largest GB test lab has 280 participant spaces; a bench
#: count far beyond that is a typo, and an unbounded one would exhaust memory before any check.
MAX_BENCHES = 500


def check_bench_count(count: int) -> int:
    """`count` when it is a number of benches a lab may have (0 to MAX_BENCHES).

    Raises:
        ValidationError: it is negative or more than MAX_BENCHES.
    """
    if not 0 <= count <= MAX_BENCHES:
        raise ValidationError(
            "benches", f"A lab has 0 to {MAX_BENCHES} benches, not {count}."
        )
    return count


@dataclass(frozen=True, slots=True)
class Bench:
    """A bench in a lab: a numbered place where devices sit."""

    number: int
    name: str
    equipment: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Opening and closing time for one weekday, in the lab's local time."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValidationError(
                "closes",
                f"Closing time {self.closes:%H:%M} must be after opening time {self.opens:%H:%M}.",
            )


def default_opening_hours(
    opens: time = time(8, 0), closes: time = time(18, 0)
) -> dict[int, OpeningHours]:
    """Monday to Friday, 08:00-18:00 unless told otherwise (weekday 0 = Monday)."""
    return {wd: OpeningHours(opens, closes) for wd in range(5)}


@lru_cache(maxsize=64)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=[year]).keys())


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Bank holidays from the `holidays` package, plus days a lab closes of its own accord.

    Attributes:
        country: ISO country code for `holidays.country_holidays` (default GB).
        subdiv: subdivision (default ENG, England).
        extra_closed: further dates the lab is closed (e.g. a shutdown week).
    """

    country: str = "GB"
    subdiv: str | None = "ENG"
    extra_closed: frozenset[date] = frozenset()

    def is_holiday(self, day: date) -> bool:
        return day in self.extra_closed or day in _holiday_dates(self.country, self.subdiv, day.year)

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_closed:
            return "Lab closed"
        if day in _holiday_dates(self.country, self.subdiv, day.year):
            names = holidays.country_holidays(self.country, subdiv=self.subdiv, years=[day.year])
            return str(names.get(day))
        return None


@dataclass(frozen=True, slots=True)
class Lab:
    """A test lab: its capacity, benches, hours and notice rules.

    Attributes:
        name: unique name.
        spaces: number of participant spaces.
        site: where it is.
        benches: the lab's benches.
        hours: opening hours per weekday (0 = Monday); a weekday absent is closed.
        calendar: bank holidays and closures.
        timezone: IANA zone of the lab's local time.
        attendance_notice_h: hours of notice before attendance.
        e2e_notice_working_days: working days of notice before E2E testing starts.
        induction_validity_months: how long an induction stays valid.
        comms_hub_types: Comms Hub types the lab has.
        phantom_load: whether load simulators are available.
        log_capture: whether Comms Hub debug logs can be captured.
    """

    name: str
    spaces: int
    site: str = ""
    benches: tuple[Bench, ...] = ()
    hours: dict[int, OpeningHours] = field(default_factory=default_opening_hours)
    calendar: HolidayCalendar = field(default_factory=HolidayCalendar)
    timezone: str = "Europe/London"
    attendance_notice_h: float = 48.0
    e2e_notice_working_days: int = 40
    induction_validity_months: int = 12
    comms_hub_types: tuple[str, ...] = ()
    phantom_load: bool = True
    log_capture: bool = True
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("name", "Lab name must not be empty.")
        if self.spaces < 1:
            raise ValidationError("spaces", f"Spaces must be a whole number of 1 or more, not {self.spaces}.")
        check_bench_count(len(self.benches))
        self._check_benches_distinct()
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                "timezone", f"Time zone {self.timezone!r} is not an IANA zone such as Europe/London."
            ) from None

    def _check_benches_distinct(self) -> None:
        # The database refuses a second bench of the same name in a lab; saying so here names the
        # bench instead of failing half-way through storing them.
        names: set[str] = set()
        numbers: set[int] = set()
        for bench in self.benches:
            key = bench.name.strip().casefold()
            if key in names or bench.number in numbers:
                raise ValidationError(
                    "benches", f"Bench {bench.name!r} (number {bench.number}) appears twice."
                )
            names.add(key)
            numbers.add(bench.number)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bench_by_name(self, name: str) -> Bench | None:
        for bench in self.benches:
            if bench.name.casefold() == name.casefold() or str(bench.number) == name:
                return bench
        return None

    # --- calendar -----------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        """True when the lab opens on `day` (an opening-hours weekday and not a holiday)."""
        return day.weekday() in self.hours and not self.calendar.is_holiday(day)

    def non_working_reason(self, day: date) -> str | None:
        """Why `day` is not a working day, or None when it is one."""
        name = self.calendar.holiday_name(day)
        if name:
            return f"{day:%a %d %b %Y} is a bank holiday ({name})"
        if day.weekday() not in self.hours:
            return f"{day:%a %d %b %Y} is a {WEEKDAY_NAMES[day.weekday()]}, when the lab is closed"
        return None

    def add_working_days(self, day: date, n: int) -> date:
        """The working day that is `n` working days after `day` (day itself not counted)."""
        current = day
        counted = 0
        while counted < n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the next one."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def opening_window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's opening and closing instants (aware, lab time), or None when closed."""
        if not self.is_working_day(day):
            return None
        hours = self.hours[day.weekday()]
        tz = self.tz
        return (
            datetime.combine(day, hours.opens, tzinfo=tz),
            datetime.combine(day, hours.closes, tzinfo=tz),
        )

    def local(self, moment: datetime) -> datetime:
        """`moment` in the lab's local time."""
        return moment.astimezone(self.tz)

    def localize(self, naive: datetime) -> datetime:
        """Interpret a naive datetime as the lab's local time."""
        if naive.tzinfo is not None:
            return naive
        return naive.replace(tzinfo=self.tz)
