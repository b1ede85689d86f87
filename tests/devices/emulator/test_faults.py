"""Deliberate faults of the emulated bench: how they are written, and what each one breaks.

The end-to-end tests drive the bench as a host would, on real pseudo-terminals: the relay board
cuts and restores the supply, the Comms Hub's debug log is read, and the ESME's optical port is
asked for an IEC 62056-21 readout. Each fault is shown against the healthy bench.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import serial

from app.cli import EXIT_BAD_INPUT, main
from app.services.device_manager import DemoEmulator, demo_bench_config
from devices.codecs.gbcs import decode_alert_hex
from devices.emulator.bench import BenchConfig, EmulatedBench
from devices.emulator.clock import ManualMonotonic
from devices.emulator.faults import (
    DEFAULT_LATE_ALERT_S,
    KNOWN_FAULTS,
    Fault,
    FaultKind,
    parse_fault,
    parse_faults,
)
from devices.emulator.power import CutSource
from devices.emulator.runner import EmulatorHost

from .test_esme_optical import readout as hand_readout
from .test_pty_bench import command, read_until

ESME = "00-DB-12-34-56-78-90-A0"
TIME_SCALE = 600.0  # a 90 s outage takes 0.15 s, a 200 s one a third of a second
SHORT_S, LONG_S = 90.0, 200.0
LOG_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z")
ALERT_LINE = re.compile(rf"(\S+) \[INF\] GBCS alert rx eui={ESME} apdu=([0-9A-F]+)\r\n")


# ---- how faults are written ----------------------------------------------------------------


def test_parse_each_fault() -> None:
    assert parse_fault("late-alert=30") == Fault(FaultKind.LATE_ALERT, 30.0)
    assert parse_fault("late-alert") == Fault(FaultKind.LATE_ALERT, DEFAULT_LATE_ALERT_S)
    assert parse_fault("late-alert=3600").value == 3600.0
    assert parse_fault("late-alert=0.5").value == 0.5
    assert parse_fault(" Counter-Stuck ") == Fault(FaultKind.COUNTER_STUCK)
    for kind in FaultKind:
        fault = parse_fault(kind.value)
        assert fault.kind is kind
        assert parse_fault(str(fault)) == fault  # written back as on the command line
    assert str(parse_fault("late-alert=30")) == "late-alert=30"
    assert str(Fault(FaultKind.NO_RESTORE_ALERT)) == "no-restore-alert"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("bogus", "'bogus' is not a known fault"),
        ("", "'' is not a known fault"),
        ("late_alert=30", "'late_alert=30' is not a known fault"),
        ("late-alert=0", "late-alert needs a number of seconds above 0 and at most 3600, got '0'"),
        ("late-alert=-5", "got '-5'"),
        ("late-alert=3600.5", "got '3600.5'"),
        ("late-alert=abc", "got 'abc'"),
        ("late-alert=", "got ''"),
        ("late-alert=nan", "got 'nan'"),
        ("late-alert=inf", "got 'inf'"),
        ("counter-stuck=1", "counter-stuck takes no value, got '1'"),
        ("no-outage-log=", "no-outage-log takes no value, got ''"),
    ],
)
def test_bad_fault_is_one_sentence_naming_the_option_and_the_known_faults(
    text: str, says: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_fault(text)
    message = str(caught.value)
    assert message.startswith("--fault: ") and says in message
    assert message.endswith(f"known faults: {KNOWN_FAULTS}.")
    assert all(kind.value in message for kind in FaultKind)
    assert message.count(". ") == 0 and "\n" not in message


def test_parse_faults_keeps_one_per_kind_and_the_last_wins() -> None:
    faults = parse_faults(["late-alert=5", "counter-stuck", "late-alert=30", "counter-stuck"])
    assert sorted(faults, key=str) == [
        Fault(FaultKind.COUNTER_STUCK),
        Fault(FaultKind.LATE_ALERT, 30.0),
    ]
    assert parse_faults([]) == ()
    with pytest.raises(ValueError, match="'nope' is not a known fault"):
        parse_faults(["counter-stuck", "nope"])


def test_fault_checks_its_value_when_built_directly() -> None:
    assert Fault(FaultKind.LATE_ALERT).value == DEFAULT_LATE_ALERT_S
    assert Fault("no-restore-alert").kind is FaultKind.NO_RESTORE_ALERT  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="takes no value"):
        Fault(FaultKind.COUNTER_STUCK, 1.0)
    with pytest.raises(ValueError, match="above 0 and at most 3600"):
        Fault(FaultKind.LATE_ALERT, 0.0)
    config = BenchConfig(faults=(Fault(FaultKind.LATE_ALERT, 5), Fault(FaultKind.LATE_ALERT, 9)))
    assert config.faults == (Fault(FaultKind.LATE_ALERT, 9.0),)


# ---- the command line and the demo bench ---------------------------------------------------


def test_emulate_refuses_a_bad_fault(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--db", str(tmp_path / "m.db"), "emulate", "--seconds", "0.1",
                 "--fault", "counter-stuck", "--fault", "late-alert=9999"])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("meterlab: --fault: late-alert needs a number of seconds")
    assert err.count("--fault") == 1 and err.endswith(f"known faults: {KNOWN_FAULTS}.\n")
    assert not (tmp_path / "m.db").exists()


def test_emulate_lists_its_active_faults(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("meterlab")
    done = subprocess.run(
        [str(exe), "--db", str(tmp_path / "m.db"), "emulate", "--seconds", "0.1",
         "--fault", "late-alert=30", "--fault", "no-outage-log"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.splitlines()[0])
    assert printed["faults"] == ["late-alert=30", "no-outage-log"]
    assert set(printed) == {"esme_optical", "ch_debug", "relay", "faults"}


def test_demo_bench_takes_faults() -> None:
    assert demo_bench_config().faults == ()
    config = demo_bench_config(faults=[Fault(FaultKind.COUNTER_STUCK)])
    assert config.faults == (Fault(FaultKind.COUNTER_STUCK),)
    emulator = DemoEmulator(demo_bench_config(), faults=parse_faults(["no-restore-alert"]))
    assert emulator.bench.faults.all() == (Fault(FaultKind.NO_RESTORE_ALERT),)
    emulator.set_faults([])
    assert emulator.bench.faults.all() == ()
    assert DemoEmulator(config).bench.faults.all() == config.faults


# ---- what each fault breaks, on ptys -------------------------------------------------------


@dataclass
class Restore:
    """What the host saw after one outage.

    Attributes:
        log: the hub's debug output from the restore until the host stopped reading.
        alert_code: the restore alert's code, or None.
        alert_sent: the emulated time on the hub's log line of the alert.
        alert_time: the alert's own GBCS time.
        restored_at: the restore time the hub's log reports (None without the outage lines).
        readout: the optical port's data block right after the restore, or None (no answer).
    """

    log: str
    alert_code: str | None
    alert_sent: datetime | None
    alert_time: datetime | None
    restored_at: datetime | None
    readout: str | None


class PtyBench:
    """An emulated bench on ptys with the host's three serial handles open."""

    def __init__(self, host: EmulatorHost) -> None:
        self.bench = host.bench
        self.relay = serial.Serial(host.ports["relay"], 9600, timeout=2)
        self.hub = serial.Serial(host.ports["ch_debug"], 115200, timeout=0.05)
        self.esme = serial.Serial(
            host.ports["esme_optical"], 300, bytesize=7, parity="E", timeout=0.5
        )

    def close(self) -> None:
        for port in (self.relay, self.hub, self.esme):
            port.close()

    def readout(self) -> str | None:
        """A mode C readout; None when the meter does not identify itself."""
        self.esme.reset_input_buffer()
        self.esme.write(b"/?!\r\n")
        ident = self.esme.readline()
        if not ident:
            return None
        assert ident == b"/EML5EMLESME-2\r\n"
        self.esme.write(b"\x06050\r\n")
        message = read_until(self.esme, rb"\x03.", timeout_s=3)
        return message[1 : message.index(0x03)].decode("ascii")

    def outage(self, emulated_s: float, expect_alert: bool = True) -> Restore:
        """Cut channel 1 for ``emulated_s``, restore it, read out the meter and the hub's log."""
        assert command(self.relay, b"RELAY 1 OFF") == b"OK\r\n"
        cut_at_s = time.monotonic()
        time.sleep(max(0.0, cut_at_s + emulated_s / TIME_SCALE - time.monotonic()))
        self.hub.reset_input_buffer()
        assert command(self.relay, b"RELAY 1 ON") == b"OK\r\n"
        readout = self.readout()
        if expect_alert:
            log = read_until(self.hub, ALERT_LINE.pattern.encode(), timeout_s=5).decode()
        else:
            # Two status lines (60 emulated seconds apart) after the restore prove the hub has
            # been talking long past the moment a restore alert is due (2 s).
            log = read_until(
                self.hub, rb"SYS boot[\s\S]*SYS status[\s\S]*SYS status", timeout_s=5
            ).decode()
        assert "SYS boot fw=" in log
        return _restore_of(log, readout)


