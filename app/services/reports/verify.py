"""Checking a report file's seal.

- A JSON report is checked from its own content: the seal is recomputed from the sealed part
  (see :mod:`app.services.reports.json_export`); an altered file names the top-level part that
  no longer matches.
- A PDF or HTML report carries its run's id and seal as markers (PDF: ``MeterLab-Seal: <hex>``
  and ``MeterLab-Run: <id>`` in its metadata; HTML: ``<meta name="meterlab-seal">`` and
  ``<meta name="meterlab-run">``). The run's report is made again from the database, every
  evidence file on disk is hashed again (its recorded first ``bytes`` bytes: a capture file may
  have grown since), and the seals compared. What differs is named: a value in the database
  (against the canonical JSON stored when the run was sealed, or the one inside an HTML report),
  a missing or altered capture file.
- With the lab store on a server, a run's evidence files are on the workstation that executed
  it. Elsewhere the seal is still checked (against the lab store and the copy stored at
  sealing), and the evidence files are named with their SHA-256 and workstation instead of
  being looked for: ``report verify`` on that workstation checks them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.clock import Clock, SystemClock
from app.domain.reports import seal_of
from app.services.reports.files import sha256_file
from app.services.reports.json_export import (
    NotAReportError,
    SealedJson,
    check_json,
    parse_sealed_json,
)
from app.services.reports.seal import differences
from app.storage.labstore import LabStore

__all__ = [
    "NotAReportError",
    "Verification",
    "evidence_problems",
    "read_markers",
    "verify_file",
]

#: The most bytes of a report file read (a PDF of a very long run stays far below).
MAX_REPORT_BYTES = 500_000_000

_PDF_SEAL = re.compile(rb"MeterLab-Seal:\s*([0-9a-fA-F]{64})")
_PDF_RUN = re.compile(rb"MeterLab-Run:\s*(\d{1,18})")
_CAMPAIGN = re.compile(rb"MeterLab-Campaign-Seal|meterlab-campaign-seal")


def _meta(name: str) -> re.Pattern[bytes]:
    n = re.escape(name.encode())
    return re.compile(
        rb"<meta\s+(?:name=[\"']" + n + rb"[\"']\s+content=[\"']([^\"']*)[\"']"
        rb"|content=[\"']([^\"']*)[\"']\s+name=[\"']" + n + rb"[\"'])", re.IGNORECASE)


_HTML_SEAL, _HTML_RUN = _meta("meterlab-seal"), _meta("meterlab-run")
_HTML_SEALED = re.compile(
    rb"<script[^>]*\bid=[\"']meterlab-sealed[\"'][^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a report file.

    Attributes:
        kind: "json", "html" or "pdf".
        seal: the seal the file states.
        recomputed: the seal computed now (from the file's content for JSON, else from the
            database); None if it could not be.
        differences: what does not match, one line each; empty when the seal is valid.
        evidence_workstation: the workstation holding the run's evidence files when they are
            not on this one (they were not checked then); "" when they were checked here.
        evidence: (file, SHA-256) of each evidence file left unchecked on that workstation.
    """

    path: Path
    kind: str
    run_id: int | None
    seal: str
    recomputed: str | None
    differences: tuple[str, ...] = field(default=())
    evidence_workstation: str = ""
    evidence: tuple[tuple[str, str], ...] = field(default=())

    @property
    def valid(self) -> bool:
        """The seal verifies (evidence files on another workstation are not held against it)."""
        return not self.differences and self.recomputed == self.seal

    def elsewhere(self) -> str:
        """Where the unchecked evidence files are, one sentence ("" when none are elsewhere)."""
        if not self.evidence_workstation or not self.evidence:
            return ""
        files = ", ".join(f"{name} (SHA-256 {sha})" for name, sha in self.evidence)
        return (f"its evidence files are on workstation {self.evidence_workstation} and were "
                f"not checked here: {files}; `meterlab report verify` there checks them")

    def message(self) -> str:
        """One line for the user."""
        if self.valid:
            note = self.elsewhere()
            return (f"seal valid: {self.path} (run {self.run_id}, seal {self.seal})"
                    + (f"; {note}" if note else ""))
        if self.kind == "json":
            return ("the content does not match its seal: "
                    + ", ".join(self.differences or ("the content",)))
        return (f"the report does not match run {self.run_id} as stored now: "
                + "; ".join(self.differences or ("the seal differs",)))

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "kind": self.kind, "run_id": self.run_id,
                "seal": self.seal, "recomputed": self.recomputed, "valid": self.valid,
                "differences": list(self.differences),
                **({"evidence_checked": False,
                    "evidence_workstation": self.evidence_workstation,
                    "evidence": [{"file": n, "sha256": h} for n, h in self.evidence]}
                   if self.elsewhere() else {})}


