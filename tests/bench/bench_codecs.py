"""Throughput of the codecs: line framing, a line profile, IEC 62056-21 data lines, GBCS alerts.

Run: .venv/bin/python tests/bench/bench_codecs.py   (prints one JSON object)

Goals: framing 4,000,000 lines/s; profile 500,000 lines/s; IEC data 200,000 lines/s; GBCS
50,000 alerts/s. Each figure is the best of several rounds over data fed in 64 KiB chunks. The
emulator log mixes status, reading, outage and HAN lines with one GBCS alert line in 100 (and, for
the second profile figure, one in 10: alert lines cost a full APDU decode).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from devices.codecs.base import make_codec
from devices.codecs.gbcs import decode_alert
from devices.codecs.gbcs_build import build_alert_apdu
from devices.codecs.iec62056_21 import IecReadoutClient, build_data_message, parse_data_block
from devices.codecs.lines import LineFramer

CHUNK_BYTES = 65536
ROUNDS = 5


def best_rate(count: int, run: Callable[[], object]) -> float:
    """Items per second of the fastest of ``ROUNDS`` runs."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def chunks(data: bytes) -> list[bytes]:
    """Split data into the chunk size a serial reader would hand over."""
    return [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]


def emulator_log(lines: int, alert_every: int = 100) -> bytes:
    """A Comms Hub emulator log of ``lines`` lines, one in ``alert_every`` a GBCS alert."""
    base = datetime(2026, 11, 25, 10, tzinfo=UTC)
    apdu = (
        build_alert_apdu(
            alert_code=0x8F36,
            originator="00-DB-12-34-56-78-90-A0",
            recipient="00-DB-12-34-56-78-90-A2",
            alert_time=base,
        )
        .hex()
        .upper()
    )
    templates = [
        "{t} [INF] SYS status uptime_s={i} wan=UP rssi_dbm=-71 han_devices=3",
        "{t} [INF] READ eui=00-DB-12-34-56-78-90-A0 obis=1.8.0 value={i}.125 unit=kWh",
        "{t} [INF] HAN join eui=00-DB-12-34-56-78-90-A0 type=ESME",
        "{t} [WRN] PWR outage start={t} mpxn=1312345678907",
        "{t} [INF] PWR restored at={t} duration_s=119.0 mpxn=1312345678907",
        "{t} [DBG] MAC retry count=2 channel=11",
        "{t} [INF] READ eui=00-DB-12-34-56-78-90-A0 obis=2.8.0 value={i}.5 unit=kWh",
        "{t} [INF] SYS status uptime_s={i} wan=UP rssi_dbm=-70 han_devices=3",
        "{t} [INF] READ eui=00-DB-12-34-56-78-90-A1 obis=1.8.0 value={i} unit=m3",
    ]
    alert = "{t} [INF] GBCS alert rx eui=00-DB-12-34-56-78-90-A0 apdu=" + apdu
    out = []
    for i in range(lines):
        stamp = (base + timedelta(milliseconds=10 * i)).isoformat(timespec="milliseconds")
        template = alert if i % alert_every == alert_every - 1 else templates[i % len(templates)]
        out.append(template.format(t=stamp.replace("+00:00", "Z"), i=i))
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def bench_framing() -> float:
    """Lines per second through the line framer."""
    data = chunks(emulator_log(200_000))

    def run() -> None:
        framer = LineFramer()
        for chunk in data:
            framer.feed(chunk)

    return best_rate(200_000, run)


def bench_profile(alert_every: int) -> float:
    """Lines per second through the emulator profile."""
    data = chunks(emulator_log(100_000, alert_every))

    def run() -> None:
        codec = make_codec("profile:emulator")
        for chunk in data:
            codec.feed(chunk)

    return best_rate(100_000, run)


def bench_iec() -> float:
    """Data lines per second through parse_data_block."""
    lines = []
    for i in range(5_000):
        lines += [
            f"1.8.{i % 5}({i:06d}.{i % 1000:03d}*kWh)",
            f"0.0.{i % 9}({i:08d})",
            f"1.6.0({i % 100:04d}.{i % 1000:03d}*kW)(26-11-25 10:{i % 60:02d})",
            f"C.7.{i % 3}({i % 10000:04d})",
        ]
    message = build_data_message(lines)
    block = message[1:-2]
    return best_rate(len(lines), lambda: parse_data_block(block))


def bench_gbcs() -> float:
    """Alerts per second through decode_alert (DLMS, GBZ, DER; some ciphered)."""
    base = datetime(2026, 11, 25, 10, tzinfo=UTC)
    apdus = [
        build_alert_apdu(
            alert_code=code,
            originator="00-DB-12-34-56-78-90-A0",
            recipient="00-DB-12-34-56-78-90-A2",
            alert_time=base + timedelta(seconds=i),
            content=content,
            ciphered=i % 5 == 0,
            counter=i,
        )
        for i in range(20_000)
        for code, content in [((0x8F36, 0x8F1D, 0x8F66)[i % 3], ("dlms", "gbz", "der")[i % 3])]
    ]

    def run() -> None:
        for apdu in apdus:
            decode_alert(apdu)

    return best_rate(len(apdus), run)


def bench_gbcs_stream() -> float:
    """Alerts per second through the gbcs-hex codec (hex lines in)."""
    base = datetime(2026, 11, 25, 10, tzinfo=UTC)
    text = "".join(
        build_alert_apdu(
            alert_code=0x8F36,
            originator="00-DB-12-34-56-78-90-A0",
            recipient="00-DB-12-34-56-78-90-A2",
            alert_time=base + timedelta(seconds=i),
            counter=i,
        )
        .hex()
        .upper()
        + "\r\n"
        for i in range(20_000)
    )
    data = chunks(text.encode("ascii"))

    def run() -> None:
        codec = make_codec("gbcs-hex")
        for chunk in data:
            codec.feed(chunk)

    return best_rate(20_000, run)


def bench_iec_garbage(flood: bytes) -> float:
    """Bytes per second of garbage through the IEC readout client, fed in one 1 MiB chunk."""
    data = (flood * (1_048_576 // len(flood) + 1))[:1_048_576]
    return best_rate(len(data), lambda: IecReadoutClient().feed(data))


def main() -> None:
    """Run every benchmark and print the figures as JSON."""
    figures = {
        "machine": f"{platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}",
        "line_framing_lines_per_s": round(bench_framing()),
        "profile_lines_per_s": round(bench_profile(alert_every=100)),
        "profile_lines_per_s_one_alert_in_10": round(bench_profile(alert_every=10)),
        "iec_data_lines_per_s": round(bench_iec()),
        "gbcs_alerts_per_s": round(bench_gbcs()),
        "gbcs_hex_stream_alerts_per_s": round(bench_gbcs_stream()),
        "iec_slash_flood_bytes_per_s": round(bench_iec_garbage(b"/")),
        "iec_ident_like_flood_bytes_per_s": round(bench_iec_garbage(b"/ISK5")),
        "iec_stx_flood_bytes_per_s": round(bench_iec_garbage(b"\x02")),
        "goals": {
            "line_framing_lines_per_s": 4_000_000,
            "profile_lines_per_s": 500_000,
            "iec_data_lines_per_s": 200_000,
            "gbcs_alerts_per_s": 50_000,
        },
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