def near(span: timedelta, seconds: float) -> bool:
    """Equal to within the resolution of the log (1 ms) and of a DLMS date-time (10 ms)."""
    return abs(span.total_seconds() - seconds) <= 0.011


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _restore_of(log: str, readout: str | None) -> Restore:
    alert = ALERT_LINE.search(log)
    restored = re.search(r"\[INF\] PWR restored at=(\S+) ", log)
    decoded = decode_alert_hex(alert.group(2)) if alert else None
    return Restore(
        log=log,
        alert_code=decoded.alert_code if decoded else None,
        alert_sent=_utc(alert.group(1)) if alert else None,
        alert_time=decoded.timestamp if decoded else None,
        restored_at=_utc(restored.group(1)) if restored else None,
        readout=readout,
    )


@pytest.fixture
def pty_bench(make_real_bench: Callable[..., EmulatedBench]) -> Iterator[Callable[..., PtyBench]]:
    """Start a quiet bench on ptys (no routine alerts, no noise) with the given faults."""
    opened: list[tuple[EmulatorHost, PtyBench]] = []

    def start(*faults: str) -> PtyBench:
        bench = make_real_bench(
            time_scale=TIME_SCALE, alert_rate_per_min=0, noise_lines_per_s=0,
            faults=parse_faults(faults),
        )
        host = EmulatorHost(bench).__enter__()
        ptys = PtyBench(host)
        opened.append((host, ptys))
        read_until(ptys.hub, rb"HAN join eui=\S+ type=IHD\r\n")
        return ptys

    yield start
    for host, ptys in opened:
        ptys.close()
        host.__exit__(None, None, None)


