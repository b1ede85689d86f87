"""`meterlab emulate|decode|capture|device`: devices from the command line."""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    cli_context,
    db_path_of,
    emit,
    fail,
    lab_store_of,
    local_iso,
    principal_of,
)
from app.domain.clock import Clock
from app.domain.devices import Device
from app.domain.errors import ValidationError
from app.domain.events import CodecEvent, DeviceEvent
from app.domain.lab import Lab
from app.domain.parsing import (
    MAX_ALERT_RATE_PER_MIN,
    MAX_BAUD,
    MAX_RUN_S,
    MAX_TIME_SCALE,
    MIN_BAUD,
    parse_positive_float,
    parse_positive_int,
)
from app.domain.principals import Action
from app.storage.db import default_capture_dir, default_profile_dir
from app.storage.devices import DeviceRepo
from app.storage.labs import LabRepo

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlite_utils import Database

    from app.services.capture import CaptureOptions


def event_to_dict(ev: DeviceEvent) -> dict:
    """An event for the JSON output; its times in London time with their offsets."""
    return {
        "device": ev.device, "kind": ev.kind.value, "host_time": local_iso(ev.host_time),
        "device_time": local_iso(ev.device_time), **ev.fields,
    }


def _codec_event_dict(ev: CodecEvent) -> dict:
    return {"kind": ev.kind.value,
            "device_time": local_iso(ev.device_time), **ev.fields}


def decode(args: argparse.Namespace, clock: Clock) -> int:
    from devices.codecs.base import CodecError, make_codec
    from devices.codecs.gbcs import decode_alert_hex

    if args.gbcs is not None:
        if args.file or args.protocol:
            raise ValidationError("gbcs", "Give either --gbcs HEX, or --file PATH with --protocol.")
        try:
            alert = decode_alert_hex(args.gbcs)
        except CodecError as exc:
            raise ValidationError("gbcs", f"The GBCS hex could not be decoded: {exc}.") from None
        from devices.codecs.alert_catalogue import default_catalogue

        emit({
            "alert_code": alert.alert_code, "alert_name": alert.alert_name,
            "severity": default_catalogue().severity(alert.alert_code),
            "originator": alert.originator, "recipient": alert.recipient,
            "message_code": alert.message_code,
            "timestamp": local_iso(alert.timestamp),
            "wrapper": alert.wrapper, "content_kind": alert.content_kind, **alert.extra,
        })
        return EXIT_OK
    if not args.file or not args.protocol:
        raise ValidationError("file", "Give --gbcs HEX, or --file PATH with --protocol (e.g. profile:NAME).")
    path = Path(args.file)
    if not path.is_file():
        raise ValidationError("file", f"File {path} does not exist or is not a file.")
    try:
        codec = make_codec(args.protocol, profile_dirs=(
            *(Path(p) for p in (args.profile_dir or [])), default_profile_dir()))
    except ValueError as exc:
        raise ValidationError("protocol", str(exc).removeprefix("--protocol: ")) from None
    last = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            last = chunk[-1:]
            for ev in codec.feed(chunk):
                emit(_codec_event_dict(ev))
    if last not in (b"", b"\n"):
        for ev in codec.feed(b"\n"):  # the file's last line has no newline
            emit(_codec_event_dict(ev))
    return EXIT_OK


