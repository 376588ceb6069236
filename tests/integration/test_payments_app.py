"""The payments application on every event-store backend (POPO, SQLite, PostgreSQL) with an
in-memory provider that keeps the simulator's contract (tests/payments_support.py): the
receivable and its Kassenzeichen, starting and resuming, webhooks through the inbox
(deduplicated, replays refused, unknown payments kept and retried), failure/cancel/expiry
and a new attempt, late successes honoured and refunded, refunds, concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common import db
from services.common.config import PaymentsSettings
from services.common.problems import DomainError
from services.payments.application import PaymentsApp
from services.payments.domain import Notice, Payment, Receivable
from services.payments.merchants import Merchants, development_merchant
from services.payments.psp.webhooks import WebhookRejected
from tests.payments_support import CLOPPENBURG, SECRET, VECHTA, FakeProvider, merchants, signed
from tests.support import Clock

CITIZEN = {"subject": "citizen-1", "kind": "citizen", "grants": [], "trust_level": "high"}
OTHER_CITIZEN = {**CITIZEN, "subject": "citizen-2"}
CLERK = {"subject": "clerk-1", "kind": "clerk", "trust_level": "basic",
         "grants": [{"tenant": CLOPPENBURG, "role": "clerk", "service_keys": ["fuehrungszeugnis"]}]}
VECHTA_CLERK = {**CLERK, "grants": [{"tenant": VECHTA, "role": "team_lead", "service_keys": ["*"]}]}
RETURN = "http://127.0.0.1:8000/antraege/zahlung"
MERCHANT = development_merchant(CLOPPENBURG, SECRET)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture
def provider(clock: Clock) -> FakeProvider:
    return FakeProvider(clock)


@pytest.fixture
def apps(store_env, clock, provider):
    """A factory of applications on one backend; they share its storage (not on POPO)."""
    made: list[PaymentsApp] = []

    def make() -> PaymentsApp:
        app = PaymentsApp(store_env("payments"), provider=provider, merchants=merchants(), clock=clock,
                          settings=PaymentsSettings())
        made.append(app)
        return app

    make.backend = store_env.backend  # type: ignore[attr-defined]
    yield make
    for app in made:
        app.close()


@pytest.fixture
def app(apps) -> PaymentsApp:
    return apps()


def request(app: PaymentsApp, case_id: str | None = None, **changes) -> dict:
    fields = {
        "case_id": case_id or str(uuid.uuid4()), "tenant": CLOPPENBURG, "service_id": "fuehrungszeugnis",
        "case_reference": "CLP-2026-000001", "amount_cents": 1300, "fee_version": 2,
        "refund_rule": {"rejected": "full", "withdrawn": {"percent": 50}}, "applicant_ref": "citizen-1",
        "correlation_id": "c-req", **changes,
    }
    return app.request_payment(**fields)


def start(app: PaymentsApp, case_id: str, who: dict = CITIZEN) -> dict:
    return app.start_payment(case_id, who, RETURN, "c-start")


def deliver(app: PaymentsApp, clock: Clock, event: dict) -> dict:
    body, header = signed(event, MERCHANT, clock())
    return app.receive_webhook(body, header, "c-hook")


def psp_id(view: dict) -> str:
    return view["payment"]["pay_url"].rsplit("/", 1)[1]


def event_names(app: PaymentsApp, aggregate_id) -> list[str]:
    return [type(e).__name__ for e in app.events.get(aggregate_id)]


class TestReceivable:
    def test_requested_once_per_case_with_a_kassenzeichen_per_tenant_and_year(self, app) -> None:
        first = request(app)
        again = request(app, first["case_id"], amount_cents=999)  # a redelivered request changes nothing
        second = request(app)
        lohne = request(app, tenant=VECHTA, case_reference="VEC-2026-000004")
        assert again == first and first["kassenzeichen"] == "CLP-K2026-000001"
        assert second["kassenzeichen"] == "CLP-K2026-000002" and lohne["kassenzeichen"] == "VEC-K2026-000001"
        assert (first["status"], first["paid"], first["attempts"], first["amount_cents"]) == ("INITIAL", False, [], 1300)

    def test_a_case_without_fee_or_tenant_without_merchant_gets_no_payment(self, app) -> None:
        with pytest.raises(DomainError) as caught:
            request(app, amount_cents=0)
        assert caught.value.code == "no_fee_due"
        app.merchants = Merchants([MERCHANT])  # a merchants file with Cloppenburg only
        with pytest.raises(DomainError) as caught:
            request(app, tenant=VECHTA)
        assert (caught.value.code, caught.value.status) == ("payment_not_configured", 409)
        with pytest.raises(DomainError) as caught:
            app.payment_for_case("no-uuid")
        assert caught.value.code == "payment_not_found"


class TestPaying:
    def test_start_resume_pay_and_duplicate_and_replayed_webhooks(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        assert started["status"] == "INITIAL" and started["payment"]["state"] == "open"
        assert start(app, case)["payment"]["pay_url"] == started["payment"]["pay_url"]  # resumed, not a new one
        assert provider.calls.count("create_payment") == 1 and len(provider.payments) == 1
        event = provider.complete(psp_id(started), "succeeded")
        clock.advance(2)
        assert deliver(app, clock, event)["outcome"] == "paid"
        clock.advance(3)
        assert deliver(app, clock, event)["status"] == "duplicate"  # a redelivery (signed anew)
        clock.advance(1)
        body, header = signed(event, MERCHANT, clock())
        app.receive_webhook(body, header, "c")
        with pytest.raises(WebhookRejected) as caught:
            app.receive_webhook(body, header, "c")  # the same signed message again: a replay
        assert caught.value.params["reason"] == "replayed" and caught.value.status == 400
        view = app.payment_for_case(case)
        assert (view["status"], view["status_text"], view["paid"], view["payment"]["method"]) == ("PAYED", "Bezahlt", True, "wero")
        paid_id = Payment.create_id(case, 1)
        assert event_names(app, paid_id).count("Succeeded") == 1
        assert start(app, case)["status"] == "PAYED" and len(provider.payments) == 1  # never charged twice

    @pytest.mark.parametrize("outcome", ["failed", "cancelled"])
    def test_after_a_failure_or_cancel_a_new_attempt_with_the_same_kassenzeichen(self, app, provider, clock, outcome) -> None:
        case = request(app)["case_id"]
        first = start(app, case)
        deliver(app, clock, provider.complete(psp_id(first), outcome))
        ended = app.payment_for_case(case)
        assert ended["status"] == {"failed": "FAILED", "cancelled": "CANCELED"}[outcome] and not ended["paid"]
        second = start(app, case)
        assert second["payment"]["attempt"] == 2 and psp_id(second) != psp_id(first)
        assert second["kassenzeichen"] == first["kassenzeichen"] and len(second["attempts"]) == 2
        deliver(app, clock, provider.complete(psp_id(second), "succeeded"))
        assert app.payment_for_case(case)["paid"]

    def test_an_unpaid_payment_expires_after_90_minutes_and_the_next_start_opens_another(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        first = start(app, case)
        clock.advance(89 * 60)
        assert app.expire_payment(first["payment"]["payment_id"], "c")["state"] == "open"  # not yet
        clock.advance(2 * 60)
        assert app.expire_payment(first["payment"]["payment_id"], "c")["state"] == "expired"
        assert app.payment_for_case(case)["status"] == "CANCELED"
        second = start(app, case)
        assert second["payment"]["attempt"] == 2 and second["payment"]["state"] == "open"

    def test_start_finds_an_attempt_past_its_expiry_expires_it_and_opens_the_next(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        first = start(app, case)
        clock.advance(91 * 60)
        second = start(app, case)
        assert second["payment"]["attempt"] == 2 and [a["state"] for a in second["attempts"]] == ["expired", "open"]
        assert psp_id(second) != psp_id(first)

    def test_only_the_applicant_or_its_clerks_see_or_start_the_payment(self, app) -> None:
        case = request(app)["case_id"]
        for who in (OTHER_CITIZEN, VECHTA_CLERK, {"subject": "x"}, None):
            with pytest.raises(DomainError) as caught:
                app.start_payment(case, who, RETURN, "c")
            assert caught.value.code == "payment_not_found"
            with pytest.raises(DomainError):
                app.payment_for_case(case, who or {})
        assert app.payment_for_case(case, CLERK)["case_id"] == case
        with pytest.raises(DomainError) as caught:
            app.start_payment(case, CITIZEN, "javascript:alert(1)", "c")
        assert caught.value.params["name"] == "return_url"

    def test_a_provider_that_is_down_is_service_unavailable_and_the_retry_is_the_same_payment(self, app, provider) -> None:
        case = request(app)["case_id"]
        provider.down = True
        with pytest.raises(DomainError) as caught:
            start(app, case)
        assert caught.value.code == "service_unavailable"
        provider.down = False
        ours = str(Payment.create_id(case, 1))  # as if the first call reached it with other terms
        provider.create_payment(MERCHANT, idempotency_key=ours, amount_cents=1300, purpose="x", reference=ours,
                                return_url=RETURN, expires_in=5400, metadata={})
        started = start(app, case)  # same key, other terms: found by our reference
        assert started["payment"]["attempt"] == 1 and started["payment"]["state"] == "open"

    def test_a_lost_webhook_is_found_by_polling(self, app, provider) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        provider.complete(psp_id(started), "succeeded")  # the webhook never arrives
        assert app.sync_payment(started["payment"]["payment_id"], "c")["state"] == "paid"
        assert app.payment_for_case(case)["paid"]

    def test_when_the_payer_returns_the_provider_is_asked(self, app, provider) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        provider.down = True
        assert app.refresh_case(case, "c", CITIZEN)["status"] == "INITIAL"  # no answer: as it was
        provider.down = False
        provider.complete(psp_id(started), "succeeded")
        assert app.refresh_case(case, "c", CITIZEN)["status"] == "PAYED"
        with pytest.raises(DomainError):
            app.refresh_case(case, "c", OTHER_CITIZEN)


class TestLateAndOutOfOrder:
    def test_a_late_success_of_a_replaced_attempt_is_honoured_and_refunded_for_the_clerk(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        first = start(app, case)
        deliver(app, clock, provider.complete(psp_id(first), "failed"))
        second = start(app, case)
        deliver(app, clock, provider.complete(psp_id(second), "succeeded"))
        outcome = deliver(app, clock, provider.complete(psp_id(first), "succeeded"))  # the provider captured it after all
        assert outcome["outcome"] == "refund_raised"
        view = app.payment_for_case(case)
        late = view["attempts"][0]
        assert (late["state"], late["late"], late["settles_case"], late["needs_attention"]) == ("paid", True, False, True)
        assert view["payment"]["attempt"] == 2 and view["needs_attention"]
        (refund,) = late["refunds"]
        assert (refund["amount_cents"], refund["automatic"], refund["reason"]) == (1300, True, "auto:already_paid")
        (sent,) = provider.refunds.values()  # sent to the provider at once
        assert sent["merchant_reference"] == refund["refund_id"] and sent["amount"] == 1300
        assert deliver(app, clock, provider.settle_refund(sent["id"]))["outcome"] == "refunded"
        assert app.payment(late["payment_id"]).refunded_cents == 1300

    def test_a_success_for_a_withdrawn_case_is_refunded_too(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        app.close_case(case, "withdrawn", "citizen-1", "c")
        with pytest.raises(DomainError) as caught:
            start(app, case)
        assert caught.value.code == "payment_closed"
        assert deliver(app, clock, provider.complete(psp_id(started), "succeeded"))["outcome"] == "refund_raised"
        assert app.payment_for_case(case)["attempts"][0]["refunds"][0]["reason"] == "auto:case_closed"

    def test_a_failure_delivered_after_the_success_changes_nothing(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        failed = provider.complete(psp_id(started), "failed")
        succeeded = provider.complete(psp_id(started), "succeeded")
        deliver(app, clock, succeeded)
        assert deliver(app, clock, failed)["outcome"] == "unchanged"
        assert app.payment_for_case(case)["status"] == "PAYED"

    def test_a_notice_for_a_payment_not_yet_recorded_is_kept_and_applied_on_retry(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        future = str(Payment.create_id(case, 1))
        provider.create_payment(MERCHANT, idempotency_key="elsewhere", amount_cents=1300, purpose="x", reference=future,
                                return_url=RETURN, expires_in=60, metadata={})
        (pid,) = provider.payments
        stored = deliver(app, clock, provider.complete(pid, "succeeded"))
        assert stored["outcome"] == "parked"  # stored, answered 2xx, not applied
        start(app, case)  # now the payment exists
        assert app.process_pending([stored["notice_id"]], "c") == {"paid": 1}
        assert app.payment_for_case(case)["paid"]
        notice = app.repository.get(uuid.UUID(stored["notice_id"]))
        assert isinstance(notice, Notice) and not notice.pending
        assert app.process_pending([stored["notice_id"]], "c") == {"paid": 1}  # applied once: its outcome again
        assert event_names(app, Payment.create_id(case, 1)).count("Succeeded") == 1

    def test_forged_stale_and_unknown_merchant_webhooks_are_rejected(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        event = provider.complete(psp_id(start(app, case)), "succeeded")
        body, header = signed(event, development_merchant(CLOPPENBURG, b"another secret of 32 bytes or more"), clock())
        stale_body, stale = signed(event, MERCHANT, datetime.fromtimestamp(clock().timestamp() - 301, UTC))
        foreign = {**event, "merchant_id": "Lohne"}
        cases = [(body, header, "signature"), (stale_body, stale, "stale"), (body, "t=1", "malformed"),
                 (b"{", header, "malformed"), (*signed(foreign, MERCHANT, clock()), "signature")]
        for raw, sig, reason in cases:
            with pytest.raises(WebhookRejected) as caught:
                app.receive_webhook(raw, sig, "c")
            assert caught.value.params["reason"] == reason
        assert not app.payment_for_case(case)["paid"]


class TestRefunds:
    def test_a_clerk_of_the_case_refunds_with_a_reason(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        deliver(app, clock, provider.complete(psp_id(start(app, case)), "succeeded"))
        for who, code in ((CITIZEN, "forbidden"), (VECHTA_CLERK, "payment_not_found")):
            with pytest.raises(DomainError) as caught:
                app.request_refund(case, "Doppelt gezahlt", who, "c")
            assert caught.value.code == code
        view = app.request_refund(case, "Antrag zurückgenommen", CLERK, "c", amount_cents=500)
        assert view["refunds"][0]["status"] == "requested" and view["refunds"][0]["reason"] == "Antrag zurückgenommen"
        with pytest.raises(DomainError) as caught:
            app.request_refund(case, "noch einmal", CLERK, "c")
        assert caught.value.code == "refund_not_possible"
        (sent,) = provider.refunds.values()
        deliver(app, clock, provider.settle_refund(sent["id"], succeeded=False))
        failed = app.payment_for_case(case)["payment"]
        assert failed["refunds"][0]["status"] == "failed" and failed["needs_attention"]
        again = app.request_refund(case, "zweiter Versuch", CLERK, "c", amount_cents=500)
        assert len(again["refunds"]) == 2 and again["refunds"][1]["refund_id"] != again["refunds"][0]["refund_id"]

    @pytest.mark.parametrize(("outcome", "refunded"), [("rejected", 1300), ("withdrawn", 650), ("approved", 0)])
    def test_the_end_of_a_paid_case_refunds_as_the_fee_rule_says(self, app, provider, clock, outcome, refunded) -> None:
        case = request(app)["case_id"]
        deliver(app, clock, provider.complete(psp_id(start(app, case)), "succeeded"))
        view = app.close_case(case, outcome, "clerk-1", "c")
        assert view["closed"] == outcome
        refunds = view["payment"]["refunds"]
        assert [r["amount_cents"] for r in refunds] == ([refunded] if refunded else [])
        assert not view["needs_attention"]  # the rule's refund is expected, not one for the clerk to look at
        assert app.close_case(case, outcome, "clerk-1", "c")["payment"]["refunds"] == refunds  # once
        assert app.close_case(str(uuid.uuid4()), outcome, "clerk-1", "c") is None  # a case without fee

    def test_a_refund_the_provider_did_not_take_is_sent_again(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        deliver(app, clock, provider.complete(psp_id(start(app, case)), "succeeded"))
        provider.down = True
        view = app.request_refund(case, "Gebühr erlassen", CLERK, "c")
        provider.down = False
        refund_id = view["refunds"][0]["refund_id"]
        assert provider.refunds == {}
        assert app.submit_pending_refunds([(view["payment_id"], refund_id)], "c") == {refund_id: "requested"}
        assert app.submit_pending_refunds([(view["payment_id"], refund_id)], "c") == {refund_id: "requested"}
        assert len(provider.refunds) == 1  # the idempotency key made both one refund

    @pytest.mark.parametrize(("succeeded", "status"), [(True, "refunded"), (False, "failed")])
    def test_a_refund_settled_at_the_provider_whose_webhook_was_lost_is_learnt_by_the_retry(
            self, app, provider, clock, succeeded, status) -> None:
        """Sending it again would only replay the create's first answer (pending): the retry asks first."""
        case = request(app)["case_id"]
        deliver(app, clock, provider.complete(psp_id(start(app, case)), "succeeded"))
        view = app.request_refund(case, "Gebühr erlassen", CLERK, "c")
        refund_id = view["refunds"][0]["refund_id"]
        (sent,) = provider.refunds.values()
        provider.settle_refund(sent["id"], succeeded=succeeded)  # its webhook never arrives
        assert app.submit_pending_refunds([(view["payment_id"], refund_id)], "c") == {refund_id: status}
        assert app.payment_for_case(case)["payment"]["refunds"][0]["status"] == status
        assert len(provider.refunds) == 1

    def test_a_refund_the_provider_refuses_is_failed_for_the_clerk(self, app, provider, clock) -> None:
        case = request(app)["case_id"]
        started = start(app, case)
        deliver(app, clock, provider.complete(psp_id(started), "succeeded"))
        provider.payments[psp_id(started)]["status"] = "failed"  # the provider no longer holds the money
        view = app.request_refund(case, "Gebühr erlassen", CLERK, "c")
        assert view["refunds"][0]["status"] == "failed" and view["refunds"][0]["failure"] == "provider:payment_not_refundable"
        assert view["needs_attention"] and provider.refunds == {}


