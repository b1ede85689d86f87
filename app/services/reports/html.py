"""A run's report as one self-contained HTML file: inline CSS (with print rules), inline SVG plots,
no scripts and nothing fetched from elsewhere.

Every piece of text that came from a person or a device is escaped. The seal and the run's id are
in <meta> tags, and the sealed canonical JSON is embedded in
``<script type="application/json" id="meterlab-sealed">`` so that `report verify` can recompute
the seal from the file alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from app.domain.reports import RunReport, canonical_json, seal_of
from app.services.reports import plots, sections
from app.services.reports.sections import OUTCOME_COLOUR, SEVERITY_COLOUR

CSS = """
:root { --rule: #b8bec6; --head: #dde3ea; --zebra: #f3f4f6; --muted: #555; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Verdana, "Segoe UI", Arial, sans-serif; font-size: 13px;
       color: #222; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem; line-height: 1.35; }
header.page, footer.page { color: var(--muted); font-size: 11px; display: flex;
       justify-content: space-between; border-bottom: 1px solid var(--rule); padding: 2px 0; }
footer.page { border-top: 1px solid var(--rule); border-bottom: 0; margin-top: 2rem; }
.top { display: flex; justify-content: space-between; align-items: flex-end; gap: 1rem;
       margin: 1rem 0 .6rem; }
h1 { font-size: 24px; margin: 0; }
h2 { font-size: 16px; color: #1d3557; margin: 1.4rem 0 .4rem; }
.verdict { color: #fff; text-align: center; min-width: 13rem; padding: .2rem 1rem .4rem; }
.verdict small { display: block; font-size: 10px; font-weight: bold; letter-spacing: .05em; }
.verdict strong { font-size: 40px; line-height: 1.1; }
table { border-collapse: collapse; width: 100%; font-size: 11px; }
th { background: var(--head); text-align: left; border-bottom: 1px solid var(--rule); }
th, td { padding: 2px 5px; vertical-align: top; }
tbody tr:nth-child(even) { background: var(--zebra); }
table.info th { background: none; width: 9rem; border: 0; font-size: 12px; }
table.info td { font-size: 12px; }
table.info { border-top: 1px solid var(--rule); border-bottom: 1px solid var(--rule); }
.hash, .mono { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 10px;
       overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 11px; margin: .2rem 0; }
figure { margin: 0; }
svg { display: block; max-width: 100%; height: auto; }
.outcome { font-weight: bold; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10px; }
  table { font-size: 9px; }
  thead { display: table-header-group; }
  tr, figure { break-inside: avoid; }
  h2 { break-after: avoid; }
  .verdict, th, tbody tr:nth-child(even) { -webkit-print-color-adjust: exact;
       print-color-adjust: exact; }
}
"""

#: the plots' width in SVG user units (points, as in the PDF)
PLOT_W = 515.0


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def sealed_json(canonical: dict[str, Any]) -> str:
    """The canonical JSON, safe inside a <script> element: every "<" is written \\u003c (so
    neither "</script>" nor "<!--" can appear), which JSON reads back as the same text."""
    return canonical_json(canonical).decode("utf-8").replace("<", "\\u003c")


def svg(fig: plots.Figure) -> str:
    """A :class:`plots.Figure` as an inline SVG element."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {fig.width:g} '
             f'{fig.height:g}" width="{fig.width:g}" height="{fig.height:g}" role="img" '
             f'aria-label="{_e(fig.title)}" font-family="DejaVu Sans, Verdana, sans-serif">']
    for item in fig.items:
        if isinstance(item, plots.Rect):
            stroke = (f' stroke="{item.stroke}" stroke-width="{item.stroke_width:g}"'
                      if item.stroke else "")
            parts.append(f'<rect x="{item.x:g}" y="{item.y:g}" width="{item.w:g}" '
                         f'height="{item.h:g}" fill="{item.fill or "none"}"{stroke}/>')
        elif isinstance(item, plots.Line):
            dash = (f' stroke-dasharray="{",".join(f"{d:g}" for d in item.dash)}"'
                    if item.dash else "")
            parts.append(f'<line x1="{item.x1:g}" y1="{item.y1:g}" x2="{item.x2:g}" '
                         f'y2="{item.y2:g}" stroke="{item.stroke}" '
                         f'stroke-width="{item.width:g}"{dash}/>')
        elif isinstance(item, plots.Marker):
            x, y, s = item.x, item.y, item.size / 2
            if item.shape == "circle":
                parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="{s:g}" fill="{item.fill}"/>')
            elif item.shape == "square":
                parts.append(f'<rect x="{x - s:g}" y="{y - s:g}" width="{2 * s:g}" '
                             f'height="{2 * s:g}" fill="{item.fill}"/>')
            else:
                parts.append(f'<path d="M{x - s:g} {y - s:g}H{x + s:g}L{x:g} {y + s:g}Z" '
                             f'fill="{item.fill}"/>')
        else:
            weight = ' font-weight="bold"' if item.bold else ""
            parts.append(f'<text x="{item.x:g}" y="{item.y:g}" font-size="{item.size:g}" '
                         f'fill="{item.fill}" text-anchor="{item.anchor}"{weight}>'
                         f'{_e(item.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(table: sections.Table, colours: dict[int, dict[str, str]] | None = None,
           mono: tuple[int, ...] = ()) -> str:
    out = [f"<section><h2>{_e(table.title)}</h2>"]
    if not table.rows:
        return "".join([*out, f'<p class="note">{_e(table.empty)}</p></section>'])
    out.append(_grid(table.headings, table.rows, colours or {}, mono))
    out.append("</section>")
    return "".join(out)


def _grid(headings: tuple[str, ...], rows: Iterable[tuple[str, ...]],
          colours: dict[int, dict[str, str]], mono: tuple[int, ...] = ()) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in headings),
           "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            colour = colours.get(i, {}).get(cell)
            attrs = f' class="outcome" style="color:{colour}"' if colour else ""
            if i in mono:
                attrs = ' class="hash"'
            out.append(f"<td{attrs}>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _figure(fig: plots.Figure) -> str:
    return (f"<section><h2>{_e(fig.title)}</h2><figure>{svg(fig)}"
            f'<figcaption class="note">{_e(fig.note)}</figcaption></figure></section>')


def render_html(report: RunReport) -> str:
    """The report as one HTML document (text)."""
    r = report.record
    canonical = report.canonical()
    seal = seal_of(canonical)
    verdict = sections.verdict_text(report)
    lab = report.context.lab_name
    title = f"MeterLab test report: run {r.id}, {r.plan_name} ({verdict})"
    place = f"{lab or 'MeterLab'} · {r.org_name or 'no organisation'}"
    head = " · ".join(p for p in ("MeterLab", lab) if p)
    foot = (f"MeterLab {report.version}".rstrip()
            + f" · generated {sections.generated_text(report)}")
    info = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                   for k, v in sections.summary(report))
    seal_rows = "".join(f'<p><strong>{_e(k)}:</strong> <span class="hash">{_e(v)}</span></p>'
                        for k, v in sections.seal_lines(report, seal))
    alerts = sections.alert_rows(report)
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{_e(("MeterLab " + report.version).rstrip())}">',
        f'<meta name="meterlab-seal" content="{seal}">',
        f'<meta name="meterlab-run" content="{r.id}">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f'<header class="page"><span>{_e(head)}</span>'
        f"<span>{_e(f'Run {r.id} · {r.plan_name} · {verdict}')}</span></header>",
        '<div class="top"><div>',
        f"<h1>Test report: run {r.id}</h1>",
        f"<div>{_e(f'{r.plan_name} on {r.bench}')}</div>",
        f"<div>{_e(place)}</div></div>",
        f'<div class="verdict" style="background:{OUTCOME_COLOUR.get(verdict, "#444")}">'
        f"<small>VERDICT</small><strong>{_e(verdict)}</strong></div></div>",
        f'<table class="info"><tbody>{info}</tbody></table>',
        _table(sections.steps(report), {6: OUTCOME_COLOUR}),
        _table(sections.measurements(report), {5: OUTCOME_COLOUR}),
        _table(sections.devices(report)),
        _figure(plots.alert_timeline(report, PLOT_W)),
        _figure(plots.outage_plot(report, PLOT_W)),
        _table(sections.outages(report)),
        _table(sections.answers(report)),
        _table(sections.alert_codes(report), {2: SEVERITY_COLOUR}),
        "<section><h2>Alerts</h2>",
        (_grid(sections.ALERT_HEADINGS, alerts, {3: SEVERITY_COLOUR, 8: {"LATE": "#c62828"}})
         if report.alerts else '<p class="note">No alert in the run\'s window.</p>'),
        "</section>",
        _table(sections.evidence(report), mono=(3,)),
        "<section><h2>Seal</h2>",
        '<p class="note">The SHA-256 of the run\'s canonical record (its plan, parameters, '
        "devices, steps, measurements, alerts, outages and the SHA-256 of every evidence "
        "file). <em>meterlab report verify</em> recomputes it.</p>",
        seal_rows, "</section>",
        f'<footer class="page"><span>{_e(foot)}</span><span>{_e(f"Run {r.id}")}</span>'
        "</footer>",
        '<script type="application/json" id="meterlab-sealed">',
        sealed_json(canonical),
        "</script></body></html>\n",
    ]
    return "".join(parts)


def write_html(report: RunReport, path: str | Path) -> None:
    """Write the report as one self-contained HTML file at `path` (UTF-8)."""
    Path(path).write_text(render_html(report), encoding="utf-8", newline="\n")
