"""The postbox item's and the letter's rules, the letter PDF (parsed back with pypdf), and
the postbox commands of the notifications application on the in-memory store (POPO)."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from services.catalog.tenants import (
    LEGAL_REMEDY_GENERIC,
    LEGAL_REMEDY_NIEDERSACHSEN,
    PROFILE_MAX,
    check_profile,
    letterhead,
)
from services.common.blobs import BlobNotFound, FileBlobStore
from services.common.problems import DomainError
from services.notifications.application import NotificationsApp
from services.notifications.domain import EMAIL, message_id
from services.notifications.postbox.domain import COMPOSED, POSTBOX, PostboxItem, letter_id, redacted
from services.notifications.postbox.letter_pdf import LetterContent, german_date, render_letter
from tests.postbox_support import DECISION, CaseSources, decided_case


def berlin_day(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()


def item() -> PostboxItem:
    return PostboxItem(
        source_event_id="ev-1", channel=POSTBOX, recipient="acc-1", tenant="03460009", kind="case_approved",
        language="de", case_id="case-1", reference="VEC-1", occurred_at="2026-12-02T10:00:00+00:00",
        actor="notifications", correlation_id="c",
    )


def content(**changes: object) -> LetterContent:
    fields = dict(
        tenant_name="Vechta", tenant_address="Rathaus, Rathausplatz 1, 49377 Vechta",
        tenant_contact="Telefon +49 4441 0000-0", opening_hours="Mo–Fr 8:00–12:30 Uhr",
        legal_remedy="Gegen diesen Bescheid kann innerhalb eines Monats Klage erhoben werden.",
        reference="VEC-2026-000042", service_name="Anmeldung eines Hundes", decision="approved",
        decision_text="Die Marke <b>wird</b> zugesandt.\nZweite Zeile: äöüß", issued_on=date(2026, 12, 2),
        submitted_on=date(2026, 11, 2), recipient_lines=["Erika Mustermann"], kassenzeichen="5.0001.000042.7",
        fee_paid_cents=2500,
    )
    return LetterContent(**{**fields, **changes})  # type: ignore[arg-type]


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_an_item_is_keyed_like_a_message_on_the_postbox_channel() -> None:
    assert item().id == message_id("ev-1", POSTBOX, "acc-1") != message_id("ev-1", EMAIL, "acc-1")


def test_an_item_is_composed_once_and_marked_read_or_unread_idempotently() -> None:
    it = item()
    it.compose("Betreff", "Text", "<p>Text</p>", 1, [], "2026-12-02T10:00:01+00:00")
    assert it.status == COMPOSED
    with pytest.raises(DomainError):
        it.compose("Betreff", "Text", "<p>Text</p>", 1, [], "2026-12-02T10:00:02+00:00")
    assert it.mark(True, "acc-1", "c") and not it.mark(True, "acc-1", "c") and it.read
    assert it.mark(False, "acc-1", "c") and not it.read
    it.erase("notifications", "c")
    with pytest.raises(DomainError):
        it.mark(True, "acc-1", "c")
    composed = next(e for e in it.collect_events() if isinstance(e, PostboxItem.Composed))
    clean = redacted(composed)
    assert (clean.subject, clean.body_text, clean.body_html) == ("", "", "") and redacted(clean) is None


def test_the_letter_pdf_holds_letterhead_reference_decision_remedy_and_page_numbers() -> None:
    data = render_letter(content(decision_text="Begründung. " * 400))
    reader, text = pdf_text(data)
    assert len(reader.pages) >= 2
    for expected in ("Vechta", "Rathausplatz 1", "Mo–Fr 8:00–12:30 Uhr", "Aktenzeichen: VEC-2026-000042",
                     "Datum: 02.12.2026", "Kassenzeichen: 5.0001.000042.7", "25,00 EUR", "Rechtsbehelfsbelehrung",
                     "Ihrem Antrag wird stattgegeben", f"Seite 1 von {len(reader.pages)}",
                     f"Seite {len(reader.pages)} von {len(reader.pages)}"):
        assert expected in text
    assert reader.metadata.title == "Bescheid VEC-2026-000042" and reader.metadata.author == "Vechta"


def test_the_letter_pdf_escapes_untrusted_text_embeds_its_fonts_and_is_deterministic() -> None:
    data = render_letter(content())
    _, text = pdf_text(data)
    assert "Die Marke <b>wird</b> zugesandt." in text and "Zweite Zeile: äöüß" in text
    fonts = [f.get_object() for page in PdfReader(io.BytesIO(data)).pages for f in page["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in f["/FontDescriptor"] for f in fonts if "/FontDescriptor" in f)
    assert hashlib.sha256(render_letter(content())).digest() == hashlib.sha256(data).digest()
    rejected = pdf_text(render_letter(content(decision="rejected", fee_paid_cents=None, kassenzeichen=None)))[1]
    assert "Ihr Antrag wird abgelehnt" in rejected and "Begründung" in rejected and "Kassenzeichen" not in rejected
    assert german_date(date(2027, 1, 5)) == "05.01.2027"


@pytest.fixture
def app() -> NotificationsApp:
    return NotificationsApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_accept_puts_every_message_in_the_postbox_once(app: NotificationsApp) -> None:
    sources = CaseSources()
    events = decided_case(sources, "acc-1")
    assert sum(app.accept(e) for e in events) == 3  # submitted, information requested, approved
    for envelope in events:  # redelivered or replayed: nothing new
        assert app.accept(envelope) == 0
    for envelope in events:
        if envelope["type"] in ("case.submitted.v1", "case.information_requested.v2", "case.approved.v2"):
            found = app.repository.get(message_id(envelope["event_id"], POSTBOX, "acc-1"))
            assert (found.recipient, found.case_id, found.status) == ("acc-1", envelope["aggregate_id"], "created")


def test_composing_a_decision_issues_its_letter_into_the_blob_store(app: NotificationsApp, tmp_path) -> None:
    sources, blobs = CaseSources(), FileBlobStore(tmp_path)
    events = decided_case(sources, "acc-1")
    for envelope in events:
        app.accept(envelope)
    approved = next(e for e in events if e["type"] == "case.approved.v2")
    item_id = str(message_id(approved["event_id"], POSTBOX, "acc-1"))
    view = app.compose_item(item_id, sources, blobs, "https://rathaus.example")
    assert app.compose_item(item_id, sources, blobs, "https://rathaus.example") is None  # composed once
    [attachment] = view["attachments"]
    assert attachment["attachment_id"] == str(letter_id(approved["event_id"]))
    data = blobs.get(attachment["sha256"])
    assert hashlib.sha256(data).hexdigest() == attachment["sha256"] and len(data) == attachment["size"]
    body = app.postbox_item(item_id, "acc-1")
    assert DECISION in body.body_text and "&lt;script&gt;" in body.body_html and "<script>" not in body.body_html
    with pytest.raises(DomainError) as other:
        app.postbox_item(item_id, "acc-2")
    assert other.value.code == "postbox_item_not_found"
    with pytest.raises(DomainError):
        app.item_attachment(item_id, attachment["attachment_id"], "acc-2", blobs)
    assert app.item_attachment(item_id, attachment["attachment_id"], "acc-1", blobs)["sha256"] == attachment["sha256"]

    result = app.erase_postbox("acc-1", [item_id], blobs)
    assert result["items_erased"] == 1 and result["letters_erased"] == 1 and result["events_redacted"] == 1
    assert app.erase_postbox("acc-1", [item_id], blobs) == {"items_erased": 0, "letters_erased": 0, "events_redacted": 0}
    with pytest.raises(BlobNotFound):
        blobs.get(attachment["sha256"])
    with pytest.raises(DomainError) as gone:
        app.case_document(approved["aggregate_id"], attachment["attachment_id"], blobs)
    assert gone.value.code == "document_erased"
    letter = app.repository.get(letter_id(approved["event_id"]))
    assert (letter.case_id, letter.decision, letter.issued_on, letter.pdf_erased) == (
        approved["aggregate_id"], "approved", berlin_day(approved["occurred_at"]), True)
    assert all(DECISION not in str(vars(e)) for e in app.events.get(letter_id(approved["event_id"])))
    assert all(DECISION not in str(vars(e)) for e in app.events.get(body.id))


def test_the_letterhead_has_a_rechtsbehelfsbelehrung_by_default_or_the_tenants_own() -> None:
    vechta = {"ags": "03460009", "name": "Vechta", "kind": "gemeinde", "address": "Rathausplatz 1"}
    assert letterhead(vechta)["legal_remedy"] == LEGAL_REMEDY_NIEDERSACHSEN
    assert "Verwaltungsgericht Oldenburg" in LEGAL_REMEDY_NIEDERSACHSEN and len(LEGAL_REMEDY_NIEDERSACHSEN) <= PROFILE_MAX
    assert letterhead({**vechta, "ags": "05315000"})["legal_remedy"] == LEGAL_REMEDY_GENERIC  # not in Niedersachsen
    own = letterhead({**vechta, "legal_remedy": "Widerspruch beim Rathaus."})
    assert (own["legal_remedy"], own["name"], own["address"]) == ("Widerspruch beim Rathaus.", "Vechta", "Rathausplatz 1")
    check_profile({"legal_remedy": "Widerspruch beim Rathaus."})  # a profile field the tenant admin may set
