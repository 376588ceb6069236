"""Webhook signatures (Stripe's scheme: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``, 300 s
tolerance, the merchant's own secret) and the merchants configuration. Replays are refused
by the inbox (tests/integration/test_payments_app.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from services.common.config import PaymentsSettings, Settings
from services.common.problems import DomainError, problem
from services.payments.merchants import (
    Merchant,
    Merchants,
    MerchantsFileError,
    development_merchant,
    load_file,
    simulator_file,
)
from services.payments.psp.webhooks import WebhookRejected, read, sign, verify

SECRET = "whsec_test_0123456789abcdef"
NOW = 1_790_000_000
BODY = json.dumps({
    "id": "evt_1", "type": "payment.succeeded", "created": "2026-09-21T10:00:00Z", "merchant_id": "03453004",
    "data": {"payment": {"id": "pay_1", "status": "succeeded", "amount": 1300, "merchant_reference": "ref",
                         "method": "wero", "succeeded_at": "2026-09-21T10:00:00Z", "refunds": []}},
}).encode()
MERCHANT = Merchant("03453004", "03453004", "sk_test_0123456789abcdef", SECRET)


def reason(call) -> str:
    with pytest.raises(WebhookRejected) as caught:
        call()
    assert caught.value.code == "webhook_rejected" and caught.value.status == 400
    return caught.value.params["reason"]


def test_a_signature_by_the_scheme_is_accepted_within_the_tolerance() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"
    for offset in (0, 300, -300):
        assert verify(BODY, sign(SECRET, NOW + offset, BODY), SECRET, NOW, 300) == f"t={NOW + offset},v1=" + sign(SECRET, NOW + offset, BODY)[-64:]
    rotated = f"t={NOW},v1={'0' * 64},v1={sign(SECRET, NOW, BODY)[-64:]}"  # one of several candidates
    assert verify(BODY, rotated, SECRET, NOW, 300).endswith(sign(SECRET, NOW, BODY)[-64:])


def test_the_providers_worked_example_verifies() -> None:
    """The example of the simulator's README (services/payments/psp_simulator/README.md)."""
    body = b'{"id":"evt_0001","type":"payment.succeeded"}'
    header = "t=1900000000,v1=08cce9848361c4544756fb94937459218fa2168ca171b98a07c3827aae4c2dab"
    assert sign("whsec_example_secret_0001", 1900000000, body) == header
    assert verify(body, header, "whsec_example_secret_0001", 1900000100, 300) == header


@pytest.mark.parametrize(("header", "why"), [
    (sign("whsec_someone_else_entirely", NOW, BODY), "signature"),  # forged: another secret
    (sign(SECRET, NOW, BODY + b" "), "signature"),  # the body was changed on the way
    (sign(SECRET, NOW - 301, BODY), "stale"),  # too old: a replay from long ago
    (sign(SECRET, NOW + 301, BODY), "stale"),  # from the future
    (f"t={NOW}", "malformed"),
    (f"v1={'a' * 64}", "malformed"),
    ("", "malformed"),
    (f"t=yesterday,v1={'a' * 64}", "malformed"),
    (f"t={NOW},v1=abc", "malformed"),
])
def test_forged_tampered_stale_and_malformed_signatures_are_rejected(header: str, why: str) -> None:
    assert reason(lambda: verify(BODY, header, SECRET, NOW, 300)) == why


def test_read_takes_the_secret_of_the_merchant_the_body_names() -> None:
    merchants = Merchants([MERCHANT])
    merchant, event, signature = read(BODY, sign(SECRET, NOW, BODY), merchants, NOW, 300)
    assert merchant == MERCHANT and signature.startswith(f"t={NOW},v1=")
    assert (event.event_id, event.kind, event.payment.status, event.payment.amount_cents, event.refund) == (
        "evt_1", "payment.succeeded", "succeeded", 1300, None)
    other = Merchant("03460009", "03460009", "sk_test_abcdefabcdef0000", "whsec_vechta_000000000000")
    as_vechta = BODY.replace(b"03453004", b"03460009")
    # Cloppenburg's secret does not vouch for a body in Vechta's name, nor the other way round
    assert reason(lambda: read(as_vechta, sign(SECRET, NOW, as_vechta), Merchants([MERCHANT, other]), NOW, 300)) == "signature"
    assert reason(lambda: read(as_vechta, sign(SECRET, NOW, as_vechta), merchants, NOW, 300)) == "signature"
    assert read(BODY, sign(SECRET, NOW, BODY), merchants, NOW, 300, merchant_header="03453004")[0] == MERCHANT
    assert reason(lambda: read(BODY, sign(SECRET, NOW, BODY), merchants, NOW, 300, merchant_header="03460009")) == "malformed"
    assert reason(lambda: read(b"not json", "t=1", merchants, NOW, 300)) == "malformed"
    assert reason(lambda: read(b"x" * 300_000, "t=1", merchants, NOW, 300)) == "malformed"
    signed_garbage = json.dumps({"merchant_id": "03453004", "type": "payment.succeeded"}).encode()
    assert reason(lambda: read(signed_garbage, sign(SECRET, NOW, signed_garbage), merchants, NOW, 300)) == "malformed"
    text = problem("webhook_rejected", "de", reason="stale")["detail"]
    assert "abgewiesen" in text and "stale" in text


