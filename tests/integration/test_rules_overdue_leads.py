"""Overdue cases reach the responsible tenant's team leads (issue #16): identity names them
(``staff_with_role``, its own read model: active, verified staff with the role now), the
rules application hands the due notice to the real notifications application with their
account ids, and each lead gets exactly one real SMTP mail; a lead of another tenant,
a clerk, an unverified or locked lead get none; a second round, a restarted rules process
or the same notice handed over again sends nothing more; a tenant without a team lead
falls back to the authority's own address."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.catalog.application import CatalogApp
from services.common.config import settings
from services.common.db import ReadStore
from services.identity.application import IdentityApplication
from services.identity.eid import SimulatedEidProvider
from services.notifications.application import NotificationsApp
from services.notifications.projections import Outbox
from services.notifications.smtp import SmtpTransport
from services.rules.application import RulesApp
from services.rules.domain import RuleAction
from tests.identity_support import STRONG, TEST_SETTINGS, only_mail
from tests.integration.test_notifications import BASE
from tests.integration.test_rules_app import DOG_GONE, NO_PAST, submit
from tests.integration.test_rules_reminders import AppReminders, mailbox, notifications, rules  # noqa: F401 - fixtures
from tests.support import AppCases, case_envelopes

VECHTA, LOHNE, DAMME = "03460009", "03460006", "03460002"
ERIKA = "citizen-erika"
OVERDUE = {"service_id": "hundeabmeldung", "kind": "reminder", "name": "Bearbeitung überfällig",
           "when": {"fact": "age_days", "op": "gte", "value": 0}, "then": {"on": "overdue", "after_days": 14}}


@pytest.fixture
def identity(store_env, clock, keyset) -> IdentityApplication:
    return IdentityApplication(env={**TEST_SETTINGS, **store_env("identity")}, clock=clock, keyset=keyset,
                               eid_provider=SimulatedEidProvider())


class AppStaff:
    """``identity.staff_with_role`` on the identity application (the rules consumer's RPC)."""

    def __init__(self, app: IdentityApplication) -> None:
        self.app = app

    def staff_with_role(self, tenant: str, role: str) -> list[dict[str, str]]:
        return self.app.staff_with_role(tenant, role)


class AppDirectory:
    """What notifications asks at send time (RpcDirectory): addresses from identity, tenants
    from catalog — the real applications; the citizen of these cases has no account here."""

    def __init__(self, identity: IdentityApplication, catalog: CatalogApp) -> None:
        self.identity, self.catalog = identity, catalog

    def recipient(self, account_id: str) -> dict[str, Any] | None:
        if account_id == ERIKA:
            return {"email": "erika@example.org"}
        return {"email": self.identity.get_account(account_id)["email"]}

    def tenant(self, ags: str) -> dict[str, Any]:
        return self.catalog.tenant(ags)


def staff(identity: IdentityApplication, email: str, grants: list[tuple[str, str]], verified: bool = True) -> str:
    created = identity.create_staff_account(email, kind="clerk", password=STRONG, created_by="admin")
    if verified:
        identity.verify_email(only_mail(created, "verify_email").params["token"])
    for tenant, role in grants:
        identity.grant_role(created.account_id, tenant, role, ["*"], granted_by="admin")
    return created.account_id


def switched_on(app: RulesApp, tenant: str) -> str:
    rule_id = app.define(tenant, OVERDUE, "admin", "c")["rule_id"]
    app.shadow_run(rule_id, "2026-01-01", "2026-12-31", lambda *_: NO_PAST, "admin", "c")
    app.activate(rule_id, "admin", "c")
    return rule_id


def send_all(app: NotificationsApp, directory: AppDirectory) -> list[dict[str, Any]]:
    outbox = Outbox(ReadStore("notifications"))
    outbox.catch_up(app)
    transport = SmtpTransport(settings(), timeout=5)
    try:
        return [app.deliver(mid, transport, directory, BASE, rng=random.Random(1))
                for mid in outbox.due(datetime(2100, 1, 1).isoformat())]
    finally:
        transport.close()


def test_staff_with_role_names_only_active_verified_leads_of_the_tenant(identity) -> None:
    lead_a = staff(identity, "lead.a@vechta.example", [(VECHTA, "team_lead")])
    lead_b = staff(identity, "lead.b@vechta.example", [(VECHTA, "team_lead"), (VECHTA, "clerk")])
    staff(identity, "lead@lohne.example", [(LOHNE, "team_lead")])
    staff(identity, "clerk@vechta.example", [(VECHTA, "clerk")])
    staff(identity, "new.lead@vechta.example", [(VECHTA, "team_lead")], verified=False)
    locked = staff(identity, "locked.lead@vechta.example", [(VECHTA, "team_lead")])
    identity.lock_account(locked, by="admin")
    revoked = staff(identity, "former.lead@vechta.example", [(VECHTA, "team_lead")])
    assert len(identity.staff_with_role(VECHTA, "team_lead")) == 3  # read before the revocation: still counted
    identity.revoke_role(revoked, VECHTA, "team_lead", revoked_by="admin")

    assert identity.staff_with_role(VECHTA, "team_lead") == sorted(
        [{"account_id": lead_a, "email": "lead.a@vechta.example"}, {"account_id": lead_b, "email": "lead.b@vechta.example"}],
        key=lambda s: s["account_id"])
    assert [s["email"] for s in identity.staff_with_role(LOHNE, "team_lead")] == ["lead@lohne.example"]
    assert identity.staff_with_role(DAMME, "team_lead") == []


def test_overdue_case_reaches_each_team_lead_once_and_falls_back_without_leads(
    rules, notifications, identity, catalog, submissions, resolve, clock, mailbox, store_env,  # noqa: F811
) -> None:
    leads = {staff(identity, "lead.a@vechta.example", [(VECHTA, "team_lead")]): "lead.a@vechta.example",
             staff(identity, "lead.b@vechta.example", [(VECHTA, "team_lead")]): "lead.b@vechta.example"}
    staff(identity, "lead@lohne.example", [(LOHNE, "team_lead")])
    staff(identity, "clerk@vechta.example", [(VECHTA, "clerk")])
    vechta_rule, _, _ = (switched_on(rules, tenant) for tenant in (VECHTA, LOHNE, DAMME))
    in_vechta = submit(submissions, resolve, "overdue-vechta", "hundeabmeldung", DOG_GONE, principal=ERIKA)
    in_damme = submit(submissions, resolve, "overdue-damme", "hundeabmeldung", DOG_GONE, principal=ERIKA,
                      portal=DAMME)
    cases = AppCases(submissions)
    for envelope in case_envelopes(submissions):
        notifications.accept(envelope)
        rules.consume(envelope, cases)
    directory, reminders, team = AppDirectory(identity, catalog), AppReminders(notifications), AppStaff(identity)
    before = len(send_all(notifications, directory))  # the citizen's confirmations

    [submitted] = [e for e in case_envelopes(submissions)
                   if e["aggregate_id"] == in_vechta and e["type"] == "case.submitted.v1"]
    action = rules.repository.get(RuleAction.create_id(str(submitted["event_id"]), f"rule:{vechta_rule}@v1"))
    clock.now = datetime.fromisoformat(action.due_at) + timedelta(hours=1)  # both cases due (14 days on)
    assert rules.deliver_due(cases, reminders, team) == {"sent": 2}
    notices = [m for m in send_all(notifications, directory) if m["kind"] == "case_overdue"]
    assert len(notices) == 3 and {m["status"] for m in notices} == {"delivered"}
    mails = mailbox.messages()[before:]
    assert sorted(m["to"] for m in mails) == sorted([*leads.values(), "buergerbuero@damme.example"])
    vechta_ref = submissions.get_case(in_vechta).reference
    damme_ref = submissions.get_case(in_damme).reference
    for mail in mails:
        assert mail["subject"] == f"Überfälliger Vorgang {damme_ref if 'damme' in mail['to'] else vechta_ref}"

    # a later round, a restarted rules process, the same notice handed over again: nothing more
    sent = len(mailbox.messages())
    assert rules.deliver_due(cases, reminders, team) == {}
    assert RulesApp(store_env("rules"), clock=clock).deliver_due(cases, reminders, team) == {}
    assert rules.repository.get(action.id).result == "sent"
    assert notifications.accept_reminder({"reminder_id": str(action.id), "audience": "team", "tenant": VECHTA,
                                          "case_id": in_vechta, "recipients": sorted(leads)}) == 0
    assert send_all(notifications, directory) == [] and len(mailbox.messages()) == sent

