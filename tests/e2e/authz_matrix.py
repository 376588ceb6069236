"""The authorisation matrix of the gateway: every route × every principal → expected outcome.

One row per request *variant*; a route may have several (the case actions, a tenant's own
vs. another tenant's administration, submitting for oneself vs. on a citizen's behalf).
``tests/e2e/test_authorization.py`` sends every row as every principal and fails if a
gateway route has no row (or a row names no route).

Outcome classes
---------------
allowed          the request passed authentication and authorisation: a 2xx, or a 4xx
                 that is a *validation* answer of the handler itself (named per row,
                 with its problem code), e.g. a deliberately bad one-time token.
unauthenticated  401 ``unauthenticated`` (anonymous caller on a route that needs a login).
forbidden        403 ``forbidden`` (the caller may know the resource exists).
hidden           404 ``case_not_found``, identical (apart from the id) to the answer the
                 same caller gets for a random unknown case id: no existence leak.

The policy (issue "authorisation matrix")
-----------------------------------------
* Public: health, tenants, services, search, offerings, OZG browse, register, login,
  refresh, verify e-mail, password reset, e-mail change confirmation, eID simulator (dev).
* ``/api/v1/me*`` and logout: any logged-in principal, for their own account only.
* Citizens submit for themselves and read/act only on their own cases (withdraw,
  supply-information). Staff cannot submit "for themselves" (403).
* Clerks and team leads of the responsible tenant holding the case's service key read
  the case and act (start-review, request-information, request-payment, approve,
  reject); only team leads reassign; record-payment belongs to the payments system and
  is granted to no person. Either may submit on a citizen's behalf.
* Anyone else gets the case as ``hidden``; the owner / responsible clerks get
  ``forbidden`` for actions that are not theirs.
* The *responsible* authority decides, not the portal: citizen A's second case, a
  Sperrmüll collection asked for on Bakum's portal, belongs to Landkreis Vechta — its
  clerks read and work it, Bakum's clerks see it nowhere.
* Worklist: clerks/team leads of that tenant only; a clerk without the service key gets a
  200 whose items never contain that service (filtered inside the query).
* A case's messages (delivery states): its clerks and team leads; the applicant is told
  ``forbidden`` (they read the same in the case's timeline), everyone else gets the case's 404.
* Tenant admins: staff and offerings (and the tenant profile) of their own tenant, the
  audit trail of its cases — never case contents or the worklist.
* Payments: a case's payment is the case's (its readers see it, the rest get the case's
  404); only the applicant starts paying, only the case's clerks and team leads refund;
  the provider's webhook needs no login (its signature is checked); a tenant's payments,
  reconciliation and cash-office export are its tenant admins'.
* Postbox (issue #11): a citizen's postbox, its messages and their attachments are the
  owner's only; anyone else gets the same 404 as for an unknown message (staff accounts
  have no postbox: their list is 403). A case's documents (decision letters) are its
  responsible clerks' — readers of the case as staff; everyone else, the applicant too
  (who has the letter in the postbox), gets the case as ``hidden``.
* Rules (issue #16): a tenant's rules are its tenant admins' alone (operators and clerks: 403).
* Usage and acceptance KPIs (counts, no case contents): a tenant's admins for their tenant,
  operators for every tenant.
* Operators: register tenants, manage staff, offerings and profiles of every tenant —
  never case contents, the audit trail or worklists.
* Four-eyes (issue #9): a role given over the API is a request; it takes effect only when a
  second person approves it — another admin of the tenant or an operator, neither the
  requester nor the grantee. Nobody approves their own request (that row is denied for
  everyone), and a pending request gives nothing: the tenant admin has asked for a clerk
  role for itself and for ``clerk_pending`` (an alias it might control), and in every row
  both are treated as holding no such role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

VECHTA, LOHNE, BAKUM, LK_VECHTA = "03460009", "03460006", "03460001", "03460000"
CASE_SERVICE = "hundeanmeldung"  # the fixture case's service
DISTRICT_SERVICE = "sperrmuell"  # the second fixture case: asked for on Bakum's portal, the Landkreis is responsible
OFFERING_SERVICE = "briefwahl"  # the offering the admin rows withdraw and offer again (no other test uses it)

ANON, CIT_A, CIT_B = "anonymous", "citizen_a", "citizen_b"
CLERK, LOHNE_CLERK, NO_KEY_CLERK = "clerk", "clerk_lohne", "clerk_no_key"
BAKUM_CLERK, DISTRICT_CLERK, PENDING_CLERK = "clerk_bakum", "clerk_district", "clerk_pending"
LEAD, ADMIN, OPERATOR = "team_lead", "tenant_admin", "operator"

#: name -> (account kind, grants as (tenant, role, service keys)); None = no account.
PRINCIPALS: Mapping[str, tuple[str, list[tuple[str, str, list[str]]]] | None] = {
    ANON: None,
    CIT_A: ("citizen", []),
    CIT_B: ("citizen", []),
    CLERK: ("clerk", [(VECHTA, "clerk", ["*"])]),
    LOHNE_CLERK: ("clerk", [(LOHNE, "clerk", ["*"])]),
    NO_KEY_CLERK: ("clerk", [(VECHTA, "clerk", ["gewerbeanmeldung"])]),
    BAKUM_CLERK: ("clerk", [(BAKUM, "clerk", ["*"])]),
    DISTRICT_CLERK: ("clerk", [(LK_VECHTA, "clerk", ["*"])]),
    PENDING_CLERK: ("clerk", []),
    LEAD: ("clerk", [(VECHTA, "team_lead", ["*"])]),
    ADMIN: ("tenant_admin", [(VECHTA, "tenant_admin", ["*"])]),
    OPERATOR: ("operator", []),
}
#: Roles asked for over the API and never approved: principal -> (who asked, the grants asked for).
PENDING: Mapping[str, tuple[str, list[tuple[str, str, list[str]]]]] = {
    PENDING_CLERK: (ADMIN, [(VECHTA, "clerk", ["*"])]),
    ADMIN: (ADMIN, [(VECHTA, "clerk", ["*"])]),
}
SHORT = {ANON: "anon", CIT_A: "citA", CIT_B: "citB", CLERK: "clerk", LOHNE_CLERK: "lohne",
         NO_KEY_CLERK: "nokey", BAKUM_CLERK: "bakum", DISTRICT_CLERK: "lkv", PENDING_CLERK: "pend",
         LEAD: "lead", ADMIN: "admin", OPERATOR: "oper"}


@dataclass(frozen=True)
class Outcome:
    label: str  # allowed | unauthenticated | forbidden | hidden
    statuses: frozenset[int]
    code: str | None = None  # the problem code that must come back (None: any / no problem body)

    def __str__(self) -> str:
        statuses = "/".join(str(s) for s in sorted(self.statuses))
        return f"{self.label} {statuses}" + (f" {self.code}" if self.code else "")


def ok(*statuses: int, code: str | None = None) -> Outcome:
    return Outcome("allowed", frozenset(statuses), code)


UNAUTHENTICATED = Outcome("unauthenticated", frozenset({401}), "unauthenticated")
FORBIDDEN = Outcome("forbidden", frozenset({403}), "forbidden")
HIDDEN = Outcome("hidden", frozenset({404}), "case_not_found")
HIDDEN_ITEM = Outcome("hidden", frozenset({404}), "postbox_item_not_found")  # another's postbox message
DRAFT_HIDDEN = Outcome("hidden", frozenset({404}), "draft_not_found")  # someone else's draft: as if there were none
FOUR_EYES = Outcome("forbidden", frozenset({403}), "four_eyes_required")  # approving one's own request
#: The submission API takes a back-office client's Basic credentials, no account's token.
#: (Anonymous or with cookies: ``unauthenticated``; with a bearer token: ``invalid_client``.)
NO_CLIENT = Outcome("unauthenticated", frozenset({401}))


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # the route's URL rule exactly as written in @http(...)
    variant: str  # names the request (see RECIPES in test_authorization.py)
    expect: Mapping[str, Outcome]


def public(method: str, url: str, variant: str, outcome: Outcome) -> Row:
    return Row(method, url, variant, dict.fromkeys(PRINCIPALS, outcome))


def logged_in(method: str, url: str, variant: str, default: Outcome, **overrides: Outcome) -> Row:
    """Anonymous → 401; ``default`` for every logged-in principal unless overridden."""
    unknown = set(overrides) - set(PRINCIPALS)
    assert not unknown, f"no such principal: {unknown}"
    expect = {name: overrides.get(name, default) for name in PRINCIPALS}
    expect[ANON] = UNAUTHENTICATED
    return Row(method, url, variant, expect)


OK200, OK201, OK202, OK204 = ok(200), ok(201), ok(202), ok(204)
BAD_TOKEN = ok(400, code="token_invalid")
CASE, ACTION, AUDIT = "/api/v1/cases/<case_id>", "/api/v1/cases/<case_id>/actions/<action>", "/api/v1/cases/<case_id>/audit"
MESSAGES = "/api/v1/cases/<case_id>/messages"
CASES, WORKLIST = "/api/v1/tenants/<ags>/cases", "/api/v1/tenants/<ags>/worklist"
TENANT_ADMIN, OFFERING_ADMIN = "/api/v1/admin/tenants/<ags>", "/api/v1/admin/tenants/<ags>/offerings/<service_id>"
STAFF, GRANTS = "/api/v1/admin/tenants/<ags>/staff", "/api/v1/admin/tenants/<ags>/staff/<account_id>/grants"
KPIS = "/api/v1/tenants/<ags>/kpis"
PAYMENT, REFUND, PAYMENTS = "/api/v1/cases/<case_id>/payment", "/api/v1/cases/<case_id>/payment/refund", "/api/v1/tenants/<ags>/payments"
NO_PAYMENT = ok(404, code="payment_not_found")  # may see the case, which has no payment
POSTBOX, DOCUMENTS = "/api/v1/me/postbox", "/api/v1/cases/<case_id>/documents"
DRAFTS, DRAFT = "/api/v1/tenants/<ags>/drafts", "/api/v1/drafts/<draft_id>"
CASE_ATTACHMENT = "/api/v1/cases/<case_id>/attachments/<attachment_id>"
COUNCIL, COUNCIL_SOURCE = "/api/v1/tenants/<ags>/council", "/api/v1/admin/tenants/<ags>/council/source"
NO_COUNCIL_ITEM = ok(404, code="not_found")  # public; an id the (empty) read model does not hold
RULES, RULE = "/api/v1/admin/tenants/<ags>/rules", "/api/v1/admin/tenants/<ags>/rules/<rule_id>"
APPROVE, REJECT, HISTORY = f"{GRANTS}/<request_id>/approve", f"{GRANTS}/<request_id>/reject", f"{GRANTS}/history"
HANDOVER_SUBMISSION, HANDOVER_CLIENTS = "/api/v1/handover/submissions/<case_id>", "/api/v1/admin/tenants/<ags>/handover-clients"

# Which case actions a reader of the fixture case may perform (everyone else: hidden).
_OWNER = {CIT_A: OK200, CLERK: FORBIDDEN, LEAD: FORBIDDEN}
_CLERKS = {CIT_A: FORBIDDEN, CLERK: OK200, LEAD: OK200}
ACTION_RULES: Mapping[str, Mapping[str, Outcome]] = {
    "withdraw": _OWNER,
    "supply-information": _OWNER,
    "start-review": _CLERKS,
    "request-information": _CLERKS,
    "request-payment": _CLERKS,
    "approve": _CLERKS,
    "reject": _CLERKS,
    "reassign": {CIT_A: FORBIDDEN, CLERK: FORBIDDEN, LEAD: OK200},
    "record-payment": {CIT_A: FORBIDDEN, CLERK: FORBIDDEN, LEAD: FORBIDDEN},
    # the case was not decided by a rule: the clerks' answer is the case's 409, everyone else's as for any action
    "reverse-automatic-decision": {CIT_A: FORBIDDEN, CLERK: ok(409, code="transition_not_allowed"),
                                   LEAD: ok(409, code="transition_not_allowed")},
    # an unknown action: a 404 naming the possible ones — but only for those who may see the case
    "fly": dict.fromkeys((CIT_A, CLERK, LEAD), ok(404, code="unknown_action")),
}

MATRIX: tuple[Row, ...] = (
    # -- operations and the public catalog ---------------------------------------------------
    public("GET", "/health/live", "health_live", OK200),
    public("GET", "/health/ready", "health_ready", OK200),
    public("GET", "/api/v1/tenants", "list_tenants", OK200),
    public("GET", "/api/v1/tenants/<ags>", "get_tenant", OK200),
    public("GET", "/api/v1/services", "list_services", OK200),
    public("GET", "/api/v1/services/<service_id>", "get_service", OK200),
    public("GET", "/api/v1/tenants/<ags>/services", "search_services", OK200),
    public("GET", "/api/v1/search", "search_all", OK200),
    public("GET", "/api/v1/tenants/<ags>/offerings/<service_id>", "get_offering", OK200),
    public("GET", "/api/v1/themenfelder", "themenfelder", OK200),
    public("GET", "/api/v1/themenfelder/<themenfeld_id>/lebenslagen", "lebenslagen", OK200),
    public("GET", "/api/v1/lebenslagen/<lebenslage_id>/leistungen", "leistungen", OK200),
    public("GET", "/api/v1/leistungen/<ozg_id>", "leistung", OK200),
    public("GET", "/dev/eid-simulator", "eid_simulator", OK200),
    public("GET", COUNCIL, "council_overview", OK200),
    public("GET", f"{COUNCIL}/meetings", "council_meetings", OK200),
    public("GET", f"{COUNCIL}/meetings/<meeting_id>", "council_meeting", NO_COUNCIL_ITEM),
    public("GET", f"{COUNCIL}/papers/<paper_id>", "council_paper", NO_COUNCIL_ITEM),
    public("GET", f"{COUNCIL}/search", "council_search", OK200),  # IDENTITY_EID_PROVIDER=simulated in tests
    # -- account: public steps (bad one-time tokens are a validation answer) -------------------
    public("POST", "/api/v1/auth/register", "register", OK202),
    public("POST", "/api/v1/auth/verify-email", "verify_email:post", BAD_TOKEN),
    public("POST", "/api/v1/auth/verify-email/resend", "resend_verification", OK202),
    public("POST", "/api/v1/auth/login", "login", OK200),
    public("POST", "/api/v1/auth/refresh", "refresh", OK200),  # the refresh token is the credential
    public("POST", "/api/v1/auth/password-reset", "request_password_reset", OK202),
    public("POST", "/api/v1/auth/password-reset/confirm", "reset_password", BAD_TOKEN),
    public("POST", "/api/v1/auth/change-email/confirm", "confirm_email_change:post", BAD_TOKEN),
    public("GET", "/account/<page>", "account_page", OK200),  # the pages mail links open
    # -- my account (own account only; state-changing rows use a fresh account or session) ----
    logged_in("GET", "/api/v1/me", "me:get", OK200),
    logged_in("GET", "/api/v1/me/export", "export_my_data", OK200),
    logged_in("POST", "/api/v1/me/password", "change_password", ok(400, code="password_rejected")),
    logged_in("POST", "/api/v1/me/email", "change_email", ok(400, code="invalid_input")),
    logged_in("POST", "/api/v1/me/eid/start", "eid_start", OK200),
    logged_in("POST", "/api/v1/me/eid/complete", "eid_complete", BAD_TOKEN),
    logged_in("GET", "/api/v1/me/cases", "my_cases", FORBIDDEN, citizen_a=OK200, citizen_b=OK200),
    logged_in("GET", "/api/v1/me/preferences", "preferences:get", OK200),
    logged_in("PUT", "/api/v1/me/preferences", "preferences:put", OK200),
    logged_in("GET", "/api/v1/me/profile", "my_profile:get", OK200),
    logged_in("PUT", "/api/v1/me/profile", "my_profile:put", OK200),
    # -- drafts and attachments (issue #14): citizen A's draft is hers alone -------------------
    logged_in("POST", DRAFTS, "start_draft", FORBIDDEN, citizen_a=OK201, citizen_b=OK201),
    logged_in("GET", "/api/v1/me/drafts", "my_drafts", FORBIDDEN, citizen_a=OK200, citizen_b=OK200),
    logged_in("GET", DRAFT, "draft:get", DRAFT_HIDDEN, citizen_a=OK200),
    logged_in("PUT", DRAFT, "draft:put", DRAFT_HIDDEN, citizen_a=OK200),
    logged_in("DELETE", DRAFT, "draft:delete", DRAFT_HIDDEN, citizen_a=OK204),
    logged_in("POST", f"{DRAFT}/submit", "submit_draft", DRAFT_HIDDEN, citizen_a=OK201),
    logged_in("POST", "/api/v1/attachments", "upload_attachment", OK201),  # one's own upload
    # citizen A's Gewerbeanmeldung in Vechta (submitted for her by a clerk) refers to her upload
    logged_in("GET", CASE_ATTACHMENT, "case_attachment", HIDDEN, citizen_a=OK200, clerk=OK200, team_lead=OK200,
              clerk_no_key=OK200),
    # -- cases --------------------------------------------------------------------------------
    logged_in("POST", CASES, "submit:self", FORBIDDEN, citizen_a=OK201, citizen_b=OK201),
    logged_in("POST", CASES, "submit:on_behalf_of_citizen_a", FORBIDDEN, clerk=OK201, team_lead=OK201),
    logged_in("GET", CASE, "get_case", HIDDEN, citizen_a=OK200, clerk=OK200, team_lead=OK200),
    logged_in("GET", AUDIT, "case_audit", HIDDEN, tenant_admin=OK200),
    logged_in("GET", MESSAGES, "case_messages", HIDDEN, citizen_a=FORBIDDEN, clerk=OK200, team_lead=OK200),
    logged_in("GET", WORKLIST, "worklist", FORBIDDEN, clerk=OK200, team_lead=OK200, clerk_no_key=OK200),
    *(logged_in("POST", ACTION, f"action:{action}", HIDDEN, **rules) for action, rules in ACTION_RULES.items()),
    # the second fixture case: portal Bakum, responsible Landkreis Vechta
    logged_in("GET", CASE, "get_case:portal_differs", HIDDEN, citizen_a=OK200, clerk_district=OK200),
    logged_in("GET", AUDIT, "case_audit:portal_differs", HIDDEN),
    logged_in("POST", ACTION, "action:start-review:portal_differs", HIDDEN, citizen_a=FORBIDDEN, clerk_district=OK200),
    logged_in("GET", WORKLIST, "worklist:portal", FORBIDDEN, clerk_bakum=OK200),  # 200, but without the case
    logged_in("GET", WORKLIST, "worklist:responsible", FORBIDDEN, clerk_district=OK200),
    # -- payments (the fixture case has no fee: its readers get payment_not_found) -------------
    logged_in("GET", PAYMENT, "get_payment", HIDDEN, citizen_a=NO_PAYMENT, clerk=NO_PAYMENT, team_lead=NO_PAYMENT),
    logged_in("POST", PAYMENT, "start_payment", HIDDEN, citizen_a=NO_PAYMENT),  # only the applicant pays
    logged_in("POST", REFUND, "refund_payment", HIDDEN, citizen_a=FORBIDDEN, clerk=NO_PAYMENT, team_lead=NO_PAYMENT),
    public("POST", "/api/v1/payments/webhooks/psp", "payment_webhook", ok(400, code="webhook_rejected")),  # no signature
    logged_in("GET", PAYMENTS, "list_payments", FORBIDDEN, tenant_admin=OK200),
    logged_in("GET", f"{PAYMENTS}/reconciliation", "payments_reconciliation", FORBIDDEN, tenant_admin=OK200),
    logged_in("GET", f"{PAYMENTS}/export", "payments_export", FORBIDDEN, tenant_admin=OK200),
    # -- usage and acceptance KPIs: the tenant's admins, operators for every tenant ---------------
    logged_in("GET", KPIS, "kpis", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", KPIS, "kpis:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("GET", f"{KPIS}.csv", "kpis_csv", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", "/api/v1/kpis", "kpis_all", FORBIDDEN, operator=OK200),  # all tenants: operators only
    # -- the postbox and a case's documents (citizen A's approved Hundeanmeldung) --------------
    logged_in("GET", POSTBOX, "postbox", FORBIDDEN, citizen_a=OK200, citizen_b=OK200),
    logged_in("GET", f"{POSTBOX}/<item_id>", "postbox_item", HIDDEN_ITEM, citizen_a=OK200),
    logged_in("POST", f"{POSTBOX}/<item_id>/read", "mark_postbox_item", HIDDEN_ITEM, citizen_a=OK200),
    logged_in("GET", f"{POSTBOX}/<item_id>/attachments/<attachment_id>", "postbox_attachment", HIDDEN_ITEM,
              citizen_a=OK200),
    logged_in("GET", DOCUMENTS, "case_documents", HIDDEN, clerk=OK200, team_lead=OK200),
    logged_in("GET", f"{DOCUMENTS}/<document_id>", "case_document", HIDDEN, clerk=OK200, team_lead=OK200),
    # -- administration -----------------------------------------------------------------------
    logged_in("POST", "/api/v1/admin/tenants", "register_tenant", FORBIDDEN, operator=OK201),
    logged_in("PATCH", TENANT_ADMIN, "update_tenant:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("PATCH", TENANT_ADMIN, "update_tenant:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("DELETE", OFFERING_ADMIN, "withdraw_offering:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("DELETE", OFFERING_ADMIN, "withdraw_offering:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("PUT", OFFERING_ADMIN, "put_offering:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("PUT", OFFERING_ADMIN, "put_offering:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("PUT", OFFERING_ADMIN + "/retention", "put_offering_retention:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("PUT", OFFERING_ADMIN + "/retention", "put_offering_retention:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("GET", COUNCIL_SOURCE, "council_source:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", COUNCIL_SOURCE, "council_source:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("PUT", COUNCIL_SOURCE, "put_council_source:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("PUT", COUNCIL_SOURCE, "put_council_source:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("POST", STAFF, "create_staff:own", FORBIDDEN, tenant_admin=OK201, operator=OK201),
    logged_in("POST", STAFF, "create_staff:other_tenant", FORBIDDEN, operator=OK201),
    logged_in("GET", GRANTS, "grants:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", GRANTS, "grants:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("POST", GRANTS, "grant:own", FORBIDDEN, tenant_admin=OK202, operator=OK202),  # a request, no role yet
    logged_in("POST", GRANTS, "grant:other_tenant", FORBIDDEN, operator=OK202),
    logged_in("DELETE", GRANTS, "revoke:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    # four-eyes: approving a request one made oneself is denied to everyone
    logged_in("POST", APPROVE, "approve:own_request", FORBIDDEN, tenant_admin=FOUR_EYES, operator=FOUR_EYES),
    logged_in("POST", APPROVE, "approve:second_person", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("POST", APPROVE, "approve:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("POST", REJECT, "reject:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", HISTORY, "grant_history:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", HISTORY, "grant_history:other_tenant", FORBIDDEN, operator=OK200),
    # -- rules (issue #16): the tenant's admins only, never another tenant's (a fresh rule of Vechta per cell)
    logged_in("GET", RULES, "rules:own", FORBIDDEN, tenant_admin=OK200),
    logged_in("GET", RULES, "rules:other_tenant", FORBIDDEN),
    logged_in("POST", RULES, "define_rule:own", FORBIDDEN, tenant_admin=OK201),
    logged_in("GET", RULE, "rule:get", FORBIDDEN, tenant_admin=OK200),
    logged_in("PUT", RULE, "rule:put", FORBIDDEN, tenant_admin=OK200),
    logged_in("POST", f"{RULE}/activate", "rule:activate", FORBIDDEN,
              tenant_admin=ok(409, code="rule_shadow_run_missing")),  # no shadow run yet
    logged_in("POST", f"{RULE}/deactivate", "rule:deactivate", FORBIDDEN, tenant_admin=OK200),
    logged_in("POST", f"{RULE}/shadow-runs", "rule:shadow_run", FORBIDDEN, tenant_admin=OK201),
    logged_in("GET", f"{RULE}/shadow-runs", "rule:shadow_report", FORBIDDEN,
              tenant_admin=ok(409, code="rule_shadow_run_missing")),
    # -- hand-over to back-office systems: the submission API opens to no account's token; the
    #    clients are issued by a tenant's admins (or operators) and approved by a second person
    public("POST", "/api/v1/handover/fetch", "handover_fetch", NO_CLIENT),
    public("GET", HANDOVER_SUBMISSION, "handover_submission", NO_CLIENT),
    public("GET", f"{HANDOVER_SUBMISSION}/attachments/<attachment_id>", "handover_attachment", NO_CLIENT),
    public("POST", f"{HANDOVER_SUBMISSION}/ack", "handover_ack", NO_CLIENT),
    logged_in("GET", HANDOVER_CLIENTS, "handover_clients:own", FORBIDDEN, tenant_admin=OK200, operator=OK200),
    logged_in("GET", HANDOVER_CLIENTS, "handover_clients:other_tenant", FORBIDDEN, operator=OK200),
    logged_in("POST", HANDOVER_CLIENTS, "issue_handover_client:own", FORBIDDEN, tenant_admin=OK202, operator=OK202),
    logged_in("POST", f"{HANDOVER_CLIENTS}/<client_id>/approve", "approve_handover_client", FORBIDDEN,
              tenant_admin=FOUR_EYES, operator=OK200),  # issued by the tenant admin: only a second person
    logged_in("DELETE", f"{HANDOVER_CLIENTS}/<client_id>", "revoke_handover_client", FORBIDDEN, tenant_admin=OK200,
              operator=OK200),
    # -- last: ending sessions and deleting accounts (fresh session / fresh account per cell) ---
    logged_in("POST", "/api/v1/auth/logout", "logout", OK204),
    logged_in("DELETE", "/api/v1/me", "me:delete", OK204),
)
