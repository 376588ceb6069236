"""The clerk workspace's own logic: refund amounts as typed, what is left to refund, the
form's attachments, the fields an assisted submission offers and the grants it offers them for."""

from __future__ import annotations

import json

from services.common.config import ROOT
from services.web.clerk import assisted, case
from services.web.i18n import Texts, load_catalogs

DEFINITIONS = ROOT / "services" / "catalog" / "definitions"


def texts() -> Texts:
    return Texts("de", load_catalogs()["de"])


def definition(service_id: str) -> dict:
    return json.loads((DEFINITIONS / f"{service_id}.json").read_text(encoding="utf-8"))


def test_a_refund_amount_is_read_as_euros_in_german_or_plain_notation() -> None:
    assert [case.cents_of(t) for t in ("13,00", "13", "1.234,50 €", "7.5", " 0,01 ")] == [1300, 1300, 123450, 750, 1]
    assert [case.cents_of(t) for t in ("", "zwölf", "0", "-5", "1,2,3")] == [None, None, None, None, None]


def test_only_a_paid_fee_has_something_left_to_refund() -> None:
    paid = {"paid": True, "payment": {"paid_cents": 2600, "amount_cents": 2600, "refunded_cents": 600}}
    assert case.refundable(paid) == 2000
    assert case.refundable({**paid, "payment": {**paid["payment"], "refunded_cents": 2600}}) == 0
    assert case.refundable({"paid": False, "payment": {"amount_cents": 2600}}) == 0
    assert case.refundable(None) == 0


def test_the_case_page_lists_the_files_the_form_refers_to_with_their_labels() -> None:
    data = {"first_name": "Erika", "ausweiskopie": {"attachment_id": "a1", "filename": "ausweis.pdf"}, "other": {}}
    found = case.attachments_of(definition("gewerbeanmeldung"), data, texts())
    assert found == [{"label": "Kopie des Personalausweises oder Reisepasses (freiwillig)", "attachment_id": "a1", "filename": "ausweis.pdf"}]


def test_an_assisted_form_leaves_file_fields_to_the_applicant() -> None:
    names = [f.name for f in assisted.writable(definition("gewerbeanmeldung"), texts())]
    assert "ausweiskopie" not in names and {"first_name", "business_name", "is_side_business"} <= set(names)


def test_assisted_submission_is_offered_for_the_services_a_clerk_grant_covers() -> None:
    clerk = {"grants": [{"tenant": "03460006", "role": "clerk", "service_keys": ["gewerbeanmeldung"]},
                        {"tenant": "03460009", "role": "tenant_admin", "service_keys": ["*"]}]}
    assert assisted.covered(clerk, "03460006", "gewerbeanmeldung")
    assert not assisted.covered(clerk, "03460006", "hundeanmeldung")
    assert not assisted.covered(clerk, "03460009", "gewerbeanmeldung")  # an admin does not apply for citizens


def test_a_download_is_typed_by_its_content() -> None:
    assert case.media_type_of(b"%PDF-1.7\n") == ("application/pdf", "pdf")
    assert case.media_type_of(b"\xff\xd8\xff\xe0JFIF") == ("image/jpeg", "jpg")
    assert case.media_type_of(b"\x89PNG\r\n\x1a\n") == ("image/png", "png")
    assert case.media_type_of(b"<html>") == ("application/octet-stream", "bin")


def test_before_a_reversal_the_page_knows_the_rules_decision_has_gone_to_the_applicant() -> None:
    steps = [{"step": "submitted"}, {"step": "decided_automatically", "automatic": True},
             {"step": "approved", "automatic": True}]
    automatic = {"status": "approved", "timeline": steps}
    mail = {"kind": "case_approved", "channel": "email", "status": "delivered", "status_text": "zugestellt"}
    letter = {"document_id": "d1", "erased": False}
    assert case.decision_sent(automatic, [mail], [letter]) == {"delivered": True, "mail": "zugestellt", "letter": True}
    pending = {**mail, "status": "created", "status_text": "angelegt"}
    assert case.decision_sent(automatic, [pending], []) == {"delivered": False, "mail": "angelegt", "letter": False}
    assert case.decision_sent(automatic, None, None) == {"delivered": False, "mail": None, "letter": False}
    by_hand = {"status": "approved", "timeline": [*steps, {"step": "automatic_decision_reversed"}, {"step": "approved"}]}
    assert case.decision_sent(by_hand, [mail], [letter]) is None  # decided again by a person: nothing to reverse
    assert case.decision_sent({"status": "in_review", "timeline": steps}, [mail], []) is None

