"""The HTML report: one self-contained, well-formed file with the same content as the PDF, every
typed text escaped, the seal in meta tags and the sealed JSON embedded."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from app.domain.reports import seal_of
from app.services.reports import sections
from app.services.reports.html import render_html, write_html
from tests.services.reports.sample_report import DEVICE_IDS, ORG, STEP_NAMES, report

VOID = {"meta", "br", "hr", "img", "link", "input", "col", "area", "base", "wbr", "source"}
SVG_EMPTY = {"rect", "line", "circle", "path"}


class Checker(HTMLParser):
    """Tags balanced and properly nested; collects text, <script>s and resource references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.meta: dict[str, str] = {}
        self.text: list[str] = []
        self.refs: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.refs.append(a[key] or "")
        if tag == "meta" and a.get("name"):
            self.meta[a["name"] or ""] = a.get("content") or ""
        if tag == "script":
            self._script = a
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID | SVG_EMPTY:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._script is not None and self.stack and self.stack[-1] == "script":
            self.scripts.append((self._script, data))
            self._script = None
        elif "style" not in self.stack:
            self.text.append(data)


def _parse(html: str) -> Checker:
    checker = Checker()
    checker.feed(html)
    checker.close()
    return checker


def test_html_is_well_formed_and_self_contained() -> None:
    html = render_html(report())
    assert html.startswith("<!DOCTYPE html>")
    checker = _parse(html)
    assert checker.errors == []
    assert checker.stack == []
    assert checker.refs == []  # no stylesheet, image, script or font fetched from anywhere
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert [a.get("type") for a, _d in checker.scripts] == ["application/json"]
    assert "@media print" in html
    assert html.count("<svg") == 2


def test_html_has_the_same_content_as_the_pdf() -> None:
    rep = report()
    checker = _parse(render_html(rep))
    text = " ".join(" ".join(checker.text).split())
    assert ORG in text and "Newcastle Device Lab" in text
    for device_id in DEVICE_IDS:
        assert device_id in text
    for name in STEP_NAMES:
        assert name in text
    assert "VERDICT FAIL" in text
    for code in ("8F35", "8F36", "8F0C", "8F01"):
        assert code in text
    assert rep.seal() in text
    for table in (sections.steps(rep), sections.measurements(rep), sections.devices(rep),
                  sections.outages(rep), sections.evidence(rep), sections.alert_codes(rep)):
        assert table.title in text
        for row in table.rows:
            for cell in row:
                assert " ".join(cell.split()) in text
    for row in sections.alert_rows(rep):
        assert " ".join(row).strip() in text


def test_seal_markers_and_the_sealed_json() -> None:
    rep = report()
    html = render_html(rep)
    checker = _parse(html)
    assert checker.meta["meterlab-seal"] == rep.seal()
    assert checker.meta["meterlab-run"] == "42"
    assert f'<meta name="meterlab-seal" content="{rep.seal()}">' in html
    assert '<meta name="meterlab-run" content="42">' in html
    found = re.search(r'<script type="application/json" id="meterlab-sealed">(.*?)</script>',
                      html, re.S)
    assert found is not None
    sealed = json.loads(found.group(1))
    assert sealed == rep.canonical()
    assert seal_of(sealed) == rep.seal()


def test_typed_text_is_escaped_everywhere() -> None:
    rep = report()
    evil = '"><img src=x onerror=alert(2)></script><!-- é — 测试'
    rep = replace(rep, record=replace(rep.record, org_name=evil, operator="<b>bold</b>",
                                      plan_name="plan</title><script>x()</script>"))
    html = render_html(rep)
    assert "<script>alert(1)</script>" not in html  # the sample's note
    assert "<img" not in html and "<b>bold" not in html and "<script>x()" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    checker = _parse(html)
    assert checker.errors == [] and checker.refs == []
    assert len(checker.scripts) == 1
    text = " ".join(checker.text)
    assert evil in text and "<b>bold</b>" in text
    # The JSON inside <script> never closes it early and still reads back as the same text.
    sealed = json.loads(checker.scripts[0][1])
    assert sealed["run"]["org"]["name"] == evil
    assert seal_of(sealed) == rep.seal()


def test_write_html_writes_utf8(tmp_path: Path) -> None:
    path = tmp_path / "run-42.html"
    write_html(report(), path)
    assert "Zoë Lab-Tech" in path.read_text(encoding="utf-8")
    assert path.read_bytes() == render_html(report()).encode("utf-8")


def test_ten_thousand_alerts_render() -> None:
    rep = report(alert_count=10_000)
    html = render_html(rep)
    checker = _parse(html)
    assert checker.errors == []
    assert html.count("<tr>") >= 10_005
    assert "10,005 alerts drawn as" in html
