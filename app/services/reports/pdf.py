"""A run's report as a PDF (reportlab, A4, vector plots).

The same report gives the same bytes: reportlab's invariant mode fixes the file's dates and
identifier, and the only time printed is the report's own `generated`. The seal and the run's id
are also in the document's metadata (Subject and Keywords, which reportlab writes uncompressed), so
that a verifier can read them without a PDF parser.

Text is set in Bitstream Vera, which ships with reportlab: accents and dashes print; characters it
lacks (CJK, for instance) come out as blanks instead of stopping the export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.domain.reports import RunReport
from app.services.reports import plots, sections
from app.services.reports.sections import OUTCOME_COLOUR, SEVERITY_COLOUR

Progress = Callable[[float, str], None]

FONT, BOLD = "MeterLab", "MeterLab-Bold"
MARGIN = 40.0
PAGE_W, PAGE_H = A4
BODY_W = PAGE_W - 2 * MARGIN
HEAD_BG = colors.HexColor("#dde3ea")
ZEBRA = colors.HexColor("#f3f4f6")
RULE = colors.HexColor("#b8bec6")
MUTED = colors.HexColor("#555555")
#: the alerts table's row height and font size (it may run to thousands of rows)
ROW_H, ROW_FONT = 9.6, 6.6


def _fonts() -> None:
    """Register the TTF fonts once (reportlab keeps a registry of its own)."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=8, leading=10, alignment=TA_LEFT)
    return {
        "body": base,
        "cell": ParagraphStyle("cell", base, fontSize=7, leading=8.6),
        "head": ParagraphStyle("head", base, fontName=BOLD, fontSize=7, leading=8.6),
        "label": ParagraphStyle("label", base, fontName=BOLD, fontSize=8, leading=10),
        "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=17, leading=21),
        "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=11, leading=14, spaceBefore=10,
                             spaceAfter=4, textColor=colors.HexColor("#1d3557")),
        "note": ParagraphStyle("note", base, fontSize=7, leading=9, textColor=MUTED),
        "verdict": ParagraphStyle("verdict", base, fontName=BOLD, fontSize=30, leading=34,
                                  textColor=colors.white, alignment=1),
        "verdict_label": ParagraphStyle("verdict_label", base, fontName=BOLD, fontSize=7,
                                        leading=8, textColor=colors.white, alignment=1),
        "hash": ParagraphStyle("hash", base, fontSize=6.2, leading=8),
    }


#: a table cell holds at most this many characters: a cell cannot split across pages, and a
#: longer note would not fit on one (the HTML and JSON exports hold the whole text)
CELL_MAX_CHARS = 1500
CELL_MAX_LINES = 40


def _cut(text: str) -> str:
    lines = text.split("\n")
    if len(text) <= CELL_MAX_CHARS and len(lines) <= CELL_MAX_LINES:
        return text
    kept = "\n".join(lines[:CELL_MAX_LINES])[:CELL_MAX_CHARS]
    return f"{kept}… ({len(text) - len(kept):,} more characters in the HTML and JSON exports)"


def _p(text: str, style: ParagraphStyle, colour: str | None = None) -> Paragraph:
    """A paragraph of user text: escaped, line breaks kept, cut if too long for a page."""
    body = escape(_cut(text)).replace("\n", "<br/>")
    if colour:
        body = f'<font color="{colour}"><b>{body}</b></font>'
    return Paragraph(body, style)


# --- plots ------------------------------------------------------------------------------------
class FigureFlowable(Flowable):
    """A :class:`plots.Figure` drawn with the canvas's own vector operators."""

    def __init__(self, figure: plots.Figure) -> None:
        super().__init__()
        self.figure = figure
        self.width, self.height = figure.width, figure.height

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        draw_figure(self.canv, self.figure)


