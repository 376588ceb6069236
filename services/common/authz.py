"""Who may do what: the principal, its grants, and the authorisation rules as pure
functions over a Principal and case metadata.

Shared on purpose: identity issues principals (as token claims) and the gateway applies
these rules to every request, so both read them from here; the module holds no state
and imports nothing of any service.

Deny by default: every function answers False/None unless a rule grants access, and
malformed input (unknown kind, missing case fields) is a denial, never an exception.

Rules
-----
* Citizens and organisations read and act on their **own** cases only:
  ``case_meta["applicant_ref"]`` must equal the principal's account id (``sub``).
* Staff (kinds clerk, tenant_admin) reach cases through **grants**: tenant (AGS) ×
  role × service keys. The case's ``tenant`` is the *responsible* authority; grants
  match it exactly (a Landkreis grant does not cover its municipalities).
  Roles ``clerk`` and ``team_lead`` give case access; only ``team_lead`` may
  ``reassign``. ``tenant_admin`` manages staff and settings of the tenant but
  gives **no** access to case contents (data minimisation) — give the same account a
  clerk/team_lead grant if it needs both.
* Operators are platform-wide for operations (staff administration) and never read or
  act on case contents, whatever grants they carry.
* Separation of duties (four-eyes): a role granted through the API is first a *request*
  and takes effect only when a second person approves it — a tenant admin of that tenant
  or an operator who neither asked for it nor receives it (:func:`is_second_person`). So no
  admin or operator reaches case contents alone, neither for themselves nor for an alias
  account they create. Every role needs it: the case roles read contents, and
  ``tenant_admin`` approves such requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: Account kinds. Citizens and organisations register themselves (applicants); staff
#: accounts are created by a tenant admin or an operator.
KINDS = ("citizen", "organisation", "clerk", "tenant_admin", "operator")
APPLICANT_KINDS = frozenset({"citizen", "organisation"})
STAFF_KINDS = frozenset({"clerk", "tenant_admin", "operator"})
#: Staff who work inside one tenant, through grants: they reach its cases (by role) and a
#: tenant admin creates them for its own tenant (operators are platform-wide).
TENANT_STAFF_KINDS = frozenset({"clerk", "tenant_admin"})

#: Roles an account may hold *per tenant*, and which account kinds may hold them.
ROLES = ("clerk", "team_lead", "tenant_admin")
ROLES_BY_KIND: Mapping[str, frozenset[str]] = {
    "clerk": frozenset({"clerk", "team_lead"}),
    "tenant_admin": frozenset({"clerk", "team_lead", "tenant_admin"}),
}
CASE_ROLES = frozenset({"clerk", "team_lead"})
ALL_SERVICES = "*"

#: Trust levels, ordered (eIDAS / BundID: niedrig → substanziell → hoch).
TRUST_LEVELS = ("basic", "substantial", "high")

# Names from services.common.cases.ACTIONS. "record-payment" is for the payments service (a system caller, not a person) and is
# granted to no one here.
APPLICANT_ACTIONS = frozenset({"withdraw", "supply-information"})
CLERK_ACTIONS = frozenset({"start-review", "request-information", "request-payment", "approve", "reject",
                           "reverse-automatic-decision"})
TEAM_LEAD_ACTIONS = CLERK_ACTIONS | {"reassign"}
ACTIONS_BY_ROLE: Mapping[str, frozenset[str]] = {"clerk": CLERK_ACTIONS, "team_lead": TEAM_LEAD_ACTIONS}


def trust_rank(level: str | None) -> int:
    """0 for basic … 2 for high; unknown or missing levels rank below basic (-1)."""
    try:
        return TRUST_LEVELS.index(level or "")
    except ValueError:
        return -1


@dataclass(frozen=True)
class Grant:
    tenant: str
    role: str
    service_keys: tuple[str, ...]

    def covers(self, service_id: str) -> bool:
        return ALL_SERVICES in self.service_keys or service_id in self.service_keys

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "role": self.role, "service_keys": list(self.service_keys)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        return cls(str(data["tenant"]), str(data["role"]), tuple(str(k) for k in data["service_keys"]))


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str
    grants: tuple[Grant, ...] = field(default=())
    trust_level: str = "basic"

    @property
    def applicant_ref(self) -> str:
        return self.subject

    def grants_for(self, tenant: str, roles: Iterable[str] = CASE_ROLES) -> tuple[Grant, ...]:
        wanted = frozenset(roles)
        return tuple(g for g in self.grants if g.tenant == tenant and g.role in wanted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "grants": [g.to_dict() for g in self.grants],
            "trust_level": self.trust_level,
        }


ANONYMOUS = Principal(subject="anonymous", kind="anonymous")


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build the Principal from *verified* access-token claims (see tokens.py)."""
    return Principal(
        subject=str(claims["sub"]),
        kind=str(claims["kind"]),
        grants=tuple(Grant.from_dict(g) for g in claims.get("grants", ())),
        trust_level=str(claims.get("trust_level", "basic")),
    )


