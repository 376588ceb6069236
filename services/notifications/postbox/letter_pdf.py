"""The decision letter (Bescheid) as PDF, drawn with reportlab.

Why this shape: a letter is a pure function of what it says (:class:`LetterContent`) —
rendered with reportlab's ``invariant`` mode, so the same content gives the same bytes and
the same SHA-256 (a retried issue stores nothing new). Archivable as far as the
open-source reportlab goes: the fonts (Bitstream Vera, shipped with reportlab) are embedded
as subsets, the document carries title, author, subject and language; reportlab does not
write the XMP/OutputIntent a PDF/A validator wants (ARCHITECTURE.md, "The postbox and decision letters").
Untrusted values (names, decision texts) are escaped before they reach reportlab's markup.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

FONTS = Path(reportlab.__file__).resolve().parent / "fonts"
REGULAR, BOLD = "VR-Sans", "VR-Sans-Bold"
DECISION_DE = {"approved": "Bewilligung", "rejected": "Ablehnung"}
_registered = False


def _fonts() -> None:
    global _registered  # registering with reportlab once per process
    if not _registered:
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "VeraBd.ttf")))
        _registered = True


@dataclass(frozen=True)
class LetterContent:
    tenant_name: str
    tenant_address: str
    tenant_contact: str  # phone and e-mail, one line
    opening_hours: str
    legal_remedy: str
    reference: str
    service_name: str
    decision: str  # "approved" | "rejected"
    decision_text: str
    issued_on: date
    submitted_on: date | None = None
    recipient_lines: list[str] = field(default_factory=list)
    kassenzeichen: str | None = None
    fee_paid_cents: int | None = None


def german_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def euros(cents: int) -> str:
    whole, rest = divmod(int(cents), 100)
    return f"{whole:,}".replace(",", ".") + f",{rest:02d} EUR"


def _paragraph(value: str) -> str:
    """Escaped, line breaks kept: the text as the clerk wrote it, never markup."""
    return "<br/>".join(escape(line) for line in str(value).splitlines())


class _NumberedCanvas(Canvas):
    """Writes "Seite n von m" on every page once the page count is known."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pages: list[dict] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(REGULAR, 8)
            self.drawRightString(A4[0] - 20 * mm, 12 * mm, f"Seite {number} von {total}")
            super().showPage()
        super().save()


def render_letter(content: LetterContent) -> bytes:
    """The Bescheid as PDF bytes (deterministic for the same content)."""
    _fonts()
    out = io.BytesIO()
    title = f"Bescheid {content.reference}"
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=25 * mm, rightMargin=20 * mm, topMargin=45 * mm, bottomMargin=25 * mm,
        title=title, author=content.tenant_name, subject=f"{DECISION_DE[content.decision]}: {content.service_name}",
        creator="Virtuelles Rathaus", keywords=content.reference, invariant=1, lang="de-DE",
    )
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=10.5, leading=14, spaceAfter=6)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    heading = ParagraphStyle("heading", parent=body, fontName=BOLD, fontSize=12.5, leading=16, spaceBefore=6)
    strong = ParagraphStyle("strong", parent=body, fontName=BOLD)
    story: list = []
    if content.recipient_lines:
        story.append(Paragraph("<br/>".join(escape(x) for x in content.recipient_lines), body))
        story.append(Spacer(1, 8 * mm))
    facts = [f"Aktenzeichen: {escape(content.reference)}", f"Datum: {german_date(content.issued_on)}"]
    if content.submitted_on:
        facts.append(f"Antrag vom: {german_date(content.submitted_on)}")
    if content.kassenzeichen:
        facts.append(f"Kassenzeichen: {escape(content.kassenzeichen)}")
    story.append(Paragraph("<br/>".join(facts), body))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(f"Bescheid – {escape(content.service_name)}", heading))
    verdict = (
        "Ihrem Antrag wird stattgegeben." if content.decision == "approved" else "Ihr Antrag wird abgelehnt."
    )
    story.append(Paragraph(verdict, strong))
    label = "Entscheidung" if content.decision == "approved" else "Begründung"
    story.append(Paragraph(label, heading))
    story.append(Paragraph(_paragraph(content.decision_text), body))
    if content.fee_paid_cents:
        story.append(Paragraph("Gebühren", heading))
        paid = f"Die Gebühr von {euros(content.fee_paid_cents)} ist bezahlt"
        paid += f" (Kassenzeichen {escape(content.kassenzeichen)})." if content.kassenzeichen else "."
        story.append(Paragraph(paid, body))
    story.append(Paragraph("Rechtsbehelfsbelehrung", heading))
    story.append(Paragraph(_paragraph(content.legal_remedy), body))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(
        f"Mit freundlichen Grüßen<br/>{escape(content.tenant_name)}<br/>"
        "Dieses Schreiben wurde elektronisch erstellt und ist ohne Unterschrift gültig.", body,
    ))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(f"Öffnungszeiten: {escape(content.opening_hours)}", small))

    def letterhead(canvas: Canvas, _doc: object) -> None:
        canvas.saveState()
        canvas.setFont(BOLD, 14)
        canvas.drawString(25 * mm, A4[1] - 20 * mm, content.tenant_name)
        canvas.setFont(REGULAR, 8.5)
        canvas.drawString(25 * mm, A4[1] - 26 * mm, content.tenant_address)
        canvas.drawString(25 * mm, A4[1] - 30 * mm, content.tenant_contact)
        canvas.line(25 * mm, A4[1] - 33 * mm, A4[0] - 20 * mm, A4[1] - 33 * mm)
        canvas.drawString(25 * mm, 12 * mm, f"{content.tenant_name} · Aktenzeichen {content.reference}")
        canvas.restoreState()

    doc.build(story, onFirstPage=letterhead, onLaterPages=letterhead, canvasmaker=_NumberedCanvas)
    return out.getvalue()
