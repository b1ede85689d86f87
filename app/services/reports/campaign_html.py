"""The participant's completion report as one self-contained HTML file (inline CSS, prints well).

Every piece of user text is escaped. The campaign seal is in
``<meta name="meterlab-campaign-seal" content="<hex>">``, and the sealed canonical JSON in
``<script type="application/json" id="meterlab-campaign-sealed">``, so a verifier can read both
without parsing the page.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from app.domain.runs import VERDICT_ORDER, Verdict

if TYPE_CHECKING:
    from app.services.reports.campaign import Campaign, CampaignGroup, CampaignRun

VERDICT_COLOURS = {Verdict.PASS: "#1b7f3b", Verdict.MARGINAL: "#b26a00",
                   Verdict.FAIL: "#c62828", Verdict.ERROR: "#6a1b9a",
                   Verdict.ABORTED: "#616161"}

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;margin:2em auto;
max-width:60em;padding:0 1em}
h1{font-size:1.7em;margin:0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
.org{font-size:1.3em;font-weight:bold;margin:.2em 0 .8em}
table{border-collapse:collapse;width:100%;margin:.3em 0}
th,td{border:1px solid #b0b7bf;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#e8ecf0}
table.facts td,table.facts th{border:none;padding:.1em .6em .1em 0}
table.facts th{background:none;font-weight:normal;color:#555}
.summary td,.summary th{text-align:center}.summary td{font-size:1.4em}
.v{color:#fff;font-weight:bold}.note{font-size:.8em;font-weight:normal;display:block}
.seal,.mono{font-family:"DejaVu Sans Mono",Consolas,monospace}
.seal{font-size:1.05em;font-weight:bold;word-break:break-all}
.mono{font-size:.75em;word-break:break-all}
.open{border:2px solid #c62828;padding:.4em .8em}.alert{color:#c62828;font-weight:bold}
footer{margin-top:2em;font-size:.8em;color:#555}
@media print{body{margin:0;max-width:none;font-size:10pt}
h2{break-after:avoid}tr,.open{break-inside:avoid}thead{display:table-header-group}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@page{size:A4;margin:15mm}}
"""


def render(c: Campaign) -> str:
    """The whole document."""
    seal = c.seal
    sealed = c.canonical_json().decode("utf-8").replace("</", "<\\/")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Completion report: {escape(c.org_name)}</title>",
        f'<meta name="meterlab-campaign-seal" content="{seal}">',
        f'<meta name="meterlab-org" content="{c.org_id}">',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Completion report</h1>",
        f'<div class="org">{escape(c.org_name)}</div>',
        _facts(c),
        "<h2>Summary</h2>",
        _summary(c),
        "<p>Campaign seal (SHA-256 over the seals of the runs listed below):<br>"
        f'<span class="seal">{seal}</span></p>',
        _open_failures(c),
        _notes(c),
        *(_plan_section(c, plan) for plan in c.plans),
        "<h2>Runs and their seals</h2>",
        _runs_table(c),
        f"<footer>MeterLab {escape(c.version)} - generated {_local(c, c.generated)}</footer>",
        f'<script type="application/json" id="meterlab-campaign-sealed">{sealed}</script>',
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _local(c: Campaign, moment: datetime) -> str:
    return c.local(moment).strftime("%Y-%m-%d %H:%M %z")


def _verdict(verdict: Verdict, note: str = "") -> str:
    extra = f'<span class="note">{escape(note)}</span>' if note else ""
    return (f'<td class="v" style="background:{VERDICT_COLOURS[verdict]}">'
            f"{verdict.value}{extra}</td>")


