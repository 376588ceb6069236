"""Pure parts of the PSP simulator: its settings, fees, German amounts, return URLs and
the checks of the chaos switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import PaymentsSettings, PspSimulatorSettings
from services.payments.psp_simulator.chaos import Chaos
from services.payments.psp_simulator.errors import ApiError
from services.payments.psp_simulator.paypage import euro, return_to
from services.payments.psp_simulator.settlement import fee
from services.payments.psp_simulator.webhooks import sign


def test_settings_derive_url_and_state_and_read_fractions() -> None:
    settings = PspSimulatorSettings.from_env({
        "PSP_SIMULATOR_PORT": "18123", "VR_VAR_DIR": "/srv/vr", "VR_SCHEMA_PREFIX": "t1_",
        "PSP_SIMULATOR_WEBHOOK_RETRY_BASE": "0.05", "PSP_SIMULATOR_CHAOS_DROP_RATE": "0.25",
    })
    assert settings.public_url == "http://127.0.0.1:18123"
    assert Path(settings.state) == Path("/srv/vr/t1_psp-simulator.sqlite")
    assert (settings.webhook_retry_base, settings.chaos_drop_rate) == (0.05, 0.25)
    assert PspSimulatorSettings.from_env({"PSP_SIMULATOR_PUBLIC_URL": "https://psp.example/"}).public_url == "https://psp.example"
    assert PaymentsSettings.from_env({}).psp_base_url == "http://127.0.0.1:8090"


@pytest.mark.parametrize(("method", "amount", "expected"), [
    ("card", 1300, 43),  # 1.4 % of 13,00 € = 18.2 ct → 18, + 25
    ("paypal", 1300, 67),  # 2.49 % = 32.37 → 32, + 35
    ("wero", 2500, 30),  # 0.8 % = 20, + 10
    ("sepa_direct_debit", 99_999_999, 35),
    ("card", 50, 26),  # 0.7 ct rounds half up to 1
])
def test_fees_are_integer_cents_rounded_half_up(method: str, amount: int, expected: int) -> None:
    assert fee(method, amount) == expected


def test_amounts_are_written_the_german_way() -> None:
    assert euro(1300) == "13,00\u00a0€"
    assert euro(5) == "0,05\u00a0€"
    assert euro(123456789) == "1.234.567,89\u00a0€"


def test_the_return_url_keeps_its_query_and_gains_the_payment_id() -> None:
    assert return_to("https://rathaus.example/zurueck?case=a%20b", "pay_1") == "https://rathaus.example/zurueck?case=a+b&payment_id=pay_1"
    assert return_to("http://127.0.0.1:8000/z", "pay_2") == "http://127.0.0.1:8000/z?payment_id=pay_2"


def test_chaos_switches_change_together_or_not_at_all() -> None:
    chaos = Chaos()
    chaos.update({"drop_rate": 0.5, "delay": 2})
    assert (chaos.drop_rate, chaos.delay) == (0.5, 2.0)
    for bad in ({"drop_rate": 0.1, "duplicate_rate": 2}, {"delay": -1}, {"drop_rate": True}, {"nonsense": 1}):
        with pytest.raises(ApiError):
            chaos.update(bad)
    assert (chaos.drop_rate, chaos.duplicate_rate, chaos.delay) == (0.5, 0.0, 2.0)
    assert not any(Chaos().roll(0) for _ in range(100)) and all(Chaos().roll(1) for _ in range(100))


def test_the_readme_signature_example_is_what_the_simulator_signs() -> None:
    """The worked example in the README is the contract a verifier is tested against."""
    readme = (Path(__file__).resolve().parents[2] / "services/payments/psp_simulator/README.md").read_text(encoding="utf-8")
    header = sign("whsec_example_secret_0001", 1900000000, b'{"id":"evt_0001","type":"payment.succeeded"}')
    assert f"`PSP-Signature: {header}`" in readme
