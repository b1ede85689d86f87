"""The participant's completion report as an A4 PDF (reportlab platypus, invariant mode).

The same campaign gives the same bytes: reportlab's invariant mode fixes the file's dates and
identifier, and nothing here reads a clock. The campaign seal is in the document's Subject and
Keywords as ``MeterLab-Campaign-Seal: <hex>``; the document information dictionary is not
compressed, so a verifier finds it in the file's bytes without a PDF parser.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.domain.runs import VERDICT_ORDER, Verdict

if TYPE_CHECKING:
    from app.services.reports.campaign import Campaign, CampaignGroup, CampaignRun

#: Verdict -> fill colour of its cell (white text on it).
VERDICT_COLOURS = {
    Verdict.PASS: colors.HexColor("#1B7F3B"), Verdict.MARGINAL: colors.HexColor("#B26A00"),
    Verdict.FAIL: colors.HexColor("#C62828"), Verdict.ERROR: colors.HexColor("#6A1B9A"),
    Verdict.ABORTED: colors.HexColor("#616161"),
}
_GRID = colors.HexColor("#B0B7BF")
_HEAD = colors.HexColor("#E8ECF0")
_MARGIN = 18 * mm
_WIDTH = A4[0] - 2 * _MARGIN

_BASE = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_BASE["BodyText"], fontSize=9, leading=11.5)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=9)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=8, leading=9.5, alignment=TA_LEFT)
_MONO = ParagraphStyle("mono", parent=_CELL, fontName="Courier", fontSize=7.5, leading=9)
_SEAL = ParagraphStyle("seal", parent=_BODY, fontName="Courier-Bold", fontSize=9, leading=12)
_H1 = ParagraphStyle("h1", parent=_BASE["Title"], fontSize=18, leading=22, alignment=TA_LEFT,
                     spaceAfter=4)
_H2 = ParagraphStyle("h2", parent=_BASE["Heading2"], fontSize=12.5, leading=15, spaceBefore=10,
                     spaceAfter=4)
_ALERT = ParagraphStyle("alert", parent=_BODY, textColor=VERDICT_COLOURS[Verdict.FAIL])


def write_pdf(campaign: Campaign, path: Path,
              progress: Callable[[float, str], None] | None = None) -> None:
    """Lay `campaign` out and write it to `path` (written whole, once laid out)."""
    tell = progress or (lambda fraction, what: None)
    tell(0.0, "laying out the campaign report")
    seal = campaign.seal
    story = _story(campaign, seal)
    tell(0.5, "writing the PDF")
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=22 * mm,
        bottomMargin=18 * mm, invariant=1,
        title=f"Completion report: {campaign.org_name}", author="MeterLab",
        creator=f"MeterLab {campaign.version}".strip(),
        subject=f"MeterLab-Campaign-Seal: {seal}",
        keywords=f"MeterLab-Campaign-Seal: {seal}, MeterLab-Org: {campaign.org_id}")
    doc.build(story, canvasmaker=_numbered_canvas(campaign))
    path.write_bytes(buffer.getvalue())
    tell(1.0, "campaign report written")


def _p(text: str, style: ParagraphStyle = _CELL) -> Paragraph:
    """A paragraph of user text (escaped)."""
    return Paragraph(escape(text), style)


def _when(campaign: Campaign, run: CampaignRun) -> str:
    return campaign.local(run.started).strftime("%Y-%m-%d %H:%M %z")


def _story(c: Campaign, seal: str) -> list[Any]:
    story: list[Any] = [
        Paragraph("Completion report", _H1),
        Paragraph(f"<b>{escape(c.org_name)}</b>", ParagraphStyle("org", parent=_BODY,
                                                                 fontSize=13, leading=16)),
        Spacer(1, 6),
        _facts(c),
        Paragraph("Summary", _H2),
        _summary(c),
        Spacer(1, 4),
        Paragraph("Campaign seal (SHA-256 over the seals of the runs listed below):", _SMALL),
        Paragraph(seal, _SEAL),
    ]
    story += _open_failures(c)
    story += _notes(c)
    for plan in c.plans:
        groups = [g for g in c.groups if g.plan_name == plan]
        story.append(KeepTogether([Paragraph(f"Plan {escape(plan)}", _H2), _plan_table(c, groups)]))
    story.append(Paragraph("Runs and their seals", _H2))
    story.append(_runs_table(c))
    return story


def _facts(c: Campaign) -> Table:
    rows = [
        ("Organisation", f"{c.org_name} (id {c.org_id})"),
        ("Period", f"{c.period_text()} (lab time, {c.timezone})"),
        ("Role", c.role or "all roles"),
        ("Generated", c.local(c.generated).strftime("%Y-%m-%d %H:%M:%S %z")
         + (f" by MeterLab {c.version}" if c.version else "")),
    ]
    table = Table([[_p(k, _SMALL), _p(v)] for k, v in rows], colWidths=[30 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _summary(c: Campaign) -> Table:
    counts = c.counts
    head = ["Runs", "Plans", "Devices", *(v.value for v in VERDICT_ORDER)]
    values = [str(len(c.runs)), str(len(c.plans)), str(len(c.devices)),
              *(str(counts[v]) for v in VERDICT_ORDER)]
    table = Table([head, values], colWidths=[_WIDTH / len(head)] * len(head))
    style = [("GRID", (0, 0), (-1, -1), 0.5, _GRID), ("BACKGROUND", (0, 0), (2, 0), _HEAD),
             ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTSIZE", (0, 0), (-1, -1), 9),
             ("FONTSIZE", (0, 1), (-1, 1), 13), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
             ("BOTTOMPADDING", (0, 1), (-1, 1), 6)]
    for i, verdict in enumerate(VERDICT_ORDER, start=3):
        style += [("BACKGROUND", (i, 0), (i, 0), VERDICT_COLOURS[verdict]),
                  ("TEXTCOLOR", (i, 0), (i, 0), colors.white)]
    table.setStyle(TableStyle(style))
    return table


def _open_failures(c: Campaign) -> list[Any]:
    failures = c.open_failures
    out: list[Any] = [Paragraph("Failures still open", _H2)]
    if not failures:
        out.append(_p("None: every plan that failed on a device has passed on it since.", _BODY))
        return out
    out.append(Paragraph(f"<b>{len(failures)} failure(s) still open</b>: these plans failed on "
                         "these devices and have not passed on them since.", _ALERT))
    rows: list[list[Any]] = [[_p("Plan"), _p("Device under test"), _p("Failed runs"),
                              _p("Since then, not tested")]]
    for f in failures:
        failed = ", ".join(f"#{r.run_id} ({_when(c, r)})" for r in f.failed)
        untested = ", ".join(f"#{r.run_id} {r.verdict.value}" for r in f.untested) or "-"
        rows.append([_p(f.plan_name), _p(f.device_key), _p(failed), _p(untested)])
    table = Table(rows, colWidths=[30 * mm, 55 * mm, None, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID), ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
        ("BOX", (0, 0), (-1, -1), 1.5, VERDICT_COLOURS[Verdict.FAIL]),
        ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    out.append(table)
    return out


def _notes(c: Campaign) -> list[Any]:
    out: list[Any] = []
    untested = c.untested
    if untested:
        out.append(Paragraph("Runs that did not test the device", _H2))
        for run in untested:
            why = ("a bench fault (ERROR)" if run.verdict is Verdict.ERROR
                   else "the run was aborted")
            out.append(_p(f"Run #{run.run_id} of {run.plan_name} on {run.device_key} "
                          f"({_when(c, run)}): not tested, because of {why}.", _BODY))
    changed = [r for r in c.runs if r.seal_changed]
    if changed:
        out.append(Paragraph("Runs whose data changed since they were sealed", _H2))
        for run in changed:
            out.append(_p(f"Run #{run.run_id}: sealed {run.stored_seal}, its data now gives "
                          f"{run.seal}.", _ALERT))
    return out


def _verdict_cell(c: Campaign, group: CampaignGroup) -> list[Any]:
    latest = group.latest
    cell: list[Any] = [Paragraph(f"<b>{latest.verdict.value}</b>", ParagraphStyle(
        "v", parent=_CELL, textColor=colors.white))]
    if not latest.tested:
        tested = group.last_tested
        note = (f"not tested; last tested: {tested.verdict.value} (#{tested.run_id})"
                if tested else "never tested")
        cell.append(Paragraph(escape(note), ParagraphStyle("vn", parent=_SMALL,
                                                           textColor=colors.white)))
    return cell


def _plan_table(c: Campaign, groups: list[CampaignGroup]) -> Table:
    rows: list[list[Any]] = [[_p("Device under test"), _p("Runs"), _p("Latest verdict"),
                              _p("Last run")]]
    style = [("GRID", (0, 0), (-1, -1), 0.5, _GRID), ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for i, g in enumerate(groups, start=1):
        verdicts = " ".join(f"#{r.run_id} {r.verdict.value}" for r in g.runs)
        rows.append([_p(g.device_key), _p(f"{len(g.runs)}: {verdicts}"), _verdict_cell(c, g),
                     _p(f"#{g.latest.run_id}, {_when(c, g.latest)}")])
        style.append(("BACKGROUND", (2, i), (2, i), VERDICT_COLOURS[g.latest_verdict]))
    table = Table(rows, colWidths=[62 * mm, None, 33 * mm, 38 * mm], repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _runs_table(c: Campaign) -> Table:
    """One row per run, and under it a row with its seal (whole, on one line)."""
    rows: list[list[Any]] = [[_p("Run"), _p("Started"), _p("Plan, device under test, bench"),
                              _p("Verdict")]]
    style = [("GRID", (0, 0), (-1, -1), 0.5, _GRID), ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for r in c.runs:
        what = (f"<b>{escape(r.plan_name)}</b> {escape(r.plan_version)}, "
                f"{escape(r.device_key)}, {escape(r.bench)}"
                + (" (emulated)" if r.emulated else ""))
        i = len(rows)
        colour = VERDICT_COLOURS[r.verdict].hexval()[2:]
        rows.append([_p(f"#{r.run_id}"), _p(_when(c, r)), Paragraph(what, _CELL),
                     Paragraph(f'<font color="#{colour}"><b>{r.verdict.value}</b></font>',
                               _CELL)])
        rows.append([Paragraph(f"seal {r.seal}", _MONO), "", "", ""])
        style += [("SPAN", (0, i + 1), (-1, i + 1)),
                  ("LINEABOVE", (0, i + 1), (-1, i + 1), 0.25, _HEAD),
                  ("TOPPADDING", (0, i + 1), (-1, i + 1), 0)]
    table = Table(rows, colWidths=[13 * mm, 36 * mm, None, 20 * mm], repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _numbered_canvas(c: Campaign) -> type[Canvas]:
    """A canvas that draws the header and the "page X of Y" footer once it knows Y."""
    header_left = f"MeterLab completion report: {c.org_name}"
    header_right = f"{c.period_text()}" + (f", role {c.role}" if c.role else "")
    generated = c.local(c.generated).strftime("%Y-%m-%d %H:%M %z")
    footer_left = f"MeterLab {c.version} - generated {generated}".replace("  ", " ")

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            width, height = A4
            self.saveState()
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.HexColor("#444444"))
            self.drawString(_MARGIN, height - 13 * mm, header_left[:90])
            self.drawRightString(width - _MARGIN, height - 13 * mm, header_right)
            self.setStrokeColor(_GRID)
            self.line(_MARGIN, height - 15 * mm, width - _MARGIN, height - 15 * mm)
            self.line(_MARGIN, 13 * mm, width - _MARGIN, 13 * mm)
            self.drawString(_MARGIN, 9 * mm, footer_left)
            self.drawRightString(width - _MARGIN, 9 * mm, f"page {number} of {total}")
            self.restoreState()

    return NumberedCanvas