def _facts(c: Campaign) -> str:
    rows = [("Organisation", f"{c.org_name} (id {c.org_id})"),
            ("Period", f"{c.period_text()} (lab time, {c.timezone})"),
            ("Role", c.role or "all roles"),
            ("Generated", _local(c, c.generated)
             + (f" by MeterLab {c.version}" if c.version else ""))]
    body = "".join(f"<tr><th>{k}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _summary(c: Campaign) -> str:
    counts = c.counts
    head = "<th>Runs</th><th>Plans</th><th>Devices</th>" + "".join(
        f'<th class="v" style="background:{VERDICT_COLOURS[v]}">{v.value}</th>'
        for v in VERDICT_ORDER)
    cells = (f"<td>{len(c.runs)}</td><td>{len(c.plans)}</td><td>{len(c.devices)}</td>"
             + "".join(f"<td>{counts[v]}</td>" for v in VERDICT_ORDER))
    return f'<table class="summary"><tr>{head}</tr><tr>{cells}</tr></table>'


def _run_ref(c: Campaign, run: CampaignRun) -> str:
    return f"#{run.run_id} ({_local(c, run.started)})"


def _open_failures(c: Campaign) -> str:
    failures = c.open_failures
    if not failures:
        return ("<h2>Failures still open</h2><p>None: every plan that failed on a device has "
                "passed on it since.</p>")
    rows = "".join(
        f"<tr><td>{escape(f.plan_name)}</td><td>{escape(f.device_key)}</td>"
        f"<td>{escape(', '.join(_run_ref(c, r) for r in f.failed))}</td>"
        f"<td>{escape(', '.join(f'#{r.run_id} {r.verdict.value}' for r in f.untested) or '-')}"
        "</td></tr>" for f in failures)
    return ('<h2>Failures still open</h2><div class="open">'
            f'<p class="alert">{len(failures)} failure(s) still open: these plans failed on these '
            "devices and have not passed on them since.</p><table><thead><tr><th>Plan</th>"
            "<th>Device under test</th><th>Failed runs</th><th>Since then, not tested</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></div>")


def _notes(c: Campaign) -> str:
    out = []
    if c.untested:
        items = "".join(
            f"<li>Run #{r.run_id} of {escape(r.plan_name)} on {escape(r.device_key)} "
            f"({_local(c, r.started)}): not tested, because of "
            f"{'a bench fault (ERROR)' if r.verdict is Verdict.ERROR else 'the run was aborted'}"
            ".</li>" for r in c.untested)
        out.append(f"<h2>Runs that did not test the device</h2><ul>{items}</ul>")
    changed = [r for r in c.runs if r.seal_changed]
    if changed:
        items = "".join(f'<li class="alert">Run #{r.run_id}: sealed {escape(r.stored_seal or "")}'
                        f", its data now gives {r.seal}.</li>" for r in changed)
        out.append(f"<h2>Runs whose data changed since they were sealed</h2><ul>{items}</ul>")
    return "".join(out)


def _group_row(c: Campaign, g: CampaignGroup) -> str:
    note = ""
    if not g.latest.tested:
        tested = g.last_tested
        note = (f"not tested; last tested: {tested.verdict.value} (#{tested.run_id})"
                if tested else "never tested")
    runs = " ".join(f"#{r.run_id} {r.verdict.value}" for r in g.runs)
    return (f"<tr><td>{escape(g.device_key)}</td><td>{len(g.runs)}: {runs}</td>"
            f"{_verdict(g.latest_verdict, note)}<td>{_run_ref(c, g.latest)}</td></tr>")


def _plan_section(c: Campaign, plan: str) -> str:
    rows = "".join(_group_row(c, g) for g in c.groups if g.plan_name == plan)
    return (f"<h2>Plan {escape(plan)}</h2><table><thead><tr><th>Device under test</th>"
            "<th>Runs</th><th>Latest verdict</th><th>Last run</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _runs_table(c: Campaign) -> str:
    rows = "".join(
        f"<tr><td>#{r.run_id}</td><td>{_local(c, r.started)}</td>"
        f"<td><b>{escape(r.plan_name)}</b> {escape(r.plan_version)}<br>"
        f"{escape(r.device_key)}<br>{escape(r.bench)}{' (emulated)' if r.emulated else ''}</td>"
        f'<td style="color:{VERDICT_COLOURS[r.verdict]};font-weight:bold">{r.verdict.value}</td>'
        f'<td class="mono">{r.seal}</td></tr>' for r in c.runs)
    return ("<table><thead><tr><th>Run</th><th>Started</th><th>Plan, device under test, bench"
            f"</th><th>Verdict</th><th>Seal</th></tr></thead><tbody>{rows}</tbody></table>")
