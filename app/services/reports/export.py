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
from app.storage.labstore import LabStore

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
               principal: Principal = WORKSTATION_ADMIN,
               store: LabStore | None = None) -> ExportResult:
    """Build, seal and write run `run_id`'s report.

    A participant may export its own organisation's runs (the first export stores the seal,
    as for staff); another organisation's run is "no such run".

    Args:
        db_path: the workstation's database (its bench store, and its lab store unless `store`
            is given).
        store: the lab store on a server holding the run (the caller closes it).

    Raises:
        NotFoundError: no such run. ValidationError: the run is still running.
        SealMismatchError: the run changed since it was sealed (nothing is written).
        EvidenceElsewhereError: the run was executed on another workstation and its report
            was never sealed there (nothing is written).
    """
    from app.services.reports.build import build_report
    from app.services.reports.files import write_atomically, write_bytes_atomically
    from app.services.reports.seal import seal_run

    report_progress = progress or (lambda _f, _w: None)
    db = open_bench_database(Path(db_path), clock, store)
    try:
        report = build_report(db.conn, run_id, clock, version or None, principal, store)
        seal = seal_run(db.conn, report, clock, store)
    finally:
        db.conn.close()

    def one_file(path: Path, write: Callable[[Path], None]) -> list[Path]:
        write_atomically(path, write)
        return [path]

    def json_file(path: Path, _: Progress) -> list[Path]:
        from app.services.reports.json_export import write_json
        return one_file(path, lambda tmp: write_json(report, tmp))

    def csv_files(folder: Path, _: Progress) -> list[Path]:
        from app.services.reports.csv_export import write_csv
        return write_csv(report, folder, write_bytes_atomically)

    def html_file(path: Path, _: Progress) -> list[Path]:
        from app.services.reports.html import write_html
        return one_file(path, lambda tmp: write_html(report, tmp))

    def pdf_file(path: Path, step: Progress) -> list[Path]:
        from app.services.reports.pdf import write_pdf
        return one_file(path, lambda tmp: write_pdf(report, tmp, progress=step))

    # Quick formats first: a slow PDF does not hold back the others.
    wanted = (("JSON", request.json, json_file), ("CSV", request.csv, csv_files),
              ("HTML", request.html, html_file), ("PDF", request.pdf, pdf_file))
    jobs = [(name, target, write) for name, target, write in wanted if target is not None]
    written: list[Path] = []
    for n, (name, target, write) in enumerate(jobs):
        def step(fraction: float, what: str, n: int = n, name: str = name) -> None:
            report_progress((n + max(0.0, min(1.0, fraction))) / len(jobs), f"{name}: {what}")
        step(0.0, "writing")
        written += write(target, step)
        step(1.0, "written")
    return ExportResult(run_id, seal, written)
