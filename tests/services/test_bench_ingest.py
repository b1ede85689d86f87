"""The ingest benchmark: emulated hubs on ptys through the real pipeline, counted end to end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK, main
from app.domain.clock import SystemClock
from app.domain.errors import ValidationError
from app.services.bench_hubs import CountingEndpoint, HubTraffic
from app.services.bench_ingest import BenchIngest, BenchIngestOptions
from devices.emulator.bench import BenchConfig, EmulatedBench

pytestmark = pytest.mark.timeout(60)


def test_counting_endpoint_counts_only_what_it_sends_while_open() -> None:
    now = [0.0]
    hub = EmulatedBench(BenchConfig(noise_lines_per_s=100.0, seed=1), monotonic=lambda: now[0])
    counting = CountingEndpoint(hub.comms_hub)
    now[0] = 1.0
    assert counting.pending_output(now[0]) == b"" and counting.bytes_sent == 0
    counting.set_gate(True)
    now[0] = 2.0
    sent = counting.pending_output(now[0])
    assert sent and counting.bytes_sent == len(sent)
    assert counting.lines_sent == sent.count(b"\n") >= 90
    counting.set_gate(False)
    now[0] = 3.0
    assert counting.pending_output(now[0]) == b"" and counting.bytes_sent == len(sent)


def test_hub_traffic_fills_the_line_it_is_given() -> None:
    traffic = HubTraffic(baud=115200, line_fill=0.95, alert_rate_per_min=120.0)
    per_s = traffic.noise_lines_per_s() * 62.0 + 2 * 330.0
    assert per_s == pytest.approx(11520 * 0.95)
    assert HubTraffic(baud=300).noise_lines_per_s() > 0


@pytest.mark.parametrize(("field", "options"), [
    ("ports", BenchIngestOptions(ports=0, seconds=1)),
    ("ports", BenchIngestOptions(ports=100_000, seconds=1)),
    ("seconds", BenchIngestOptions(ports=1, seconds=0)),
    ("baud", BenchIngestOptions(ports=1, seconds=1, baud=10)),
])
def test_out_of_range_options_name_the_option(field: str, options: BenchIngestOptions) -> None:
    with pytest.raises(ValidationError) as caught:
        options.validate()
    assert caught.value.field == field and f"--{field}" in caught.value.message


def test_every_line_sent_is_stored_and_every_byte_captured(tmp_path: Path) -> None:
    messages: list[str] = []
    bench = BenchIngest(BenchIngestOptions(ports=3, seconds=1.5, work_dir=tmp_path / "run"),
                        SystemClock(), progress=messages.append)
    bench.start()
    assert len(bench.sessions) == 3
    result = bench.finish()
    figures = result.as_dict()
    assert figures["lost"] == 0 and result.lines_sent == result.lines_stored
    assert result.bytes_sent == result.bytes_read
    # Three ports for 1.5 s at 115200 baud, most of the line used.
    assert 3 * 1.5 * 11520 * 0.7 < result.bytes_sent <= 3 * 1.6 * 11520
    assert result.lines_sent > 3 * 1.5 * 100
    assert figures["ui_fps"] is None and figures["cpu_percent"] > 0
    assert bench.live.counts["log"] > 0  # the live ring buffers saw the events
    assert any("ingesting for 1.5 s" in m for m in messages)
    # A work directory given is kept: a capture file per port holds every byte read, its
    # SHA-256 recorded with the capture session.
    captures = sorted((tmp_path / "run").glob("*.bin"))
    assert len(captures) == 3
    assert sum(p.stat().st_size for p in captures) == result.bytes_read
    conn = sqlite3.connect(tmp_path / "run" / "bench.db")
    digests = [row[0] for row in conn.execute("SELECT sha256 FROM capture_sessions")]
    conn.close()
    assert len(digests) == 3 and all(d and len(d) == 64 for d in digests)


def test_own_temporary_directory_is_removed() -> None:
    bench = BenchIngest(BenchIngestOptions(ports=1, seconds=0.3), SystemClock())
    work_dir = bench.work_dir
    bench.start()
    assert (work_dir / "bench.db").exists()
    bench.finish()
    assert not work_dir.exists()


def test_command_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--ports", "2", "--seconds", "0.5", "--no-ui"]) == EXIT_OK
    out, err = capsys.readouterr()
    figures = json.loads(out)
    for key in ("ports", "baud", "seconds", "bytes_sent", "lines_sent", "lines_stored", "lost",
                "events_per_s", "cpu_percent", "ui_fps", "events_unstored"):
        assert key in figures
    assert figures["ports"] == 2 and figures["baud"] == 115200 and figures["lost"] == 0
    assert figures["events_unstored"] == 0
    assert "meterlab: bench:" in err


@pytest.mark.parametrize(("argv", "option"), [
    (["--ports", "0", "--seconds", "1"], "--ports"),
    (["--ports", "two", "--seconds", "1"], "--ports"),
    (["--ports", "2", "--seconds", "-1"], "--seconds"),
    (["--ports", "2", "--seconds", "1", "--baud", "fast"], "--baud"),
    (["--seconds", "1"], "--ports"),
])
def test_bad_arguments_exit_2_with_one_sentence(
        argv: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", *argv]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == "" and option in err and err.count("\n") == 1