def test_healthy_bench_reports_each_outage_as_the_rules_say(
    pty_bench: Callable[..., PtyBench],
) -> None:
    ptys = pty_bench()
    before = ptys.readout()
    assert before is not None and "C.7.0(0000)\r\n" in before
    short, long_ = ptys.outage(SHORT_S), ptys.outage(LONG_S)
    assert (short.alert_code, long_.alert_code) == ("8F35", "8F36")
    for restore in (short, long_):
        assert re.search(r"\[WRN\] PWR outage start=\S+Z mpxn=1312345678907\r\n", restore.log)
        assert restore.restored_at is not None and restore.alert_time is not None
        assert near(restore.alert_time - restore.restored_at, 0.0)  # stamped at the restore
        assert restore.alert_sent is not None
        assert near(restore.alert_sent - restore.restored_at, 2.0)  # and sent 2 s later
        assert restore.readout is not None  # the meter answers as soon as the supply is back
    assert "C.7.0(0001)\r\n" in short.readout  # type: ignore[operator]
    assert "C.7.0(0002)\r\n" in long_.readout  # type: ignore[operator]


def test_wrong_restore_alert_swaps_the_codes(pty_bench: Callable[..., PtyBench]) -> None:
    ptys = pty_bench("wrong-restore-alert")
    short, long_ = ptys.outage(SHORT_S), ptys.outage(LONG_S)
    assert (short.alert_code, long_.alert_code) == ("8F36", "8F35")
    assert "PWR restored at=" in short.log and short.readout is not None  # nothing else differs


def test_late_alert_is_sent_late_but_stamped_at_the_restore(
    pty_bench: Callable[..., PtyBench],
) -> None:
    ptys = pty_bench("late-alert=30")
    restore = ptys.outage(SHORT_S)
    assert restore.alert_code == "8F35"
    assert restore.alert_sent is not None and restore.restored_at is not None
    assert restore.alert_time is not None
    assert near(restore.alert_time - restore.restored_at, 0.0)
    assert near(restore.alert_sent - restore.restored_at, 30.0)
    assert near(restore.alert_sent - restore.alert_time, 30.0)  # what a host measures