def draw_figure(c: Canvas, fig: plots.Figure) -> None:
    h = fig.height
    c.saveState()
    c.setLineCap(0)
    for item in fig.items:
        if isinstance(item, plots.Rect):
            if item.fill:
                c.setFillColor(colors.HexColor(item.fill))
            if item.stroke:
                c.setStrokeColor(colors.HexColor(item.stroke))
                c.setLineWidth(item.stroke_width)
            c.rect(item.x, h - item.y - item.h, item.w, item.h, stroke=int(bool(item.stroke)),
                   fill=int(bool(item.fill)))
        elif isinstance(item, plots.Line):
            c.setStrokeColor(colors.HexColor(item.stroke))
            c.setLineWidth(item.width)
            c.setDash(list(item.dash) if item.dash else [])
            c.line(item.x1, h - item.y1, item.x2, h - item.y2)
            if item.dash:
                c.setDash([])
        elif isinstance(item, plots.Marker):
            c.setFillColor(colors.HexColor(item.fill))
            x, y, s = item.x, h - item.y, item.size / 2
            if item.shape == "circle":
                c.circle(x, y, s, stroke=0, fill=1)
            elif item.shape == "square":
                c.rect(x - s, y - s, 2 * s, 2 * s, stroke=0, fill=1)
            else:
                path = c.beginPath()
                path.moveTo(x - s, y + s)
                path.lineTo(x + s, y + s)
                path.lineTo(x, y - s)
                path.close()
                c.drawPath(path, stroke=0, fill=1)
        else:
            c.setFillColor(colors.HexColor(item.fill))
            c.setFont(BOLD if item.bold else FONT, item.size)
            y = h - item.y
            if item.anchor == "middle":
                c.drawCentredString(item.x, y, item.text)
            elif item.anchor == "end":
                c.drawRightString(item.x, y, item.text)
            else:
                c.drawString(item.x, y, item.text)
    c.restoreState()


# --- tables -----------------------------------------------------------------------------------
def _table(table: sections.Table, widths: Sequence[float], st: dict[str, ParagraphStyle],
           colour_cols: dict[int, dict[str, str]] | None = None,
           styles: dict[int, ParagraphStyle] | None = None) -> list[Flowable]:
    """A section: its heading and a table that splits across pages with its header repeated."""
    out: list[Flowable] = [CondPageBreak(60), Paragraph(escape(table.title), st["h2"])]
    if not table.rows:
        return [*out, Paragraph(escape(table.empty), st["note"])]
    colour_cols = colour_cols or {}
    styles = styles or {}
    data: list[list[Any]] = [[Paragraph(escape(h), st["head"]) for h in table.headings]]
    for row in table.rows:
        cells = []
        for i, text in enumerate(row):
            colour = colour_cols.get(i, {}).get(text)
            cells.append(_p(text, styles.get(i, st["cell"]), colour))
        data.append(cells)
    scale = BODY_W / sum(widths)
    t = Table(data, colWidths=[w * scale for w in widths], repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return [*out, t]


class RowsFlowable(Flowable):
    """A long table of one-line rows (the alerts): fixed row height and column widths, drawn
    straight on the canvas, split page by page with the header repeated. Platypus's Table takes
    seconds for ten thousand rows; this takes a fraction of that."""

    def __init__(self, headings: Sequence[str], rows: Sequence[tuple[str, ...]],
                 widths: Sequence[float], colours: dict[int, dict[str, str]],
                 lo: int = 0, hi: int | None = None,
                 known: dict[str, int] | None = None) -> None:
        super().__init__()
        self.headings, self.rows, self.widths, self.colours = headings, rows, widths, colours
        self.known = {} if known is None else known
        self.lo, self.hi = lo, len(rows) if hi is None else hi
        self.width = sum(widths)
        self.height = ROW_H * (1 + self.hi - self.lo)

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def split(self, avail_w: float, avail_h: float) -> list[Flowable]:
        fits = int(avail_h // ROW_H) - 1
        if fits < 3:
            return []
        if fits >= self.hi - self.lo:
            return [self]
        cut = self.lo + fits
        return [RowsFlowable(self.headings, self.rows, self.widths, self.colours, self.lo, cut,
                             self.known),
                RowsFlowable(self.headings, self.rows, self.widths, self.colours, cut, self.hi,
                             self.known)]

    def draw(self) -> None:
        c, h, w = self.canv, self.height, self.width
        c.setFillColor(HEAD_BG)
        c.rect(0, h - ROW_H, w, ROW_H, stroke=0, fill=1)
        c.setFillColor(ZEBRA)
        for i in range(1, self.hi - self.lo, 2):
            c.rect(0, h - ROW_H * (i + 2), w, ROW_H, stroke=0, fill=1)
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(0, h - ROW_H, w, h - ROW_H)
        lefts = [sum(self.widths[:i]) + 3 for i in range(len(self.widths))]
        room = [wd - 5 for wd in self.widths]
        text = c.beginText()
        text.setFont(BOLD, ROW_FONT)
        text.setFillColor(colors.black)
        base = h - ROW_H + 2.8
        for x, cell in zip(lefts, self.headings):
            text.setTextOrigin(x, base)
            text.textOut(cell)
        text.setFont(FONT, ROW_FONT)
        # Cells are written grouped by colour: one colour change per colour and page.
        by_colour: dict[str | None, list[tuple[float, float, str]]] = {None: []}
        for k in range(self.lo, self.hi):
            y = base - ROW_H * (k - self.lo + 1)
            for i, cell in enumerate(self.rows[k]):
                if cell:
                    colour = self.colours.get(i, {}).get(cell)
                    shown = _fit_width(cell, room[i], self.known)
                    by_colour.setdefault(colour, []).append((lefts[i], y, shown))
        for colour, cells in by_colour.items():
            text.setFillColor(colors.HexColor(colour) if colour else colors.black)
            for x, y, shown in cells:
                text.setTextOrigin(x, y)
                # _textOut writes at the origin just set; textOut would also measure the
                # string to advance a cursor this table does not use (a third of the time).
                text._textOut(shown)
        c.drawText(text)


#: digits all have the same advance in Vera: times and numbers of one shape have one width
_SHAPE = str.maketrans("0123456789", "0000000000")


def _fit_width(text: str, room: float, known: dict[str, int]) -> str:
    """`text`, cut with an ellipsis if wider than `room` at the table's size; `known` holds
    how many characters of each shape of text fit (-1: all)."""
    shape = text.translate(_SHAPE)
    keep = known.get(shape)
    if keep is None:
        keep = -1
        if pdfmetrics.stringWidth(text, FONT, ROW_FONT) > room:
            keep = len(text)
            while keep and pdfmetrics.stringWidth(text[:keep] + "…", FONT, ROW_FONT) > room:
                keep -= 1
        known[shape] = keep
    return text if keep < 0 else text[:keep] + "…"


# --- the document -----------------------------------------------------------------------------
def _title_block(report: RunReport, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    r = report.record
    verdict = sections.verdict_text(report)
    banner = Table([[Paragraph("VERDICT", st["verdict_label"])],
                    [Paragraph(escape(verdict), st["verdict"])]], colWidths=[170],
                   rowHeights=[12, 38], hAlign="LEFT")
    banner.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(OUTCOME_COLOUR.get(verdict, "#444"))),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    title = [Paragraph(f"Test report: run {r.id}", st["title"]),
             _p(f"{r.plan_name} on {r.bench}", st["body"]),
             _p(f"{report.context.lab_name or 'MeterLab'} · {r.org_name or 'no organisation'}",
                st["body"])]
    head = Table([[title, banner]], colWidths=[BODY_W - 175, 175], hAlign="LEFT")
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    rows = [[Paragraph(escape(k), st["label"]), _p(v, st["body"])]
            for k, v in sections.summary(report)]
    info = Table(rows, colWidths=[90, BODY_W - 90], hAlign="LEFT")
    info.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("TOPPADDING", (0, 0), (-1, -1), 1),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("LINEABOVE", (0, 0), (-1, 0), 0.6, RULE),
                              ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE)]))
    return [head, Spacer(1, 8), info]


