"""Export a run's report in the formats asked for: the one path the CLI and the GUI share.

The report is built and sealed first (a run whose stored seal no longer matches is refused with
what changed), then each format is written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.clock import Clock
from app.domain.principals import WORKSTATION_ADMIN, Principal
from app.main import open_bench_database

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ExportRequest:
    """Where each format goes (None: not wanted)."""

    pdf: Path | None = None
    html: Path | None = None
    json: Path | None = None
    csv: Path | None = None  # a folder

    def any(self) -> bool:
        return any(p is not None for p in (self.pdf, self.html, self.json, self.csv))


@dataclass(frozen=True)
class ExportResult:
    run_id: int
    seal: str
    files: list[Path] = field(default_factory=list)


def export_run(db_path: Path, run_id: int, clock: Clock, request: ExportRequest,
               version: str = "", progress: Progress | None = None,
               principal: Principal = WORKSTATION_ADMIN) -> ExportResult:
    """Build, seal and write run `run_id`'s report.

    A participant may export its own organisation's runs (the first export stores the seal,
    as for staff); another organisation's run is "no such run".

    Raises:
        NotFoundError: no such run. ValidationError: the run is still running.
        SealMismatchError: the run changed since it was sealed (nothing is written).
    """
    from app.services.reports.build import build_report
    from app.services.reports.files import write_atomically, write_bytes_atomically
    from app.services.reports.seal import seal_run

    report_progress = progress or (lambda _f, _w: None)
    db = open_bench_database(Path(db_path), clock)
    try:
        report = build_report(db.conn, run_id, clock, version or None, principal)
        seal = seal_run(db.conn, report, clock)
    finally:
        db.conn.close()

    jobs: list[tuple[str, Callable[[Progress], list[Path]]]] = []
    if request.json is not None:
        def _json(_: Progress, path: Path = request.json) -> list[Path]:
            from app.services.reports.json_export import write_json

            write_atomically(path, lambda tmp: write_json(report, tmp))
            return [path]
        jobs.append(("JSON", _json))
    if request.csv is not None:
        def _csv(_: Progress, folder: Path = request.csv) -> list[Path]:
            from app.services.reports.csv_export import write_csv

            return write_csv(report, folder, write_bytes_atomically)
        jobs.append(("CSV", _csv))
    if request.html is not None:
        def _html(_: Progress, path: Path = request.html) -> list[Path]:
            from app.services.reports.html import write_html

            write_atomically(path, lambda tmp: write_html(report, tmp))
            return [path]
        jobs.append(("HTML", _html))
    if request.pdf is not None:
        def _pdf(step: Progress, path: Path = request.pdf) -> list[Path]:
            from app.services.reports.pdf import write_pdf

            write_atomically(path, lambda tmp: write_pdf(report, tmp, progress=step))
            return [path]
        jobs.append(("PDF", _pdf))

    written: list[Path] = []
    for n, (name, job) in enumerate(jobs):
        def step(fraction: float, what: str, n: int = n, name: str = name) -> None:
            report_progress((n + max(0.0, min(1.0, fraction))) / len(jobs), f"{name}: {what}")
        step(0.0, "writing")
        written += job(step)
        step(1.0, "written")
    return ExportResult(run_id, seal, written)
