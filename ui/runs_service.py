"""The test runs service of a window (staff or participant session), built in this one place:
its runs are the lab store's (the workstation's file, or the server shared by the lab's
workstations), their events and evidence the workstation's bench store's."""

from __future__ import annotations

from typing import Any

from app.main import AppContext


def runs_service(ctx: AppContext, actor: str, **options: Any) -> Any:
    """A :class:`app.services.runs.service.RunsService` on `ctx`'s database, acting as `actor`
    (`options`: its keyword arguments, such as ``runtime``, ``principal`` and ``prompts``)."""
    from app.services.runs.service import RunsService

    return RunsService(ctx.db, ctx.db_path, ctx.clock, actor, store=ctx.lab_source, **options)