def test_a_signed_event_of_a_type_we_do_not_handle_is_read_without_payment() -> None:
    body = json.dumps({"id": "evt_2", "type": "payout.paid", "created": "x", "merchant_id": "03453004", "data": {}}).encode()
    _, event, _ = read(body, sign(SECRET, NOW, body), Merchants([MERCHANT]), NOW, 300)
    assert event.kind == "payout.paid" and event.payment is None


# -- merchants -----------------------------------------------------------------------------------
def test_development_merchants_are_derived_per_tenant_from_the_deployment_secret(tmp_path: Path) -> None:
    secret = b"a" * 32
    merchants = Merchants((), derive_secret=secret)
    cloppenburg = merchants.for_tenant("03453004")
    assert cloppenburg == development_merchant("03453004", secret) == merchants.by_id("03453004")
    assert cloppenburg.webhook_secret != merchants.for_tenant("03460009").webhook_secret
    assert cloppenburg.webhook_secret != development_merchant("03453004", b"b" * 32).webhook_secret
    assert merchants.by_id("not-an-ags") is None
    with pytest.raises(DomainError) as caught:
        Merchants([]).for_tenant("03453004")
    assert caught.value.code == "payment_not_configured"
    platform = Settings(var_dir=tmp_path, vr_secret_key="s" * 32, public_base_url="http://rathaus.test")
    written = json.loads(simulator_file(tmp_path / "m.json", ["03453004"], platform).read_text())
    derived = Merchants.from_settings(PaymentsSettings(), platform).for_tenant("03453004")
    assert written == [{"merchant_id": "03453004", "tenant": "03453004", "name": derived.name, "api_key": derived.api_key,
                        "webhook_secret": derived.webhook_secret, "webhook_url": "http://rathaus.test/api/v1/payments/webhooks/psp"}]
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o600


def test_a_merchants_file_is_checked_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "merchants.json"
    entry = {"merchant_id": "clp", "tenant": "03453004", "api_key": "k" * 16, "webhook_secret": "s" * 16,
             "kassenzeichen_pattern": "5.{ags}.{seq:06d}"}
    path.write_text(json.dumps({"merchants": [entry]}))
    (loaded,) = load_file(path)
    assert (loaded.merchant_id, loaded.tenant, loaded.kassenzeichen_pattern) == ("clp", "03453004", "5.{ags}.{seq:06d}")
    merchants = Merchants.from_settings(PaymentsSettings(merchants_file=str(path)), Settings(var_dir=tmp_path))
    assert merchants.by_id("clp") == loaded and merchants.by_id("03460009") is None
    for broken in ({**entry, "api_key": "short"}, {**entry, "tenant": "Cloppenburg"},
                   {**entry, "kassenzeichen_pattern": "{code}"}, {**entry, "merchant_id": "a b"}):
        path.write_text(json.dumps([broken]))
        with pytest.raises(MerchantsFileError, match=r"merchants\.json"):
            load_file(path)
    path.write_text(json.dumps([entry, {**entry, "merchant_id": "other"}]))
    with pytest.raises(MerchantsFileError, match="twice"):
        load_file(path)
    path.write_text("{")
    with pytest.raises(MerchantsFileError):
        load_file(path)


def test_payments_settings_come_from_their_variables() -> None:
    loaded = PaymentsSettings.from_env({"PSP_BASE_URL": "http://psp:9", "PAYMENTS_EXPIRY_MINUTES": "30",
                                        "PAYMENTS_WEBHOOK_TOLERANCE": "120"})
    assert (loaded.psp_base_url, loaded.expiry_minutes, loaded.webhook_tolerance) == ("http://psp:9", 30, 120)
    assert PaymentsSettings.from_env({}) == PaymentsSettings()