@dataclass(frozen=True)
class Markers:
    """What a PDF or HTML report says about itself."""

    kind: str
    run_id: int
    seal: str
    sealed_json: str | None = None  # HTML: the canonical JSON embedded in the file


def sniff(data: bytes) -> str:
    """"pdf", "html", "json" or "" from a file's first bytes."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "html"
    if head.startswith(b"{"):
        return "json"
    return ""


def read_markers(data: bytes, kind: str, name: str) -> Markers:
    """The run id and seal of a PDF or HTML report.

    Raises:
        NotAReportError: the markers are missing (or it is a campaign report).
    """
    if kind == "pdf":
        seal_m, run_m = _PDF_SEAL.search(data), _PDF_RUN.search(data)
        seal = seal_m.group(1) if seal_m else None
        run = run_m.group(1) if run_m else None
        sealed = None
    else:
        seal_m, run_m = _HTML_SEAL.search(data), _HTML_RUN.search(data)
        seal = (seal_m.group(1) or seal_m.group(2)) if seal_m else None
        run = (run_m.group(1) or run_m.group(2)) if run_m else None
        script = _HTML_SEALED.search(data)
        sealed = script.group(1).decode("utf-8", "replace").strip() if script else None
    if seal is None or run is None or not re.fullmatch(rb"[0-9a-fA-F]{64}", seal) \
            or not run.strip().isdigit():
        if _CAMPAIGN.search(data):
            raise NotAReportError(f"{name} is a campaign report; `report verify` checks the "
                                  f"report of one run.")
        raise NotAReportError(f"{name} is not a MeterLab report (no MeterLab-Seal and "
                              f"MeterLab-Run markers).")
    return Markers(kind, int(run), seal.decode().lower(), sealed)


def verify_file(path: str | Path, db_path: str | Path | None,
                clock: Clock | None = None, store: LabStore | None = None,
                workstation: str | None = None) -> Verification:
    """Check the seal of the report file at `path`.

    Args:
        db_path: the database a PDF or HTML report is checked against (unused for JSON): the
            workstation's bench store, and its lab store unless `store` is given.
        store: the lab store on a server holding the run (the caller closes it).
        workstation: this workstation's name (default: the host's), to tell whether the
            evidence files are here.

    Raises:
        NotAReportError: the file is not a MeterLab run report.
        OSError: the file cannot be read.
        NotFoundError: (PDF, HTML) the run is not in the database.
        EvidenceElsewhereError: (PDF, HTML) the run was executed on another workstation and
            never sealed (no report of it can be genuine).
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        raise NotAReportError(f"{path} is too large to be a MeterLab report.")
    kind = sniff(data)
    if kind == "json":
        sealed = parse_sealed_json(data, str(path))
        return _verify_json(path, sealed)
    if kind not in ("pdf", "html"):
        raise NotAReportError(f"{path} is not a MeterLab report (not a PDF, HTML or JSON "
                              f"file).")
    markers = read_markers(data, kind, str(path))
    return _verify_against_database(path, markers, db_path, clock or SystemClock(), store,
                                    workstation)