def test_no_restore_alert(pty_bench: Callable[..., PtyBench]) -> None:
    ptys = pty_bench("no-restore-alert")
    restore = ptys.outage(SHORT_S, expect_alert=False)
    assert restore.alert_code is None and "GBCS" not in restore.log
    assert restore.restored_at is not None  # the hub still logs the outage


def test_no_outage_log(pty_bench: Callable[..., PtyBench]) -> None:
    ptys = pty_bench("no-outage-log")
    restore = ptys.outage(SHORT_S)
    assert " PWR " not in restore.log and restore.restored_at is None
    assert restore.alert_code == "8F35"  # the meter's alert is still relayed


def test_counter_stuck(pty_bench: Callable[..., PtyBench]) -> None:
    ptys = pty_bench("counter-stuck")
    first, second = ptys.outage(SHORT_S), ptys.outage(SHORT_S)
    for restore in (first, second):
        assert restore.readout is not None and "C.7.0(0000)\r\n" in restore.readout
    assert ptys.bench.power.failure_count(time.monotonic()) == 2  # there were two outages


def test_silent_after_restore(pty_bench: Callable[..., PtyBench]) -> None:
    ptys = pty_bench("silent-after-restore")
    assert ptys.readout() is not None  # healthy until the first restore
    restore = ptys.outage(SHORT_S)
    assert restore.readout is None
    assert restore.alert_code == "8F35"  # only the optical port is dead
    ptys.esme.write(b"/?!\r\n")
    assert ptys.esme.read(1) == b""


# ---- faults changed while the bench runs, on hand-driven time ------------------------------


def outage(bench: EmulatedBench, mono: ManualMonotonic, real_s: float = 1.0) -> None:
    bench.power.set_cut(CutSource.RELAY, True, mono.advance(1.0))
    bench.esme_optical.pending_output(mono.advance(real_s / 2))  # the meter notices the loss
    bench.power.set_cut(CutSource.RELAY, False, mono.advance(real_s / 2))


def test_counter_stuck_only_while_set(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench()
    outage(bench, mono)
    bench.set_faults([Fault(FaultKind.COUNTER_STUCK)])
    outage(bench, mono)
    assert b"C.7.0(0001)\r\n" in hand_readout(bench.esme_optical, mono)[1]
    bench.set_faults([])
    outage(bench, mono)
    assert b"C.7.0(0002)\r\n" in hand_readout(bench.esme_optical, mono)[1]
    assert bench.power.failure_count(mono()) == 3


def test_silent_after_restore_set_later_and_cleared(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench()
    outage(bench, mono)
    assert hand_readout(bench.esme_optical, mono)[0] == b"/EML5EMLESME-2\r\n"
    bench.set_faults(parse_faults(["silent-after-restore"]))
    assert hand_readout(bench.esme_optical, mono) == (b"", b"")  # restored before: silent now
    bench.set_faults(())
    assert hand_readout(bench.esme_optical, mono)[0] == b"/EML5EMLESME-2\r\n"


def test_restore_faults_apply_from_the_next_restore(
    make_bench: Callable[..., EmulatedBench], mono: ManualMonotonic
) -> None:
    bench = make_bench(time_scale=60, alert_rate_per_min=0, noise_lines_per_s=0)

    def hub_after_outage() -> str:
        out = bytearray()
        bench.power.set_cut(CutSource.RELAY, True, mono.advance(1.0))
        out += bench.comms_hub.pending_output(mono.advance(0.5))
        bench.power.set_cut(CutSource.RELAY, False, mono.advance(0.5))
        for _ in range(100):
            out += bench.comms_hub.pending_output(mono.advance(0.01))
        return out.decode("ascii")

    codes = []
    for faults in ([], ["wrong-restore-alert"], ["no-restore-alert", "no-outage-log"], []):
        bench.set_faults(parse_faults(faults))
        log = hub_after_outage()
        alert = ALERT_LINE.search(log)
        codes.append(decode_alert_hex(alert.group(2)).alert_code if alert else None)
        assert (" PWR " in log) == ("no-outage-log" not in faults)
    assert codes == ["8F35", "8F36", None, "8F35"]
