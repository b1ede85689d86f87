"""The Audit page on the demo database: offered to admins only; its filters narrow the rows."""

from __future__ import annotations

from app.domain.principals import WORKSTATION_ADMIN, Role, participant, staff
from app.storage.audit import list_audit
from ui.pages.audit import ANY
from ui.pages.registry import PAGES, pages_for


def test_only_admins_are_offered_the_audit_page() -> None:
    assert "audit" in [p.name for p in pages_for(WORKSTATION_ADMIN)]
    assert "audit" in [p.name for p in pages_for(staff("ada", Role.ADMIN))]
    assert "audit" not in [p.name for p in pages_for(staff("sam", Role.STAFF))]
    assert "audit" not in [p.name for p in pages_for(participant("ann@acme.example", 1))]
    assert len(pages_for(WORKSTATION_ADMIN)) == len(PAGES)


def test_filters_narrow_the_rows(qtbot, window, ctx) -> None:
    window.show_page("audit")
    page = window.pages["audit"]
    everything = list_audit(ctx.db)
    assert everything and page.table.rowCount() == len(everything)
    assert page.count_label.text() == f"{len(everything)} rows"
    kinds = [page.entity_combo.itemText(i) for i in range(page.entity_combo.count())]
    assert kinds[0] == ANY and "booking" in kinds and "lab" in kinds
    page.entity_combo.setCurrentText("lab")
    assert page.table.rowCount() == len(list_audit(ctx.db, entity="lab")) >= 1
    assert {page.table.item(r, 3).text() for r in range(page.table.rowCount())} == {"lab"}
    page.entity_combo.setCurrentText(ANY)
    page.actor_combo.setCurrentText("tester")
    assert page.table.rowCount() == len(list_audit(ctx.db, actor="tester"))
    # The demo was made "now": a day after today holds nothing yet.
    page.since_check.setChecked(True)
    page.since_edit.setDate(page.since_edit.date().addDays(30))
    assert page.table.rowCount() == 0 and page.count_label.text() == "0 rows"
