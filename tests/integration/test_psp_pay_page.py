"""The simulator's hosted pay page over real HTTP: what the payer sees, and how each
outcome completes the payment and sends the payer back to the platform."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

from tests.psp_support import Merchant, PspProcess, Receiver

RETURN_URL = "http://127.0.0.1:8000/zahlung/zurueck?case=c-1"


class Structure(HTMLParser):
    """Tags with their attributes and the page's visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def parse(html: str) -> Structure:
    page = Structure()
    page.feed(html)
    return page


def test_the_page_shows_amount_purpose_and_todays_methods(merchant: Merchant) -> None:
    payment = merchant.payment(amount=123456, purpose="Führungszeugnis 2030-17")
    response = httpx.get(payment["pay_url"])
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    page = parse(response.text)
    text = " ".join(page.text)
    assert "1.234,56\u00a0€" in text and "Führungszeugnis 2030-17" in text
    assert "Testanbieter – kein echtes Geld" in text and ("html", {"lang": "de"}) in page.tags
    radios = [attrs for tag, attrs in page.tags if tag == "input" and attrs.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["wero", "paypal", "card", "sepa_direct_debit"]
    labels = {attrs["for"] for tag, attrs in page.tags if tag == "label"}
    assert {r["id"] for r in radios} <= labels
    assert {"Wero", "PayPal", "Kredit- oder Debitkarte", "SEPA-Lastschrift", "Zahlungsart"} <= set(page.text)
    assert "giropay" not in response.text.lower() and "paydirekt" not in response.text.lower()
    assert [tag for tag, _ in page.tags if tag in ("fieldset", "legend")] == ["fieldset", "legend"]
    buttons = [attrs["value"] for tag, attrs in page.tags if tag == "button"]
    assert buttons == ["success", "failure", "cancel"]


@pytest.mark.parametrize(("outcome", "status", "method"), [
    ("success", "succeeded", "wero"), ("failure", "failed", "paypal"), ("cancel", "cancelled", None),
])
def test_each_outcome_completes_and_returns_with_303(
    merchant: Merchant, receiver: Receiver, outcome: str, status: str, method: str | None
) -> None:
    payment = merchant.payment(return_url=RETURN_URL)
    response = httpx.post(payment["pay_url"], data={"outcome": outcome, **({"method": method} if method else {})})
    assert response.status_code == 303
    assert response.headers["location"] == f"{RETURN_URL}&payment_id={payment['id']}"
    after = merchant.status(payment["id"])
    assert (after["status"], after["method"]) == (status, method)
    assert after["completed_at"] and (after["succeeded_at"] is not None) == (status == "succeeded")
    [event] = receiver.wait_for(1, payment["id"])
    assert event["type"] == f"payment.{status}"
    finished = parse(httpx.get(payment["pay_url"]).text)
    assert not [attrs for tag, attrs in finished.tags if tag == "form"]


def test_success_without_a_method_asks_again_and_leaves_the_payment_open(merchant: Merchant) -> None:
    payment = merchant.payment()
    response = httpx.post(payment["pay_url"], data={"outcome": "success"})
    assert response.status_code == 422
    alerts = [attrs for tag, attrs in parse(response.text).tags if attrs.get("role") == "alert"]
    assert alerts and "Bitte wählen Sie eine Zahlungsart." in response.text
    assert merchant.status(payment["id"])["status"] == "open"


def test_a_completed_or_unknown_payment_cannot_be_paid_again(psp: PspProcess, merchant: Merchant) -> None:
    payment = merchant.paid()
    again = httpx.post(payment["pay_url"], data={"method": "card", "outcome": "failure"})
    assert again.status_code == 409 and merchant.status(payment["id"])["status"] == "succeeded"
    assert httpx.get(payment["pay_url"].rsplit("/", 1)[0] + "/no-such-token").status_code == 404
    assert [event["type"] for event in psp.events(payment["id"])] == ["payment.succeeded"]