def _figure(fig: plots.Figure, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    return [KeepTogether([Paragraph(escape(fig.title), st["h2"]), FigureFlowable(fig),
                          Paragraph(escape(fig.note), st["note"])])]


def flowables(report: RunReport, seal: str | None = None) -> list[Flowable]:
    """The report's content, in order (`seal`: the report's seal, if already computed)."""
    _fonts()
    st = _styles()
    story = _title_block(report, st)
    story += _table(sections.steps(report), (14, 118, 44, 114, 32, 26, 50, 117), st,
                    {6: OUTCOME_COLOUR})
    story += _table(sections.measurements(report), (22, 90, 60, 30, 110, 48, 90), st,
                    {5: OUTCOME_COLOUR})
    story += _table(sections.devices(report), (90, 45, 100, 70, 70, 70, 50), st)
    story += _figure(plots.alert_timeline(report, BODY_W), st)
    story += _figure(plots.outage_plot(report, BODY_W), st)
    story += _table(sections.outages(report), (14, 32, 62, 62, 38, 62, 62, 38, 38, 56), st)
    story += _table(sections.answers(report), (24, 140, 40, 300), st)
    story += _table(sections.alert_codes(report), (26, 160, 50, 30, 26, 80, 80), st,
                    {2: SEVERITY_COLOUR})
    story += [CondPageBreak(60), Paragraph("Alerts", st["h2"])]
    rows = list(sections.alert_rows(report))
    if rows:
        story.append(RowsFlowable(
            sections.ALERT_HEADINGS, rows, (26, 84, 24, 42, 118, 118, 34, 30, 22),
            {3: SEVERITY_COLOUR, 8: {"LATE": "#c62828"}}))
    else:
        story.append(Paragraph("No alert in the run's window.", st["note"]))
    story += _table(sections.evidence(report), (64, 160, 35, 256), st,
                    styles={3: st["hash"]})
    story += [CondPageBreak(60), Paragraph("Seal", st["h2"]),
              Paragraph("The SHA-256 of the run's canonical record (its plan, parameters, "
                        "devices, steps, measurements, alerts, outages and the SHA-256 of every "
                        "evidence file). <i>meterlab report verify</i> recomputes it.", st["note"])]
    for label, value in sections.seal_lines(report, seal):
        story.append(Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", st["body"]))
    return story


def _canvas_maker(report: RunReport) -> type[Canvas]:
    """A canvas that holds its pages back until the end, to print "page X of Y" and the header
    on each."""
    r = report.record
    left_head = " · ".join(p for p in ("MeterLab", report.context.lab_name) if p)
    right_head = f"Run {r.id} · {r.plan_name} · {sections.verdict_text(report)}"
    left_foot = (f"MeterLab {report.version or ''}".rstrip()
                 + f" · generated {sections.generated_text(report)}")

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self._furniture(number, total)
                super().showPage()
            super().save()

        def _furniture(self, number: int, total: int) -> None:
            self.saveState()
            self.setFont(FONT, 7)
            self.setFillColor(MUTED)
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            top = PAGE_H - MARGIN + 14
            self.drawString(MARGIN, top, left_head)
            self.drawRightString(PAGE_W - MARGIN, top, right_head)
            self.line(MARGIN, top - 4, PAGE_W - MARGIN, top - 4)
            bottom = MARGIN - 20
            self.line(MARGIN, bottom + 9, PAGE_W - MARGIN, bottom + 9)
            self.drawString(MARGIN, bottom, left_foot)
            self.drawRightString(PAGE_W - MARGIN, bottom, f"page {number} of {total}")
            self.restoreState()

    return NumberedCanvas


def metadata(report: RunReport, seal: str | None = None) -> dict[str, str]:
    """The document's Info: the seal and run id markers are in Subject and Keywords."""
    seal = seal or report.seal()
    r = report.record
    markers = f"MeterLab-Seal: {seal} MeterLab-Run: {r.id}"
    return {
        "title": f"MeterLab test report: run {r.id}, {r.plan_name} ({sections.verdict_text(report)})",
        "author": report.context.lab_name or "MeterLab",
        "subject": markers,
        "keywords": markers,
        "creator": f"MeterLab {report.version}".rstrip(),
    }


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Page streams compressed but not ASCII85-encoded while the document is written: the
    encoding is pure Python and costs a tenth of a large report's time for nothing (the file is
    binary either way). reportlab reads this setting when it makes each stream."""
    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before


def write_pdf(report: RunReport, path: str | Path, progress: Progress | None = None) -> None:
    """Write `report` as an A4 PDF at `path`.

    Args:
        progress: called with (fraction done, what) as pages are laid out.
    """
    if progress:
        progress(0.0, "Laying out the report")
    seal = report.seal()
    story = flowables(report, seal)
    est_pages = 3 + len(report.alerts) // 78
    meta = metadata(report, seal)
    doc = BaseDocTemplate(str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN, invariant=1,
                          title=meta["title"], author=meta["author"], subject=meta["subject"],
                          keywords=meta["keywords"], creator=meta["creator"],
                          producer="MeterLab (reportlab)")
    frame = Frame(MARGIN, MARGIN, BODY_W, PAGE_H - 2 * MARGIN, id="body", leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    if progress:
        done = [0.0]

        def on_progress(kind: str, value: int) -> None:
            if kind == "PAGE":
                fraction = min(0.1 + 0.85 * value / max(est_pages, 1), 0.95)
                if fraction > done[0]:
                    done[0] = fraction
                    progress(fraction, f"Page {value}")

        doc.setProgressCallBack(on_progress)
    with _binary_streams():
        doc.build(story, canvasmaker=_canvas_maker(report))
    if progress:
        progress(1.0, "Written")
