"""The production switch (services.common.production): under VR_ENV=production every unsafe
development setting is named, one clear line each; in development nothing is refused."""

from __future__ import annotations

import pytest

from services.common.production import unsafe_settings

#: A production configuration with nothing to object to.
SAFE = {
    "VR_ENV": "production",
    "COOKIE_SECURE": "1",
    "IDENTITY_SIGNING_KEY_FILE": "/etc/rathaus/keys/2026-01.private.pem",
    "IDENTITY_SIGNING_KEY_ID": "2026-01",
    "AMQP_URI": "amqps://rathaus:Ein-langes-Broker-Passwort@rabbit.intern:5671/rathaus",
    "VR_SECRET_KEY": "k" * 48,
    "PUBLIC_BASE_URL": "https://rathaus.example.de",
    "WEB_PUBLIC_URL": "https://portal.rathaus.example.de",
    "WEB_SESSION_SECRET": "s" * 48 + ",previous-key-still-decrypting-old-cookies",
}

UNSAFE = {
    "eid simulator": ({"IDENTITY_EID_PROVIDER": "simulated"}, "IDENTITY_EID_PROVIDER"),
    "plain-http cookies": ({"COOKIE_SECURE": "0"}, "COOKIE_SECURE"),
    "generated signing key": ({"IDENTITY_SIGNING_KEY_FILE": ""}, "IDENTITY_SIGNING_KEY_FILE"),
    "guest broker credentials": ({"AMQP_URI": "amqp://guest:guest@rabbit.intern:5672/"}, "AMQP_URI"),
    "default broker uri": ({"AMQP_URI": ""}, "AMQP_URI"),  # unset: the development default, guest/guest
    "development secret": ({"VR_SECRET_KEY": ""}, "VR_SECRET_KEY"),
    "short secret": ({"VR_SECRET_KEY": "zu-kurz"}, "VR_SECRET_KEY"),
    "plain-http public url": ({"PUBLIC_BASE_URL": "http://rathaus.example.de"}, "PUBLIC_BASE_URL"),
    "default public url": ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),  # unset: http://127.0.0.1:8000
    "plain-http portal": ({"WEB_PUBLIC_URL": "http://portal.rathaus.example.de"}, "WEB_PUBLIC_URL"),
    "default portal url": ({"WEB_PUBLIC_URL": ""}, "WEB_PUBLIC_URL"),  # unset: http://127.0.0.1:8080
    "generated session key": ({"WEB_SESSION_SECRET": ""}, "WEB_SESSION_SECRET"),
    "short session key": ({"WEB_SESSION_SECRET": "s" * 48 + ",kurz"}, "WEB_SESSION_SECRET"),
    "portal links to a mail sink": ({"WEB_DEV_MAIL_SINK_URL": "http://127.0.0.1:8025"}, "WEB_DEV_MAIL_SINK_URL"),
}


def test_a_safe_production_configuration_passes() -> None:
    assert unsafe_settings(SAFE) == []


@pytest.mark.parametrize("change, variable", UNSAFE.values(), ids=list(UNSAFE))
def test_each_unsafe_setting_is_refused_with_its_own_message(change: dict[str, str], variable: str) -> None:
    problems = unsafe_settings({**SAFE, **change})
    assert len(problems) == 1, problems
    assert problems[0].startswith(variable), problems


def test_everything_unsafe_at_once_gives_one_line_each() -> None:
    env = {"VR_ENV": "production", "IDENTITY_EID_PROVIDER": "simulated", "COOKIE_SECURE": "0"}
    problems = unsafe_settings(env)
    named = {line.split(" ")[0].split("=")[0].rstrip(":") for line in problems}
    assert named == {"IDENTITY_EID_PROVIDER", "COOKIE_SECURE", "IDENTITY_SIGNING_KEY_FILE", "AMQP_URI",
                     "VR_SECRET_KEY", "PUBLIC_BASE_URL", "WEB_PUBLIC_URL", "WEB_SESSION_SECRET"}
    assert all("\n" not in line for line in problems)


def test_development_refuses_nothing() -> None:
    everything_unsafe = {"IDENTITY_EID_PROVIDER": "simulated", "COOKIE_SECURE": "0"}
    assert unsafe_settings(everything_unsafe) == []  # VR_ENV unset: development
    assert unsafe_settings({**everything_unsafe, "VR_ENV": "development"}) == []


def test_an_unknown_environment_name_is_refused_not_taken_for_development() -> None:
    [problem] = unsafe_settings({**SAFE, "VR_ENV": "prod"})
    assert problem.startswith("VR_ENV") and "production" in problem