def _case_fields(case_meta: Mapping[str, Any]) -> tuple[str, str, str] | None:
    try:
        tenant, service_id, applicant = case_meta["tenant"], case_meta["service_id"], case_meta["applicant_ref"]
    except (KeyError, TypeError):
        return None
    if not all(isinstance(v, str) and v for v in (tenant, service_id, applicant)):
        return None
    return tenant, service_id, applicant


def _valid(principal: Principal) -> bool:
    return isinstance(principal, Principal) and principal.kind in KINDS and principal.trust_level in TRUST_LEVELS


def _is_own_case(principal: Principal, applicant: str) -> bool:
    return principal.kind in APPLICANT_KINDS and principal.applicant_ref == applicant


def _staff_roles_for(principal: Principal, tenant: str, service_id: str) -> set[str]:
    if principal.kind not in TENANT_STAFF_KINDS:
        return set()
    return {g.role for g in principal.grants_for(tenant) if g.covers(service_id)}


def can_read_case(principal: Principal, case_meta: Mapping[str, Any]) -> bool:
    fields = _case_fields(case_meta)
    if fields is None or not _valid(principal):
        return False
    tenant, service_id, applicant = fields
    return _is_own_case(principal, applicant) or bool(_staff_roles_for(principal, tenant, service_id))


def can_act_on_case(principal: Principal, case_meta: Mapping[str, Any], action: str) -> bool:
    fields = _case_fields(case_meta)
    if fields is None or not _valid(principal):
        return False
    tenant, service_id, applicant = fields
    if _is_own_case(principal, applicant):
        return action in APPLICANT_ACTIONS
    return any(action in ACTIONS_BY_ROLE[role] for role in _staff_roles_for(principal, tenant, service_id))


def can_see_deliveries(principal: Principal, case_meta: Mapping[str, Any]) -> bool:
    """Whether the case's messages reached the citizen: its clerks and team leads (the
    applicant reads the same in the case's timeline)."""
    fields = _case_fields(case_meta)
    return fields is not None and _valid(principal) and bool(_staff_roles_for(principal, fields[0], fields[1]))


def can_submit_for(principal: Principal, tenant: str, service_id: str) -> bool:
    """Assisted submission: a clerk of the responsible authority, for a covered service."""
    return principal.kind == "clerk" and any(g.covers(service_id) for g in principal.grants_for(tenant))


def can_manage_rules(principal: Principal, tenant: str) -> bool:
    """Define, change, try (shadow run) and switch the tenant's rules: its tenant admins."""
    return _valid(principal) and principal.kind == "tenant_admin" and bool(principal.grants_for(tenant, roles=("tenant_admin",)))


def can_read_audit(principal: Principal, tenant: str) -> bool:
    """The audit trail of a tenant's cases: its tenant admins (who read no contents)."""
    return principal.kind == "tenant_admin" and bool(principal.grants_for(tenant, roles=("tenant_admin",)))


class WorklistScope(NamedTuple):
    """What a worklist query may return: ``WHERE tenant = ANY(tenants) AND
    (service_keys = ('*',) OR service_id = ANY(service_keys))``."""

    tenants: tuple[str, ...]
    service_keys: tuple[str, ...]

    @property
    def all_services(self) -> bool:
        return ALL_SERVICES in self.service_keys


def worklist_filter(principal: Principal, tenant: str) -> WorklistScope | None:
    """The scope of ``tenant``'s worklist for this principal, or None (= deny)."""
    if not _valid(principal) or principal.kind not in TENANT_STAFF_KINDS or not isinstance(tenant, str):
        return None
    grants = principal.grants_for(tenant)
    if not grants:
        return None
    keys: set[str] = set()
    for grant in grants:
        keys.update(grant.service_keys)
    if not keys:
        return None
    return WorklistScope((tenant,), (ALL_SERVICES,) if ALL_SERVICES in keys else tuple(sorted(keys)))


def can_manage_staff(principal: Principal, tenant: str) -> bool:
    """Create staff accounts, grant and revoke roles for ``tenant``."""
    if not _valid(principal):
        return False
    if principal.kind == "operator":
        return True
    return principal.kind == "tenant_admin" and bool(principal.grants_for(tenant, roles=("tenant_admin",)))


def can_read_kpis(principal: Principal, tenant: str) -> bool:
    """Usage and acceptance KPIs (counts and durations, no case contents): the tenant's
    admins, and operators for every tenant."""
    if not _valid(principal):
        return False
    if principal.kind == "operator":
        return True
    return principal.kind == "tenant_admin" and bool(principal.grants_for(tenant, roles=("tenant_admin",)))


def can_read_all_kpis(principal: Principal) -> bool:
    """The KPIs of all tenants together (``GET /api/v1/kpis``): operators only — a tenant
    admin sees one municipality, the platform's operators the whole deployment."""
    return _valid(principal) and principal.kind == "operator"


def is_second_person(approver: str, requested_by: str | None, grantee: str) -> bool:
    """Four-eyes: a role request is approved by someone who neither asked for it nor gets it
    (that the approver manages the tenant's staff is :func:`can_manage_staff`)."""
    return bool(approver) and approver not in (requested_by, grantee)