class TestConcurrencyAndDurability:
    def test_concurrent_notices_and_starts_are_serialised(self, apps, provider, clock) -> None:
        first = apps()
        case = request(first)["case_id"]
        # two more instances (as two processes of the service would be), two threads each
        others = [apps() for _ in range(2)] * 2 if apps.backend != "popo" else [first] * 4
        errors: list[BaseException] = []

        def run(target, *args) -> threading.Thread:
            def body() -> None:
                try:
                    target(*args)
                except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)
            return threading.Thread(target=body)

        threads = [run(start, app, case) for app in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(first.receivable(case).payment_ids()) == 1 and len(provider.payments) == 1
        view = first.payment_for_case(case)
        pid = psp_id(view)
        success, failure = provider.complete(pid, "succeeded"), provider.complete(pid, "failed")
        deliveries = [signed(event, MERCHANT, clock() + timedelta(seconds=n)) for n, event in enumerate([success, failure] * 4)]
        threads = [run(app.receive_webhook, *delivery, "c") for app, delivery in zip(others * 2, deliveries, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        paid = first.payment_for_case(case)
        assert paid["paid"] and paid["status"] == "PAYED"
        assert event_names(first, Payment.create_id(case, 1)).count("Succeeded") == 1
        assert event_names(first, Receivable.create_id(case)).count("Paid") == 1



def test_what_one_instance_saved_another_reads(backend, clock, provider) -> None:
    """SQLite and PostgreSQL: a second process (here: instance) of the service sees it all."""
    db.ensure_schema("payments")
    made = [PaymentsApp(db.eventstore_env("payments"), provider=provider, merchants=merchants(), clock=clock)
            for _ in range(2)]
    try:
        case = request(made[0])["case_id"]
        deliver(made[0], clock, provider.complete(psp_id(start(made[0], case)), "succeeded"))
        assert made[1].payment_for_case(case)["paid"]
    finally:
        for app in made:
            app.close()
