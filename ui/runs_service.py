"""The test runs service of a window (staff or participant session), built in this one place.

Test runs are still kept in the workstation's file (its bench store's database), also when the
lab's other data is on a shared lab store: the Runs page then says so in one sentence.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from app.main import AppContext

#: What the Runs page says while the lab store is shared and runs are not.
RUNS_NOT_SHARED = ("Test runs are kept in this workstation's own file, not yet in the lab "
                   "store: other workstations do not see the runs started here.")


def runs_service(ctx: AppContext, actor: str, **options: Any) -> Any:
    """A :class:`app.services.runs.service.RunsService` on `ctx`'s database, acting as `actor`
    (`options`: its keyword arguments, such as ``runtime``, ``principal`` and ``prompts``)."""
    from app.services.runs.service import RunsService

    return RunsService(ctx.db, ctx.db_path, ctx.clock, actor, **options)


def note_runs_not_shared(page: QWidget, ctx: AppContext) -> None:
    """Put :data:`RUNS_NOT_SHARED` at the top of the Runs `page` when `ctx`'s lab store is a
    server's (nothing otherwise)."""
    layout = page.layout()
    if not ctx.shared or layout is None or page.findChild(QLabel, "runsNotShared") is not None:
        return
    note = QLabel(RUNS_NOT_SHARED)
    note.setObjectName("runsNotShared")
    note.setWordWrap(True)
    note.setStyleSheet("QLabel { color: #8a5a00; padding: 2px 4px; }")
    layout.insertWidget(0, note)  # type: ignore[attr-defined]