def emulate(args: argparse.Namespace, clock: Clock) -> int:
    from devices.emulator.faults import parse_faults
    from devices.emulator.runner import run_emulator

    try:
        faults = parse_faults(args.fault or ())
    except ValueError as exc:
        raise ValidationError("fault", str(exc).removeprefix("--fault: ")) from None
    seconds = (parse_positive_float(args.seconds, "seconds", MAX_RUN_S)
               if args.seconds is not None else None)
    scale = parse_positive_float(args.time_scale, "time_scale", MAX_TIME_SCALE)
    rate = parse_positive_float(args.alert_rate, "alert_rate", MAX_ALERT_RATE_PER_MIN,
                                allow_zero=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    def on_ready(ports: dict[str, str]) -> None:
        emit({**ports, "faults": [str(f) for f in faults]})

    try:
        run_emulator(seconds, scale, rate, on_ready=on_ready, stop_event=stop, seed=args.seed,
                     faults=faults)
    except ValueError as exc:
        raise ValidationError("time_scale", str(exc)) from None
    return EXIT_OK


def capture(args: argparse.Namespace, clock: Clock) -> int:
    from app.cli import EXIT_STORAGE
    from app.services.capture import CaptureFailed, CaptureOptions, run_capture

    duration = (parse_positive_float(args.duration, "duration", MAX_RUN_S)
                if args.duration is not None else None)
    baud = (parse_positive_int(args.baud, "baud", MIN_BAUD, MAX_BAUD)
            if args.baud is not None else None)
    opts = CaptureOptions(
        port=args.port, protocol=args.protocol, baud=baud, device=args.device or "",
        once=args.once, duration_s=duration,
        capture_dir=Path(args.capture_dir) if args.capture_dir else default_capture_dir(),
        profile_dirs=(*(Path(p) for p in (args.profile_dir or [])), default_profile_dir()),
    )
    from app.services.capture import validate_options

    validate_options(opts)
    db_path = db_path_of(args)
    from app.main import open_bench_database

    # Created and upgraded before the writer starts; sessions a killed capture left open closed.
    db = open_bench_database(db_path, clock)
    try:
        url = getattr(args, "lab_store_url", None)
        if url is not None:
            opts = _lab_store_capture(args, db, clock, url, opts)
        else:
            principal_of(args, db, clock).require(Action.DEVICES, "capture from devices")
            if args.device and DeviceRepo(db, clock).find(args.device) is None:
                raise ValidationError(
                    "device", f"No device {args.device!r} is registered; register it first "
                              f"with `meterlab device add --label {args.device!r} --kind KIND`.")
    finally:
        db.conn.close()
    try:
        result = run_capture(opts, db_path, clock, on_event=lambda ev: emit(event_to_dict(ev)))
    except CaptureFailed as exc:
        if exc.result is not None:
            emit({"summary": exc.result.summary()})
        return fail(str(exc), EXIT_NO_ANSWER)
    # The last line on stdout: counts a script can check (events lines carry "kind", this not).
    emit({"summary": result.summary()})
    if result.storage_error:
        return fail(result.storage_error, EXIT_STORAGE)
    sys.stderr.write(
        f"meterlab: captured {result.bytes_in_file} bytes, {result.stored} events stored; "
        f"capture file {result.capture_path} sha256 {result.sha256}\n"
    )
    return EXIT_OK


def _lab_store_capture(args: argparse.Namespace, db: Database, clock: Clock, url: URL,
                       opts: CaptureOptions) -> CaptureOptions:
    """`opts` for capturing a device of the lab store at `url` into the bench store `db`:
    the device's label and its stand-in there (see :mod:`app.storage.lab_devices`).

    Who captures is checked on the lab store. While the lab store does not answer, a device
    captured on this workstation before is captured under its stand-in as last seen (who runs
    the capture cannot be checked then, which stderr says); a port without ``--device`` is
    captured as it is.

    Raises:
        LabStoreError: the lab store does not answer and the device was never captured here,
            or a participant is named (who they are cannot be checked), or the lab store has
            another schema.
        ValidationError: the lab store has no such device.
        RuleRefusal: who runs the command may not capture.
    """
    from app.services.lab_store_devices import device_while_unreachable, follow_device
    from app.storage.db import DbErrorKind
    from app.storage.labstore import LabStoreError, lab_store_key, open_lab_store

    key = lab_store_key(url)
    conn = db.conn
    found = None
    try:
        store = open_lab_store(url)
        try:
            principal_of(args, db, clock, store).require(Action.DEVICES,
                                                           "capture from devices")
            if args.device:
                found = follow_device(conn, store, key, args.device, clock)
                if found is None:
                    raise ValidationError(
                        "device", f"No device {args.device!r} is registered in the lab store; "
                                  f"register it first with `meterlab device add --label "
                                  f"{args.device!r} --kind KIND` and --lab-store.")
        finally:
            store.close()
    except LabStoreError as exc:
        if exc.kind is not DbErrorKind.UNREACHABLE or getattr(args, "participant", None):
            raise
        if args.device:
            found = device_while_unreachable(conn, key, args.device, exc)
        what = (f"{found.label!r} as this workstation last saw it" if found else
                "the port under no device")
        sys.stderr.write(f"meterlab: {exc}; capturing {what} (who runs the capture cannot be "
                         f"checked until the lab store answers).\n")
    if found is None:
        return replace(opts, file_registry=False)
    return replace(opts, device=found.label, device_ref=found.local_ref, file_registry=False)


def _all_bench_names(labs: list[Lab]) -> list[str]:
    return [b.name for lab in labs for b in lab.benches]


def _check_bench(name: str, labs: list[Lab]) -> None:
    """Refuse a bench name that no lab has (a typo would file a device nowhere)."""
    if any(lab.bench_by_name(name) for lab in labs):
        return
    known = ", ".join(sorted(set(_all_bench_names(labs)))[:10]) or "none (add a lab with --benches)"
    raise ValidationError("bench", f"No lab has a bench {name!r}; benches: {known}.")


def device_add(args: argparse.Namespace, clock: Clock) -> int:
    from devices.codecs.base import make_codec

    if args.protocol:
        try:
            make_codec(args.protocol, profile_dirs=(default_profile_dir(),))
        except ValueError as exc:
            raise ValidationError("protocol", str(exc).removeprefix("--protocol: ")) from None
    device = Device.create(
        args.label, args.kind, device_id=args.device_id or "", mpxn=args.mpxn or "",
        manufacturer=args.manufacturer or "", model=args.model or "", firmware=args.firmware or "",
        owner=args.owner or "lab", bench=args.bench or "",
        connection={k: v for k, v in (("port", args.port), ("protocol", args.protocol)) if v},
    )
    from app.services.device_registry import DeviceRegistry

    ctx = cli_context(args, clock)
    stored = DeviceRegistry(ctx.lab_source, clock, ctx.principal).add(device, force=args.force)
    emit(_device_dict(stored))
    return EXIT_OK


def device_list(args: argparse.Namespace, clock: Clock) -> int:
    from app.services.device_registry import DeviceRegistry

    ctx = cli_context(args, clock)
    emit([_device_dict(d) for d in DeviceRegistry(ctx.lab_source, clock, ctx.principal).list()])
    return EXIT_OK


def _device_dict(d: Device) -> dict:
    return {
        "id": d.id, "label": d.label, "kind": d.kind.value, "device_id": d.device_id,
        "mpxn": d.mpxn, "manufacturer": d.manufacturer, "model": d.model, "firmware": d.firmware,
        "owner": d.owner, "bench": d.bench, "connection": d.connection.to_dict(),
    }


def outages_list(args: argparse.Namespace, clock: Clock) -> int:
    from app.domain.parsing import parse_day
    from app.storage.outages import OutageRepo

    day_from = parse_day(args.from_, "from") if args.from_ else None
    day_to = parse_day(args.to, "to") if args.to else None
    if day_from and day_to and day_to < day_from:
        raise ValidationError("to", f"--to {day_to} is before --from {day_from}.")
    from app.main import open_bench_database

    db = open_bench_database(db_path_of(args), clock)
    try:
        with lab_store_of(args, db) as store:
            principal_of(args, db, clock, store).require(Action.READ_ALL,
                                                         "read the lab's outage log")
            repo = OutageRepo(db.conn)
            # A bench no lab has is still known if outages were stored under it (devices
            # without a bench file their outages under their own label).
            if args.bench and not repo.list(args.bench):
                _check_bench(args.bench, LabRepo(store, clock).list())
            outages = repo.list(args.bench, day_from, day_to)
            url = getattr(args, "lab_store_url", None)
            if url is not None:
                outages = _named_by_lab_store(db.conn, url, outages)
    finally:
        db.conn.close()
    emit([_outage_json(o) for o in outages])
    return EXIT_OK


def _named_by_lab_store(conn: sqlite3.Connection, url: URL, outages: list[dict]) -> list[dict]:
    """`outages` with ``device_ref`` the device's id in the lab store at `url` (its stand-in's
    device, see :mod:`app.storage.lab_devices`); None for a device that is not the lab
    store's (one of the file's own)."""
    from app.storage.lab_devices import LabDeviceMap
    from app.storage.labstore import lab_store_key

    lab_refs = LabDeviceMap(conn, lab_store_key(url)).lab_refs()
    return [{**o, "device_ref": lab_refs.get(o["device_ref"])} for o in outages]


#: Outage fields holding instants (stored as UTC text).
_OUTAGE_TIMES = ("start", "end", "device_start", "device_end", "restore_alert_host_time")


def _outage_json(outage: dict) -> dict:
    """An outage for the JSON output: its instants in London time with their offsets."""
    return {k: local_iso(v) if k in _OUTAGE_TIMES else v
            for k, v in outage.items()}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("decode", parents=[common],
                       help="decode a GBCS alert APDU given as hex, or a saved log or capture file")
    p.add_argument("--gbcs", metavar="HEX", help="one GBCS alert APDU in hex")
    p.add_argument("--file", metavar="PATH", help="a saved log or capture file to decode")
    p.add_argument("--protocol", help="with --file: iec62056-21, gbcs-hex or profile:NAME")
    p.add_argument("--profile-dir", dest="profile_dir", action="append", metavar="DIR")
    p.set_defaults(handler=decode)

    p = sub.add_parser("emulate", parents=[common],
                       help="play an ESME optical port, a Comms Hub debug port and a relay board on pseudo-terminals")
    p.add_argument("--seconds", default=None, metavar="S", help="stop after S seconds (default: until stopped)")
    p.add_argument("--time-scale", dest="time_scale", default="1", metavar="X",
                   help="emulated seconds per real second (60: a 3-minute outage takes 3 s)")
    p.add_argument("--alert-rate", dest="alert_rate", default="6", metavar="PER_MIN",
                   help="routine alerts per minute")
    p.add_argument("--seed", type=int, default=None, help="make the output reproducible")
    p.add_argument("--fault", action="append", metavar="NAME[=VALUE]",
                   help="make the bench misbehave on purpose (repeatable): wrong-restore-alert, "
                        "late-alert[=SECONDS], no-restore-alert, no-outage-log, counter-stuck, "
                        "silent-after-restore")
    p.set_defaults(handler=emulate)

    p = sub.add_parser("capture", parents=[common], help="capture and decode from a serial port")
    p.add_argument("--port", required=True, metavar="PATH")
    p.add_argument("--protocol", required=True, help="iec62056-21, gbcs-hex or profile:NAME")
    p.add_argument("--baud", default=None, metavar="N")
    p.add_argument("--device", metavar="LABEL", help="attribute events to this device label")
    p.add_argument("--capture-dir", dest="capture_dir", metavar="DIR",
                   help="where raw capture files go (default: the user data directory)")
    p.add_argument("--profile-dir", dest="profile_dir", action="append", metavar="DIR",
                   help="also look for line profiles here (the user data directory's "
                        "profiles folder is always searched)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one IEC readout, or one line/frame")
    mode.add_argument("--duration", metavar="S", help="capture for S seconds")
    p.set_defaults(handler=capture)

    dev = sub.add_parser("device", help="the device registry").add_subparsers(
        dest="device_cmd", required=True, metavar="ACTION")
    p = dev.add_parser("add", parents=[common], help="register a device")
    p.add_argument("--label", required=True)
    p.add_argument("--kind", required=True, help="ESME, GSME, CHF, GPF, IHD, PPMID, relay board, radio adapter")
    p.add_argument("--device-id", dest="device_id", metavar="EUI64")
    p.add_argument("--mpxn", metavar="MPAN_OR_MPRN")
    p.add_argument("--manufacturer")
    p.add_argument("--model")
    p.add_argument("--firmware")
    p.add_argument("--owner", help="'lab' or the participant organisation")
    p.add_argument("--bench")
    p.add_argument("--port")
    p.add_argument("--protocol", help="iec62056-21, gbcs-hex or profile:NAME")
    p.add_argument("--force", action="store_true",
                   help="register even if another device has the same MPAN/MPRN")
    p.set_defaults(handler=device_add)
    dev.add_parser("list", parents=[common], help="list devices").set_defaults(handler=device_list)

    out = sub.add_parser("outages", help="power outages seen on the benches").add_subparsers(
        dest="outages_cmd", required=True, metavar="ACTION")
    p = out.add_parser("list", parents=[common], help="list outages with their checks (JSON)")
    p.add_argument("--bench")
    p.add_argument("--from", dest="from_", metavar="DATE")
    p.add_argument("--to", metavar="DATE")
    p.set_defaults(handler=outages_list)
