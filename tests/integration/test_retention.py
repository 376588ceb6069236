"""Retention: exactly the cases past their period (per service, changeable per tenant) lose
their personal data; a dry run erases nothing; a second run finds nothing more."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.db import ReadStore
from services.submissions.audit import AuditLog
from services.submissions.integration import to_envelope
from services.submissions.projections import CaseReadModels
from services.submissions.retention import add_months, run_retention
from tests.integration.conftest import command


def test_retention_erases_exactly_the_expired_cases(submissions, resolve, catalog) -> None:
    catalog.change_retention("03460006", "meldebescheinigung", 12, "Lohne keeps a year")
    results = submissions.submit_batch([
        command(key="expired", portal="03460009", service_id="meldebescheinigung"),  # 3 months
        command(key="dog", portal="03460009"),  # hundeanmeldung: 24 months
        command(key="open", portal="03460009", service_id="meldebescheinigung"),  # not decided
        command(key="lohne", portal="03460006", service_id="meldebescheinigung"),  # Lohne: 12 months
    ], resolve)
    expired, dog, still_open, lohne = (r["case"]["case_id"] for r in results)
    for case_id in (expired, dog, lohne):
        if submissions.get_case(case_id).status.value == "payment_pending":
            submissions.act(case_id, "record-payment", {"payment_ref": "K-1"}, "system:payments", "c")
        submissions.act(case_id, "start-review", {}, "clerk", "c")
        submissions.act(case_id, "approve", {"decision": "Bewilligt für Erika Mustermann."}, "clerk", "c")
    models = CaseReadModels(ReadStore("submissions"))
    models.apply([to_envelope(e, n) for n, e in enumerate(
        (e for case_id in (expired, dog, still_open, lohne) for e in submissions.case_events(case_id)), start=1)])
    audit = AuditLog(models.store)
    later = add_months(datetime.now(UTC), 4)

    dry = run_retention(submissions, models.store, audit, catalog.retention_months, later, "c", dry_run=True)
    assert [(c["case_id"], c["retention_months"]) for c in dry["erased"]] == [(expired, 3)]
    assert not submissions.get_case(expired).personal_data_erased  # a dry run erases nothing

    report = run_retention(submissions, models.store, audit, catalog.retention_months, later, "c")
    assert [c["case_id"] for c in report["erased"]] == [expired] and report["erased"][0]["events_redacted"] >= 2
    erased = submissions.get_case(expired)
    assert erased.personal_data_erased and erased.decision == "" and erased.applicant == {}
    assert (erased.reference, erased.fee_cents, erased.status.value) == (results[0]["case"]["reference"], 700, "approved")
    for case_id in (dog, still_open, lohne):
        assert not submissions.get_case(case_id).personal_data_erased
    assert submissions.get_case(dog).decision == "Bewilligt für Erika Mustermann."
    assert run_retention(submissions, models.store, audit, catalog.retention_months, later, "c")["cases"] == 0
    assert [r["action"] for r in audit.reads(expired)] == ["retention_expired"]