def _verify_json(path: Path, sealed: SealedJson) -> Verification:
    wrong = check_json(sealed)
    return Verification(path, "json", sealed.run_id, sealed.seal, seal_of(sealed.content),
                        tuple(wrong))


def _verify_against_database(path: Path, markers: Markers, db_path: str | Path | None,
                             clock: Clock, store: LabStore | None,
                             workstation: str | None) -> Verification:
    from app.domain.errors import NotFoundError
    from app.services.reports.build import build_report
    from app.storage.db import open_database
    from app.storage.runs import RunRepo

    if db_path is None:
        from app.storage.db import default_db_path

        db_path = default_db_path()
    if store is None and not Path(db_path).is_file():
        raise NotFoundError("db", f"There is no database at {db_path}; give the one {path} was "
                                  f"made from with --db.")
    db = open_database(db_path)
    try:
        conn = db.conn
        repo = RunRepo(store if store is not None else conn)
        record = repo.get(markers.run_id)
        if record is None:
            where, field_name = ("the lab store", "lab_store") if store is not None else (
                str(db_path), "db")
            raise NotFoundError(field_name, f"{path} is the report of run {markers.run_id}, "
                                            f"which is not in {where}; give the "
                                            f"{'lab store' if store else 'database'} it was "
                                            f"made from.")
        report = build_report(conn, markers.run_id, clock, version="", store=store,
                              workstation=workstation)
        canonical = report.canonical()
        now = seal_of(canonical)
        stored = repo.sealed(markers.run_id)
        stored_seal = record.seal
    finally:
        conn.close()
    found: list[str] = []
    unchecked: tuple[tuple[str, str], ...] = ()
    if report.evidence_here:
        found += evidence_problems(report.record.evidence)
    else:
        unchecked = tuple((e.path, e.sha256) for e in report.record.evidence)
    if now != markers.seal:
        found += _what_changed(markers, canonical, stored)
    if stored_seal is not None and stored_seal != markers.seal:
        found.append(f"the seal stored with run {markers.run_id} is {stored_seal}, the file's "
                     f"is {markers.seal}")
    if now != markers.seal and not found:
        found.append(f"the seal of run {markers.run_id} is {now} now, the file's is "
                     f"{markers.seal}")
    return Verification(path, markers.kind, markers.run_id, markers.seal, now, tuple(found),
                        report.evidence_workstation if unchecked else "", unchecked)


def _what_changed(markers: Markers, canonical: dict[str, Any],
                  stored: tuple[str, str] | None) -> list[str]:
    """What differs between the sealed content (from the HTML itself, else as stored at
    sealing) and the content now."""
    bases: list[str] = []
    if markers.sealed_json:
        bases.append(markers.sealed_json)
    if stored is not None:
        bases.append(stored[1])
    for text in bases:
        try:
            before = json.loads(text)
        except ValueError:
            continue
        if isinstance(before, dict) and seal_of(before) == markers.seal:
            return differences(before, canonical)
    if markers.sealed_json:
        return ["the sealed content inside the file does not match its own seal"]
    return []


def evidence_problems(evidence: Any) -> list[str]:
    """Evidence files missing, shorter than recorded, or whose recorded bytes hash otherwise."""
    problems = []
    for e in evidence:
        p = Path(e.path)
        if not e.path or not p.is_file():
            problems.append(f"evidence file {e.path or '(no path)'} is missing")
            continue
        size = p.stat().st_size
        if size < e.bytes:
            problems.append(f"evidence file {e.path} is shorter than recorded ({size} bytes, "
                            f"{e.bytes} recorded)")
            continue
        if sha256_file(p, e.bytes) != e.sha256:
            problems.append(f"evidence file {e.path} was altered (its first {e.bytes} bytes do "
                            f"not have the recorded SHA-256)")
    return problems
