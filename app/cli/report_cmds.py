"""`meterlab report ...`: a run's report as files, checking a report's seal, a campaign report.

    meterlab report RUN_ID [--pdf FILE] [--html FILE] [--json FILE] [--csv DIR]
    meterlab report verify FILE
    meterlab report campaign --org ORG [--role ROLE] [--from DAY] [--to DAY] [--pdf FILE]
                             [--html FILE]

Every file is written whole or not at all (a temporary file in the same folder, then renamed).
The first export of a run stores its seal; a later export whose seal differs is refused (exit 8)
with what changed. stdout gets one JSON object; progress goes to stderr when an export takes
more than half a second.

With a lab store on a server (`--lab-store`), the runs are read there and `--db` is this
workstation's bench store. A run executed on another workstation keeps its events and evidence
files there: its report says so, and is refused (exit 3) until its first report has been made
(and sealed) on that workstation. `report verify` then checks the seal on any workstation and
the evidence files only on theirs; elsewhere it names them with their SHA-256 and workstation
and exits 0 (the seal is valid; the files are not missing, only kept elsewhere).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.cli import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SEAL,
    cli_principal_for,
    db_path_of,
    emit,
    fail,
    principal_of,
    server_lab_store,
)
from app.domain.clock import Clock
from app.domain.errors import NotFoundError, ValidationError
from app.domain.parsing import parse_id

#: The sub-parser name under which `report RUN_ID ...` is parsed.
RUN_ID = "RUN_ID"
#: Progress is shown once an export has taken this long.
PROGRESS_AFTER_S = 0.5
_FORMATS = ("pdf", "html", "json", "csv")


class _Progress:
    """Progress on stderr, once the work has taken more than :data:`PROGRESS_AFTER_S`."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, fraction: float, what: str) -> None:
        if not self.shown and time.monotonic() - self.started < PROGRESS_AFTER_S:
            return
        self.shown = True
        pct = max(0, min(100, round(fraction * 100)))
        sys.stderr.write(f"\rmeterlab: report: {pct:3d}% {what[:60]:<60}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _file_info(path: Path) -> dict[str, Any]:
    from app.services.reports.files import sha256_file

    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _output_file(value: Path | None, option: str) -> Path | None:
    """An output file's path, refused if its folder does not exist or it is a folder."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise ValidationError(option, f"{path} is a folder; give the file's path.")
    if not path.parent.is_dir():
        raise ValidationError(option, f"Folder {path.parent} does not exist; create it first or "
                                      f"correct the path.")
    return path


def _output_folder(value: Path | None, option: str) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise ValidationError(option, f"Folder {path} does not exist; create it first or correct "
                                      f"the path.")
    return path


def _check_distinct(paths: dict[str, Path | None]) -> None:
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise ValidationError(option, f"--{option} and --{seen[key]} name the same file "
                                          f"{path}; give each its own.")
        seen[key] = option


def report_export(args: argparse.Namespace, clock: Clock) -> int:
    """Export run RUN_ID's report in the formats asked for."""
    from app.services.reports.export import ExportRequest, export_run
    from app.services.reports.seal import SealMismatchError

    run_id = parse_id(args.run_id, "run_id")
    if not any(getattr(args, f) is not None for f in _FORMATS):
        return fail("report: give at least one of --pdf FILE, --html FILE, --json FILE or "
                    "--csv DIR.", EXIT_BAD_INPUT)
    pdf = _output_file(args.pdf, "pdf")
    html = _output_file(args.html, "html")
    json_path = _output_file(args.json, "json")
    csv_dir = _output_folder(args.csv, "csv")
    _check_distinct({"pdf": pdf, "html": html, "json": json_path})
    from app.services.reports.build import EvidenceElsewhereError

    with server_lab_store(args) as store:
        principal = cli_principal_for(args, clock, store)
        progress = _Progress()
        request = ExportRequest(pdf=pdf, html=html, json=json_path, csv=csv_dir)
        try:
            result = export_run(db_path_of(args), run_id, clock, request, _version(), progress,
                                principal, store)
        except NotFoundError:
            return fail(f"no such run {run_id} (see `meterlab run list`).", EXIT_BAD_INPUT)
        except SealMismatchError as exc:
            return fail(str(exc), EXIT_SEAL)
        except EvidenceElsewhereError as exc:
            return fail(str(exc), EXIT_REFUSED)
        finally:
            progress.done()
    emit({"run_id": run_id, "seal": result.seal,
          "files": [_file_info(p) for p in result.files]})
    return EXIT_OK


def report_verify(args: argparse.Namespace, clock: Clock) -> int:
    """Check a report file's seal: exit 0 valid (its evidence files checked here, or named on
    the workstation that holds them), 8 not, 2 not a MeterLab report, 3 a run executed on
    another workstation that was never sealed."""
    from app.services.reports.build import EvidenceElsewhereError
    from app.services.reports.verify import NotAReportError, verify_file

    path = Path(args.file)
    if not path.is_file():
        raise ValidationError("file", f"There is no file {path}.")
    with server_lab_store(args) as store:
        try:
            result = verify_file(path, db_path_of(args), clock, store)
        except NotAReportError as exc:
            return fail(str(exc), EXIT_BAD_INPUT)
        except EvidenceElsewhereError as exc:
            return fail(str(exc), EXIT_REFUSED)
        except OSError as exc:
            raise ValidationError("file", f"{path} cannot be read "
                                          f"({exc.strerror or exc}).") from None
    elsewhere = result.elsewhere()
    message = ("seal valid" + (f"; {elsewhere}" if elsewhere else "")) if result.valid \
        else result.message()
    emit({**result.to_dict(), "message": message})
    if result.valid:
        return EXIT_OK
    return fail(result.message(), EXIT_SEAL)


def report_campaign(args: argparse.Namespace, clock: Clock) -> int:
    """An organisation's completion report (every run in the period, latest verdicts, open
    failures, a seal over the runs' seals)."""
    if args.pdf is None and args.html is None:
        return fail("report campaign: give at least one of --pdf FILE or --html FILE.",
                    EXIT_BAD_INPUT)
    pdf = _output_file(args.pdf, "pdf")
    html = _output_file(args.html, "html")
    _check_distinct({"pdf": pdf, "html": html})

    from app.main import open_bench_database
    from app.services.reports.build import EvidenceElsewhereError
    from app.services.reports.campaign import (
        build_campaign,
        write_campaign_html,
        write_campaign_pdf,
    )
    from app.services.reports.files import write_atomically

    progress = _Progress()
    with server_lab_store(args) as store:
        db = open_bench_database(db_path_of(args), clock, store)
        try:
            campaign = build_campaign(db.conn, args.org, args.role, args.date_from,
                                      args.date_to, clock, version=_version(),
                                      progress=progress,
                                      principal=principal_of(args, db, clock, store),
                                      store=store)
        except EvidenceElsewhereError as exc:
            progress.done()
            return fail(str(exc), EXIT_REFUSED)
        finally:
            db.conn.close()
    written: list[Path] = []
    try:
        if html is not None:
            write_atomically(html, lambda tmp: write_campaign_html(campaign, tmp))
            written.append(html)
        if pdf is not None:
            write_atomically(pdf, lambda tmp: write_campaign_pdf(campaign, tmp,
                                                                 progress=progress))
            written.append(pdf)
    finally:
        progress.done()
    emit({"org": campaign.org_name, "runs": len(campaign.runs), "seal": campaign.seal,
          "files": [_file_info(p) for p in written]})
    return EXIT_OK


def _version() -> str:
    from app.about import versions

    return versions()["meterlab"]


class _RunIdOrAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Sub-commands where a first word that is not an action's name is a run's id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyName(self._name_parser_map)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if values and not dict.__contains__(self._name_parser_map, values[0]):
            values = [RUN_ID, *values]
        super().__call__(parser, namespace, values, option_string)


class _AnyName(dict):  # type: ignore[type-arg]
    """The choices of :class:`_RunIdOrAction`: any word is accepted (a run id is routed)."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__()
        self.names = names

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.names)

    def keys(self):  # type: ignore[no-untyped-def]
        return self.names.keys()


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `meterlab report` and its actions."""
    p = sub.add_parser(
        "report", help="reports of test runs: export (PDF, HTML, JSON, CSV), verify a report's "
                       "seal, an organisation's campaign report",
        description="Reports of test runs. `meterlab report RUN_ID --pdf FILE` exports a run's "
                    "report; `meterlab report verify FILE` checks a report's seal; `meterlab "
                    "report campaign --org ORG --pdf FILE` makes an organisation's completion "
                    "report.",
        epilog="examples:\n"
               "  meterlab report 12 --pdf run12.pdf --csv run12/\n"
               "  meterlab report verify run12.pdf\n"
               "  meterlab report campaign --org Acme --from 2026-11-23 --to 2026-11-27 "
               "--pdf acme.pdf",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", required=True, action=_RunIdOrAction,
                               metavar="{RUN_ID,verify,campaign}")
    _add_export(actions, common)
    _add_verify(actions, common)
    _add_campaign(actions, common)


def _add_export(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser(
        RUN_ID, parents=[common],
        help="export the report of run RUN_ID: --pdf FILE, --html FILE, --json FILE, --csv DIR "
             "(one or several); the first export stores the run's seal",
        usage="meterlab report RUN_ID [--pdf FILE] [--html FILE] [--json FILE] [--csv DIR] "
              "[--db FILE]",
        description="Export a run's report. The first export stores the run's seal (SHA-256 of "
                    "its canonical JSON); a later one whose seal differs is refused (exit 8) "
                    "with what changed.")
    p.add_argument("run_id", metavar="RUN_ID", help="the run's id (see `meterlab run list`)")
    p.add_argument("--pdf", type=Path, metavar="FILE", help="write the report as PDF")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="write the report as one self-contained HTML file")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="write the whole record, sealed, as JSON")
    p.add_argument("--csv", type=Path, metavar="DIR",
                   help="write one CSV file per table into this (existing) folder")
    p.set_defaults(handler=report_export)


