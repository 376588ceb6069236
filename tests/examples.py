"""Valid form data for the services used in tests and the bench."""

from __future__ import annotations

import copy
from typing import Any

HUNDEANMELDUNG: dict[str, Any] = {
    "holder_first_name": "Erika",
    "holder_last_name": "Mustermann",
    "holder_birth_date": "1980-04-12",
    "holder_street": "Große Straße",
    "holder_house_number": "12a",
    "holder_postal_code": "49377",
    "holder_city": "Vechta",
    "email": "erika.mustermann@example.org",
    "dog_name": "Bello",
    "dog_breed": "Labrador Retriever",
    "dog_sex": "male",
    "dog_birth_date": "2025-03-01",
    "kept_since": "2026-11-01",
    "chip_number": "276098106543210",
    "is_dangerous": False,
    "liability_insurer": "VGH Versicherungen",
    "liability_policy_number": "HH-123456",
    "dogs_in_household": 1,
}

MELDEBESCHEINIGUNG: dict[str, Any] = {
    "first_name": "Max",
    "last_name": "Mustermann",
    "birth_date": "1975-01-30",
    "street": "Marktstraße",
    "house_number": "3",
    "postal_code": "49393",
    "city": "Lohne",
    "email": "max@example.org",
    "certificate_type": "simple",
    "purpose": "Vorlage beim Arbeitgeber",
    "copies": 1,
    "delivery": "postbox",
}

ELTERNGELD: dict[str, Any] = {
    "first_name": "Anna", "last_name": "Schmidt", "birth_date": "1990-05-05", "street": "Lange Straße",
    "house_number": "5", "postal_code": "49456", "city": "Bakum", "email": "anna@example.org",
    "tax_id": "12345678901", "iban": "DE89370400440532013000", "child_first_name": "Lena",
    "child_last_name": "Schmidt", "child_birth_date": "2026-10-01", "multiple_birth": 1,
    "single_parent": False, "basic_months": 12, "plus_months": 0, "partnership_bonus": False,
    "works_during_receipt": False,
}

SPERRMUELL: dict[str, Any] = {  # a district's service (Landkreis) with a basic trust level
    "first_name": "Erika", "last_name": "Mustermann", "street": "Lange Straße", "house_number": "5",
    "postal_code": "49456", "city": "Bakum", "email": "erika.mustermann@example.org", "waste_types": "furniture",
    "volume_m3": 2.0, "items": "Sofa, zwei Stühle", "is_owner_or_tenant": True,
}

GEWERBEANMELDUNG: dict[str, Any] = {  # its optional file field "ausweiskopie" refers to an upload
    "first_name": "Erika", "last_name": "Mustermann", "birth_date": "1980-04-12", "street": "Große Straße",
    "house_number": "1", "postal_code": "49377", "city": "Vechta", "email": "erika@example.org",
    "nationality": "deutsch", "business_name": "Erikas Hofladen", "legal_form": "einzelunternehmen",
    "business_street": "Große Straße", "business_house_number": "1", "business_postal_code": "49377",
    "business_city": "Vechta", "activity": "Verkauf von Obst und Gemüse", "start_date": "2026-12-01",
    "is_side_business": False, "employees_full_time": 0, "employees_part_time": 0, "requires_permit": False,
}

FORMS = {
    "hundeanmeldung": HUNDEANMELDUNG, "gewerbeanmeldung": GEWERBEANMELDUNG, "meldebescheinigung": MELDEBESCHEINIGUNG, "elterngeld": ELTERNGELD,
    "sperrmuell": SPERRMUELL,
}


def form(service_id: str = "hundeanmeldung", **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(FORMS[service_id])
    data.update(changes)
    return data


def submitted_case(**changes: Any) -> Any:
    """A freshly submitted Case aggregate (domain level, no store), Vechta by default."""
    from uuid import uuid4

    from services.submissions.domain import Case

    fields: dict[str, Any] = {
        "tenant": "03460009", "portal": "03460009", "service_id": "gewerbeanmeldung", "ozg_id": "10018",
        "leika_key": "99050012104000", "form_version": 1, "fee_cents": 2600, "processing_days": 14,
        "reference": "VEC-2026-000001", "applicant_ref": "citizen:1",
        "applicant": {"name": "Erika Mustermann", "email": "erika@example.org"},
        "form_data": {"first_name": "Erika", "purpose": "privat"},
        "submitted_at": "2026-11-25T10:00:00+00:00", "request_hash": "0" * 64,
        "actor": "clerk:meyer", "correlation_id": "c-1",
    }
    fields.update(changes)
    return Case.submit(uuid4(), **fields)


# -- payments: Payment aggregates through every transition ---------------------------------
PAYMENT_CASE = "6f1f5b2e-8a51-4c1e-9a53-0b7d1c1f0a01"
PAYMENT_WHO = {"actor": "psp:03453004", "correlation_id": "c0ffee"}


def payment_attempt(number: int) -> Any:
    from services.payments.domain import Payment

    who = PAYMENT_WHO
    p = Payment.create(case_id=PAYMENT_CASE, tenant="03453004", service_id="fuehrungszeugnis", attempt=number,
                       amount_cents=1300, fee_version=2, purpose="KZ CLP-K2026-000001", kassenzeichen="CLP-K2026-000001",
                       case_reference="CLP-2026-000001", return_url="http://127.0.0.1/secret-return",
                       created_at="2026-11-25T09:00:00+00:00", **who)
    p.start("pay_1", "http://psp/pay/secret-token", "2026-11-25T10:30:00Z", **who)
    return p


def payment_lifecycles() -> list[Any]:
    """Payments that together emit every event type (with a clerk's words and provider ids
    that must not be published)."""
    who = PAYMENT_WHO
    failed, cancelled, expired, paid = (payment_attempt(n) for n in (1, 2, 3, 4))
    failed.fail("card_declined", "evt_f", **who)
    cancelled.cancel("evt_c", **who)
    expired.expire("", **who)
    paid.succeed(method="wero", amount_cents=1300, booked_at="2026-11-25T09:10:00Z", settles_case=True,
                 psp_payment_id="pay_1", provider_event_id="evt_s", **who)
    paid.request_refund(refund_id="r1", amount_cents=1300, reason="Frau Meyer hat doppelt gezahlt", automatic=False,
                        flagged=False, **who)
    paid.refund_failed(refund_id="r1", reason="insufficient_funds", provider_event_id="evt_rf", **who)
    paid.request_refund(refund_id="r2", amount_cents=1300, reason="zweiter Versuch", automatic=False, flagged=False, **who)
    paid.refund_succeeded(refund_id="r2", psp_refund_id="re_1", amount_cents=1300, booked_at="2026-11-26T08:00:00Z",
                          provider_event_id="evt_r", **who)
    return [failed, cancelled, expired, paid]
