"""Demo accounts for development: ``seed_demo(app)``.

Creates (if absent) a citizen, an organisation, one clerk each for Stadt Vechta
(03460009), Stadt Lohne (03460006) and Landkreis Vechta (03460000), and a tenant admin
for Vechta — all e-mail-verified, with random passwords that are returned **once**
(print them, they are stored only as argon2 hashes). Re-running skips existing
accounts (``password`` is None for those).
"""

from __future__ import annotations

import secrets
from typing import Any

from services.identity.application import IdentityApplication
from services.identity.domain import PasswordRejected

DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"email": "demo.buerger@example.org", "kind": "citizen", "display_name": "Demo Bürger"},
    {
        "email": "demo.firma@example.org",
        "kind": "organisation",
        "display_name": "Demo Ansprechperson",
        "organisation_name": "Demo Handwerk GmbH",
    },
    {
        "email": "sachbearbeitung.vechta@example.org",
        "kind": "clerk",
        "display_name": "Sachbearbeitung Stadt Vechta",
        "grants": [("03460009", "clerk", ["*"])],
    },
    {
        "email": "sachbearbeitung.lohne@example.org",
        "kind": "clerk",
        "display_name": "Sachbearbeitung Stadt Lohne",
        "grants": [("03460006", "clerk", ["*"])],
    },
    {
        "email": "sachbearbeitung.landkreis@example.org",
        "kind": "clerk",
        "display_name": "Sachbearbeitung Landkreis Vechta",
        "grants": [("03460000", "clerk", ["*"])],
    },
    {
        "email": "admin.vechta@example.org",
        "kind": "tenant_admin",
        "display_name": "Verwaltung Stadt Vechta (Admin)",
        "grants": [("03460009", "tenant_admin", ["*"])],
    },
)


def demo_password(app: IdentityApplication, email: str) -> str:
    """16 random URL-safe characters (96 bits) that pass the password policy."""
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            return app.passwords.policy.check(candidate, email=email)
        except PasswordRejected:  # pragma: no cover - astronomically rare
            continue


def seed_demo(app: IdentityApplication) -> list[dict[str, Any]]:
    """Create the demo accounts; return ``[{email, kind, account_id, password, grants}]``."""
    created = []
    for spec in DEMO_ACCOUNTS:
        email = spec["email"]
        existing = app.lookup_account_id(email)
        if existing:
            created.append({"email": email, "kind": spec["kind"], "account_id": existing, "password": None, "grants": []})
            continue
        password = demo_password(app, email)
        if spec["kind"] in {"citizen", "organisation"}:
            outcome = app.register(
                email,
                password,
                kind=spec["kind"],
                display_name=spec.get("display_name"),
                organisation_name=spec.get("organisation_name"),
            )
            mails = outcome.mails
        else:
            mails = app.create_staff_account(
                email, kind=spec["kind"], display_name=spec.get("display_name"), password=password, created_by="seed_demo"
            ).mails
        token = next(m.params["token"] for m in mails if m.template == "verify_email")
        account_id = app.verify_email(token)["account_id"]
        grants = []
        for tenant, role, keys in spec.get("grants", ()):
            grants = app.grant_role(account_id, tenant, role, keys, granted_by="seed_demo")
        created.append(
            {"email": email, "kind": spec["kind"], "account_id": account_id, "password": password, "grants": grants}
        )
    return created
