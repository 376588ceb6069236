"""PaymentsService with the CatalogService in one runner on RabbitMQ and PostgreSQL: the
saga's request pins the fee's refund rule from the catalog over RPC; a citizen starts,
the provider's webhook pays, a replay is refused across RPC; a rejected case is refunded by
that rule; tenant lists, the cash office's CSV, reconciliation and the worker rounds.

The provider is the in-memory one of tests/payments_support.py (the HTTP adapter meets the
real simulator in its own test); it replaces the adapter inside the running container."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook
from nameko.testing.utils import get_container, get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided, domain_error
from services.payments.application import PaymentsApp
from services.payments.service import PaymentsService
from tests.payments_support import CLOPPENBURG, FakeProvider, signed

CITIZEN = {"subject": "citizen-1", "kind": "citizen", "grants": [], "trust_level": "high"}
CLERK = {"subject": "clerk-1", "kind": "clerk", "trust_level": "basic",
         "grants": [{"tenant": CLOPPENBURG, "role": "clerk", "service_keys": ["fuehrungszeugnis"]}]}


class Payments:
    def __init__(self, container: Any):
        self.container = container
        self.app: PaymentsApp = get_extension(container, Provided, attr_name="app").instance
        self.provider = FakeProvider(lambda: datetime.now(UTC))
        self.app.provider = self.provider

    def call(self, method: str, *args: Any, context_data: dict[str, Any] | None = None) -> Any:
        with entrypoint_hook(self.container, method, context_data=context_data) as hook:
            return hook(*args)

    def webhook(self, event: dict[str, Any], at: datetime | None = None) -> tuple[str, str]:
        body, header = signed(event, self.app.merchants.for_tenant(CLOPPENBURG), at or datetime.now(UTC))
        return body.decode(), header


@pytest.fixture
def payments(start_services) -> Payments:
    runner = start_services(CatalogService, PaymentsService)
    return Payments(get_container(runner, PaymentsService))


def case(**changes: Any) -> dict[str, Any]:
    return {"case_id": str(uuid.uuid4()), "tenant": CLOPPENBURG, "service_id": "fuehrungszeugnis",
            "reference": "CLP-2026-000042", "fee_cents": 1300, "form_version": 2, "applicant_ref": "citizen-1", **changes}


def test_request_start_pay_by_webhook_and_refund_on_rejection(payments: Payments, nameko_config) -> None:
    requested = payments.call("request_payment", case())
    case_id = requested["case_id"]
    assert requested["kassenzeichen"].startswith("CLP-K") and requested["status"] == "INITIAL"
    started = payments.call("start_payment", case_id, CITIZEN, "http://127.0.0.1:8000/zurueck")
    pay_url = started["payment"]["pay_url"]
    event = payments.provider.complete(pay_url.rsplit("/", 1)[1], "succeeded")
    body, header = payments.webhook(event)
    with ClusterRpcProxy(nameko_config, context_data={"correlation_id": "hook-1"}) as rpc:
        stored = rpc.payments.receive_webhook(body, header, CLOPPENBURG)
        assert (stored["status"], stored["outcome"]) == ("stored", "paid")
        with pytest.raises(RemoteError) as replayed:
            rpc.payments.receive_webhook(body, header, CLOPPENBURG)
        paid = rpc.payments.payment_for_case(case_id, CITIZEN)
    error = domain_error(replayed.value)
    assert error is not None and (error.code, error.params["reason"]) == ("webhook_rejected", "replayed")
    assert (paid["status"], paid["payment"]["method"]) == ("PAYED", "wero")
    succeeded = [e for e in payments.app.events.get(uuid.UUID(paid["payment"]["payment_id"])) if type(e).__name__ == "Succeeded"]
    assert [e.correlation_id for e in succeeded] == ["hook-1"]

    # the catalog's rule for Führungszeugnis, version 2: rejected → full refund
    closed = payments.call("close_case", case_id, "rejected", "clerk-1")
    (refund,) = closed["payment"]["refunds"]
    assert (refund["amount_cents"], refund["automatic"], refund["status"]) == (1300, True, "requested")
    (sent,) = payments.provider.refunds.values()
    body, header = payments.webhook(payments.provider.settle_refund(sent["id"]))
    assert payments.call("receive_webhook", body, header)["outcome"] == "refunded"

    listed = payments.call("list_payments", CLOPPENBURG, {"state": "paid"})
    assert [p["case_id"] for p in listed] == [case_id] and listed[0]["refund_state"] == "refunded"
    today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()  # the booking day
    export = payments.call("cash_office_export", CLOPPENBURG, "2000-01-01", "2100-01-01")
    assert export["content"].count(requested["kassenzeichen"]) == 2 and ";13,00;" in export["content"]
    report = payments.call("reconciliation_report", CLOPPENBURG, today)
    assert (report["ledger_lines"], report["settlement_lines"], report["ledger_cents"], report["mismatches"]) == (2, 2, 0, [])
    assert payments.call("reconciliation_report", CLOPPENBURG, today, False)["ledger_lines"] == 2


def test_the_fee_rule_comes_from_the_catalog_and_errors_cross_rpc(payments: Payments, nameko_config) -> None:
    free = payments.call("request_payment", case(service_id="hundeanmeldung", form_version=1))
    payments.call("start_payment", free["case_id"], CITIZEN, "http://127.0.0.1:8000/zurueck")
    paid = payments.provider.complete(next(iter(payments.provider.payments)), "succeeded")
    payments.call("receive_webhook", *payments.webhook(paid))
    # hundeanmeldung declares no refund rule: a rejection refunds nothing automatically
    assert payments.call("close_case", free["case_id"], "rejected", "clerk-1")["payment"]["refunds"] == []
    with ClusterRpcProxy(nameko_config) as rpc:
        for call, code in (
            (lambda: rpc.payments.request_payment(case(service_id="no-such-service")), "unknown_service"),
            (lambda: rpc.payments.payment_for_case(str(uuid.uuid4())), "payment_not_found"),
            (lambda: rpc.payments.start_payment(free["case_id"], {**CITIZEN, "subject": "x"}, "http://a.b/"), "payment_not_found"),
            (lambda: rpc.payments.request_refund(free["case_id"], "Kulanz", CITIZEN), "forbidden"),
            (lambda: rpc.payments.list_payments(CLOPPENBURG, {"limit": 1000}), "invalid_parameter"),
            (lambda: rpc.payments.receive_webhook("{}", "t=1,v1=" + "0" * 64), "webhook_rejected"),
        ):
            with pytest.raises(RemoteError) as caught:
                call()
            assert domain_error(caught.value).code == code


def test_the_worker_rounds(payments: Payments) -> None:
    requested = payments.call("request_payment", case())
    started = payments.call("start_payment", requested["case_id"], CITIZEN, "http://127.0.0.1:8000/zurueck")
    assert payments.call("expire_due") == 0  # not yet due
    payments.provider.complete(started["payment"]["pay_url"].rsplit("/", 1)[1], "succeeded")  # its webhook is lost
    assert payments.call("poll_unfinished") == {"paid": 1}
    assert payments.call("payment_returned", requested["case_id"], CITIZEN)["status"] == "PAYED"
    assert payments.call("retry_pending") == {"notices": {}, "refunds": {}}
    view = payments.call("request_refund", requested["case_id"], "Gebühr erlassen", CLERK)
    assert view["refunds"][0]["status"] == "requested"