def _add_verify(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser(
        "verify", parents=[common],
        help="check a report file's seal: exit 0 valid, 8 with what differs, 2 not a report",
        description="Check a report's seal. A JSON report is checked from its own content; a "
                    "PDF or HTML report against the database (--db, or the --lab-store) and the "
                    "evidence files on disk. With a lab store, evidence files kept on another "
                    "workstation are named with their SHA-256, not checked (exit 0 when the "
                    "seal is valid).")
    p.add_argument("file", metavar="FILE", type=Path, help="a report (PDF, HTML or JSON)")
    p.set_defaults(handler=report_verify)


def _add_campaign(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = actions.add_parser(
        "campaign", parents=[common],
        help="an organisation's completion report: its runs in a period by plan and device, "
             "latest verdicts, failures still open",
        description="An organisation's completion report, sealed over its runs' seals.")
    p.add_argument("--org", required=True, help="the organisation (name or id)")
    p.add_argument("--role", help="only runs booked for this SEC user role (e.g. IS, GS)")
    p.add_argument("--from", dest="date_from", metavar="DAY",
                   help="first day, YYYY-MM-DD (lab local time)")
    p.add_argument("--to", dest="date_to", metavar="DAY",
                   help="last day, YYYY-MM-DD (included)")
    p.add_argument("--pdf", type=Path, metavar="FILE", help="write the report as PDF")
    p.add_argument("--html", type=Path, metavar="FILE", help="write the report as HTML")
    p.set_defaults(handler=report_campaign)
