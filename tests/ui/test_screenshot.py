"""`meterlab --screenshot` renders the main window into a PNG and exits."""

from __future__ import annotations

from PySide6.QtGui import QImage

from app.cli import main


def test_screenshot_writes_png(qtbot, tmp_path) -> None:
    png = tmp_path / "shot.png"
    code = main(["--db", str(tmp_path / "s.db"), "--now", "2026-11-25T10:00+00:00",
                 "--screenshot", str(png), "--page", "bookings", "--after", "0.1"])
    assert code == 0
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() >= 1280 and image.height() >= 800


def test_screenshot_of_placeholder_page(qtbot, tmp_path) -> None:
    png = tmp_path / "devices.png"
    assert main(["--db", str(tmp_path / "s.db"), "--screenshot", str(png), "--page", "Devices",
                 "--no-demo"]) == 0
    assert QImage(str(png)).width() >= 1280


def test_unknown_page_is_bad_input(qtbot, tmp_path, capsys) -> None:
    code = main(["--db", str(tmp_path / "s.db"), "--screenshot", str(tmp_path / "x.png"),
                 "--page", "kitchen"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--page" in err and "bookings, devices, live" in err
    assert not (tmp_path / "x.png").exists()


def test_with_staff_accounts_a_screenshot_acts_as_the_os_login(tmp_path, monkeypatch) -> None:
    """Nobody is at a lock screen: the OS login's staff account, or a refusal (exit 3)."""
    import io
    import sys as _sys

    from app.cli import main as cli_main

    db = tmp_path / "lab.db"
    monkeypatch.setattr(_sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a long password\n")))
    assert cli_main(["--db", str(db), "staff", "add", "--name", "Ada", "--role", "admin",
                     "--login", "ada", "--password-stdin"]) == 0
    monkeypatch.setenv("LOGNAME", "zed")
    assert cli_main(["--db", str(db), "--screenshot", str(tmp_path / "z.png")]) == 3
    assert not (tmp_path / "z.png").exists()
    monkeypatch.setenv("LOGNAME", "ada")
    assert cli_main(["--db", str(db), "--screenshot", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 0
