"""`meterlab induction show` and `induction record`: a person's inductions as JSON and as a PDF."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.cli import EXIT_BAD_INPUT, EXIT_OK, main
from app.domain.clock import FixedClock
from app.domain.parsing import parse_now
from app.main import build_context
from app.services.inductions import InductionService, countersign
from tests.cli.helpers import dump
from tests.services.test_inductions import accounts_of

NOW = "2026-11-25T10:00+00:00"


def meterlab(capsys, db: Path, *args: str):  # type: ignore[no-untyped-def]
    code = main(["--db", str(db), "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Ann inducted elsewhere; Bob given the induction at the workstation."""
    path = tmp_path / "lab.db"
    ctx = build_context(path, FixedClock(parse_now(NOW)), actor="tester")
    ctx.lab_service.add_lab("Winchester", 10, benches=2)
    ctx.lab_service.add_org("Acme Energy", "IS", "")
    ctx.lab_service.add_person("Acme Energy", "Ann Able", "ann@acme.example")
    ctx.lab_service.add_person("Acme Energy", "Bob Baker", "bob@acme.example")
    ctx.lab_service.induct("ann@acme.example", "Winchester", date(2026, 10, 1), "Lab staff",
                           reason="held on an earlier visit")
    lab = ctx.labs.resolve("Winchester")
    service = InductionService.of(ctx, content_dir=tmp_path / "none")
    service.record(lab, ctx.people.find_by_email("bob@acme.example"), service.content(lab),
                   "Bob Baker", countersign(accounts_of(ctx), "Sam Staff", "s3cret"))
    ctx.close()
    return path


def test_show_lists_the_record_with_content_hash_and_both_names(db, capsys) -> None:
    code, out, err = meterlab(capsys, db, "induction", "show", "--person", "bob@acme.example")
    assert code == EXIT_OK, err
    assert (out["person"], out["org"]) == ("Bob Baker", "Acme Energy")
    [ind] = out["inductions"]
    assert ind["lab"] == "Winchester" and ind["valid_until"] == "2027-11-24"
    assert len(ind["content_sha256"]) == 64 and ind["content_version"] == "2026.1"
    assert (ind["participant_signature"], ind["countersigned_by"]) == ("Bob Baker", "Sam Staff")
    assert ind["valid_today"] is True and ind["given_at_workstation"] is True
    code, out, _ = meterlab(capsys, db, "induction", "show", "--person", "ann@acme.example")
    assert out["inductions"][0]["given_at_workstation"] is False


def test_record_writes_a_pdf_the_same_each_time(db, tmp_path, capsys) -> None:
    pdf = tmp_path / "bob.pdf"
    code, out, err = meterlab(capsys, db, "induction", "record", "--person", "bob@acme.example",
                              "--pdf", str(pdf))
    assert code == EXIT_OK, err
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and out["file"] == str(pdf)
    assert out["induction"]["countersigned_by"] == "Sam Staff"
    assert meterlab(capsys, db, "induction", "record", "--person", "bob@acme.example",
                    "--pdf", str(tmp_path / "again.pdf"))[0] == EXIT_OK
    assert (tmp_path / "again.pdf").read_bytes() == data
    code, _, err = meterlab(capsys, db, "induction", "record", "--person", "ann@acme.example",
                            "--pdf", str(tmp_path / "ann.pdf"), "--lab", "Winchester")
    assert code == EXIT_OK, err


@pytest.mark.parametrize(("args", "says"), [
    (["show", "--person", "nobody@acme.example"], "--person: There is no person"),
    (["record", "--person", "nobody@acme.example", "--pdf", "X"], "--person: There is no person"),
    (["record", "--person", "bob@acme.example", "--pdf", "missing/x.pdf"], "--pdf: Folder"),
    (["record", "--person", "bob@acme.example", "--pdf", "X", "--lab", "Nowhere"], "--lab:"),
])
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(db, tmp_path, capsys, args,
                                                              says) -> None:
    args = [str(tmp_path / "out.pdf") if a == "X" else a for a in args]
    args = [str(tmp_path / a) if a.startswith("missing") else a for a in args]
    before = dump(db)
    code, out, err = meterlab(capsys, db, "induction", *args)
    assert code == EXIT_BAD_INPUT and out is None
    assert says in err and err.count("\n") == 1
    assert dump(db) == before and not (tmp_path / "out.pdf").exists()


def test_no_induction_recorded_is_bad_input(tmp_path, capsys) -> None:
    path = tmp_path / "empty.db"
    ctx = build_context(path, FixedClock(parse_now(NOW)), actor="tester")
    ctx.lab_service.add_org("Acme Energy", "IS", "")
    ctx.lab_service.add_person("Acme Energy", "Cy New", "cy@acme.example")
    ctx.close()
    code, _, err = meterlab(capsys, path, "induction", "record", "--person", "cy@acme.example",
                            "--pdf", str(tmp_path / "cy.pdf"))
    assert code == EXIT_BAD_INPUT and "Cy New has no induction recorded" in err
