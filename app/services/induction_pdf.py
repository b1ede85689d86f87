"""A person's induction record as a printable PDF (reportlab, A4, one or two pages).

The same record gives the same bytes: reportlab's invariant mode fixes the file's dates and
identifier. The record names the person, the lab, the date and expiry, the content's version and
SHA-256, the sections given (when the content of that SHA-256 is the one in use) and both
signatures.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.domain.induction import InductionContent
from app.domain.lab import Lab
from app.domain.participants import Induction, Person
from app.services.reports.pdf import BOLD, FONT, HEAD_BG, MARGIN, RULE, _fonts


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    return {
        "body": body,
        "label": ParagraphStyle("label", body, fontName=BOLD),
        "title": ParagraphStyle("title", body, fontName=BOLD, fontSize=17, leading=22),
        "h2": ParagraphStyle("h2", body, fontName=BOLD, fontSize=11, leading=14, spaceBefore=10,
                             spaceAfter=4, textColor=colors.HexColor("#1d3557")),
        "note": ParagraphStyle("note", body, fontSize=7.5, leading=10,
                               textColor=colors.HexColor("#555555")),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def write_induction_pdf(path: str | Path, person: Person, org_name: str, lab: Lab,
                        induction: Induction, content: InductionContent | None) -> None:
    """Write the induction record at `path`.

    Args:
        content: the content in use now; its sections are listed only when its SHA-256 is the
            one the induction was given from.
    """
    _fonts()
    st = _styles()
    rows = [
        ("Participant", f"{person.name} <{person.email}>"),
        ("Organisation", org_name),
        ("Lab", lab.name),
        ("Inducted on", induction.date.isoformat()),
        ("Valid until", induction.valid_until.isoformat()),
    ]
    if induction.content_sha256:
        rows += [("Content version", induction.content_version),
                 ("Content SHA-256", induction.content_sha256)]
        if induction.booking_id is not None:
            rows.append(("Booking", str(induction.booking_id)))
    else:
        rows.append(("Recorded", f"as held elsewhere, delivered by "
                                 f"{induction.delivered_by or 'not stated'}"))
    table = Table([[_p(k, st["label"]), _p(v, st["body"])] for k, v in rows],
                  colWidths=[110, A4[0] - 2 * MARGIN - 110])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, RULE),
                               ("BACKGROUND", (0, 0), (0, -1), HEAD_BG),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [_p("Lab induction record", st["title"]), Spacer(1, 8), table]
    if content is not None and content.sha256 == induction.content_sha256:
        story.append(_p("Sections given", st["h2"]))
        for number, section in enumerate(content.sections, start=1):
            q = section.question
            story.append(_p(f"{number}. {section.title}: {q.prompt} "
                            f"Answered: {q.choices[q.answer]}", st["body"]))
    if induction.content_sha256:
        story += [
            _p("Signatures", st["h2"]),
            _p(f"Participant (typed full name): {induction.participant_signature}", st["body"]),
            _p(f"Countersigned by: {induction.countersigned_by}", st["body"]),
        ]
        if induction.countersign_note and induction.countersign_note != "password":
            story.append(_p(induction.countersign_note, st["note"]))
        else:
            story.append(_p("The countersignature was checked with the staff member's password.",
                            st["note"]))
    story += [Spacer(1, 28), _p("Participant's signature: ______________________________    "
                                "Staff signature: ______________________________", st["body"])]
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=MARGIN, bottomMargin=MARGIN, invariant=1,
                            title=f"Induction record: {person.name}, {lab.name}",
                            author="MeterLab", subject=f"induction {induction.id}",
                            creator="MeterLab", producer="MeterLab (reportlab)")
    doc.build(story)
