"""The gateway against its published contract, contracts/openapi.yaml.

(a) Every ``@http`` route of ``GatewayService`` (except the catch-all) is in the document
    with its method and ``operationId``, and every documented operation is a route; the
    document is valid OpenAPI 3.1 and declares ``security`` on every operation; the
    problem codes and their HTTP statuses agree with ``services/common/problems.py``.
(b) Real requests to the real platform — happy paths and error paths, anonymous and as
    citizens, clerks and admins — get a status that is documented for the operation, a
    documented content type, the required headers, and a body that validates against the
    documented schema. Schemas are applied strictly: an object may not carry a field the
    document does not name (unless it says ``additionalProperties``). Requests that
    succeed must match the documented parameters and request body (the document is not
    stricter than the server); an anonymous success needs ``{}`` in the operation's
    ``security`` and ``401 unauthenticated`` needs its absence. Every documented status
    below 500 must be provoked at least once (or be listed in ``UNPROVOKED`` with why).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest
from jsonschema import FormatChecker
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.common import contracts
from services.common.config import Settings
from services.common.problems import MESSAGES
from services.common.secrets import secret_from
from services.payments.merchants import development_merchant
from services.payments.psp.webhooks import sign
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import LK_VECHTA, LOHNE, VECHTA, client_for, eventually
from tests.examples import form
from tests.support import Platform

with warnings.catch_warnings():  # importing nameko imports eventlet, which warns that it is deprecated
    warnings.simplefilter("ignore")
    from nameko.web.handlers import HttpRequestHandler

    from services.gateway.service import GatewayService

SPEC = contracts.load_openapi()
SPEC_URI = "https://virtuelles-rathaus.de/contracts/openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CATCH_ALL_METHODS = ("delete", "put", "patch", "post", "get")  # what the catch-all route accepts
STATE_CHANGING = ("post", "put", "patch", "delete")

# Documented answers this test cannot provoke on the e2e platform, and why.
UNPROVOKED = {
    ("approve_grant", "409"): "a role request expires after IDENTITY_GRANT_REQUEST_TTL (7 days); "
                              "tests/integration/test_identity_app.py advances the clock for it",
    ("change_password", "429"): "password guessing is provoked in test_authorization (it would slow this run's account down)",
    ("change_email", "429"): "password guessing is provoked in test_authorization (it would slow this run's account down)",
    ("eid_start", "403"): "not_permitted needs a platform without an eID provider (e2e runs the simulator)",
    ("eid_complete", "403"): "not_permitted needs a platform without an eID provider",
    ("eid_simulator", "404"): "only without IDENTITY_EID_PROVIDER=simulated",
    ("me_delete", "202"): "needs the submissions service away: tests/e2e/test_citizen_account.py stops it for that",
    ("case_document", "410"): "needs the applicant's account erased through notifications.erase_postbox "
                              "(tests/integration/test_postbox.py erases and asks for the document)",
    ("start_draft", "410"): "only while the account is being deleted (its tokens are void at once): "
                            "tests/integration/test_drafts.py refuses drafts after erasure",
    ("submit_draft", "410"): "only when the account is deleted while the submission is on the way",
    ("upload_attachment", "410"): "only while the account is being deleted: tests/integration/test_drafts.py",
    ("submit_draft", "409"): "needs a new form version published while the draft is open: tests/integration/test_drafts.py",
    ("handover_attachment", "200"): "the bytes come from submissions.case_attachment, provoked under case_attachment; "
                                    "tests/e2e/test_handover.py fetches a decided case's data",
    ("submit_case", "410"): "only when the account is deleted while its submission is on the way "
                            "(tests/integration/test_submissions_app.py races it on the application)",
}


# -- reading the document ---------------------------------------------------------------------
def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def at(pointer: str) -> Any:
    node: Any = SPEC
    for token in pointer.lstrip("/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def deref(pointer: str) -> tuple[str, Any]:
    """Follow OpenAPI Reference Objects; returns the final pointer and node."""
    node = at(pointer)
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"].removeprefix("#")
        node = at(pointer)
    return pointer, node


def strict(node: Any) -> Any:
    """The document with ``additionalProperties: false`` on every object schema that lists its
    properties and says nothing about others: the server must not send undocumented fields."""
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


REGISTRY = Registry().with_resource(SPEC_URI, Resource(strict(copy.deepcopy(SPEC)), specification=DRAFT202012))


@functools.cache
def validator(pointer: str) -> OAS31Validator:
    return OAS31Validator({"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=REGISTRY, format_checker=FormatChecker())


def errors_of(pointer: str, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"[:300] for e in validator(pointer).iter_errors(instance)]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    regex: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return self.spec["operationId"]

    @property
    def anonymous_allowed(self) -> bool:
        return {} in self.spec.get("security", [{}])


def operations() -> list[Operation]:
    found = []
    for path, item in SPEC["paths"].items():
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        found.extend(Operation(method, path, regex, op) for method, op in item.items() if method in HTTP_METHODS)
    return found


def parameters(path: str, method: str) -> list[tuple[str, dict[str, Any]]]:
    """(pointer, parameter) of an operation, path-level ones included."""
    result = []
    for base in (f"/paths/{escape(path)}", f"/paths/{escape(path)}/{method}"):
        for i, _ in enumerate(at(base).get("parameters", [])):
            result.append(deref(f"{base}/parameters/{i}"))
    return result


OPERATIONS = operations()


# -- (a) routes, security and codes ---------------------------------------------------------------
def code_routes() -> dict[tuple[str, str], str]:
    """(METHOD, OpenAPI path) → handler name, from the nameko entrypoints on the class."""
    routes: dict[tuple[str, str], str] = {}
    for name, member in inspect.getmembers(GatewayService, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if not isinstance(entrypoint, HttpRequestHandler) or "<path:" in entrypoint.url:
                continue  # the catch-all (404/405) is described in info.description
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", entrypoint.url)
            methods = [m.strip().upper() for m in entrypoint.method.split(",")]
            for method in methods:
                # operationIds are unique: a handler serving several methods gets one per method
                routes[(method, path)] = name if len(methods) == 1 else f"{name}_{method.lower()}"
    return routes


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes = code_routes()
    documented = {(op.method.upper(), op.path): op.id for op in OPERATIONS}
    assert len(routes) >= 10, f"introspection found too few routes: {routes}"
    missing = sorted(set(routes) - set(documented))
    extra = sorted(set(documented) - set(routes))
    assert not missing, f"routes of GatewayService missing from contracts/openapi.yaml: {missing}"
    assert not extra, f"documented in contracts/openapi.yaml but not routes of GatewayService: {extra}"
    wrong_ids = {route: (documented[route], name) for route, name in routes.items() if documented[route] != name}
    assert not wrong_ids, f"operationId should be the handler's name (+ _method): {wrong_ids}"


def test_the_document_is_valid_openapi_3_1_and_states_security_everywhere() -> None:
    validate_spec(SPEC)
    assert SPEC["openapi"].startswith("3.1")
    schemes = set(SPEC["components"]["securitySchemes"])
    for op in OPERATIONS:
        assert "security" in op.spec, f"{op.id}: say who may call it (security; [{{}}, …] for anonymous)"
        used = {name for requirement in op.spec["security"] for name in requirement}
        assert used <= schemes, f"{op.id}: unknown security schemes {used - schemes}"
        assert "401" in op.spec["responses"], f"{op.id}: every operation answers 401 to an invalid token"


def test_problem_codes_and_statuses_agree_with_problems_py() -> None:
    documented = set(at("/components/schemas/Problem/properties/code/enum"))
    assert documented == set(MESSAGES), (
        f"Problem.code in contracts/openapi.yaml lacks {sorted(set(MESSAGES) - documented)} "
        f"and has codes problems.py does not know: {sorted(documented - set(MESSAGES))}"
    )
    wrong = []
    for op in OPERATIONS:
        pointer = f"/paths/{escape(op.path)}/{op.method}/responses"
        for status in at(pointer):
            final, response = deref(f"{pointer}/{status}")
            schema = response.get("content", {}).get("application/problem+json", {}).get("schema", {})
            for part in schema.get("allOf", []):
                code = part.get("properties", {}).get("code", {})
                for name in code.get("enum", [code["const"]] if "const" in code else []):
                    if MESSAGES[name][0] != int(status):
                        wrong.append(f"{op.id} {final}: {name} is {MESSAGES[name][0]}, documented under {status}")
    assert not wrong, wrong


# -- (b) checking real responses ---------------------------------------------------------------
def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Contract:
    """Checks responses against the document and remembers what was exercised."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.exercised: set[tuple[str, str]] = set()

    def __call__(self, response: httpx.Response, status: int | None = None, code: str | None = None) -> httpx.Response:
        request = response.request
        where = f"{request.method} {request.url.raw_path.decode()[:120]} → {response.status_code}"
        problems = self.check(response)
        if status is not None and response.status_code != status:
            problems.append(f"expected status {status}: {response.text[:300]}")
        if code is not None and _json(response).get("code") != code:
            problems.append(f"expected code {code}: {response.text[:300]}")
        self.failures.extend(f"{where}: {problem}" for problem in problems)
        return response

    def check(self, response: httpx.Response) -> list[str]:
        request = response.request
        method, path, status = request.method.lower(), request.url.path, str(response.status_code)
        match = next(((op, m) for op in OPERATIONS if op.method == method and (m := op.regex.match(path))), None)
        problems: list[str] = []
        if match is None:
            documented = {op.method.upper() for op in OPERATIONS if op.regex.match(path)}
            allowed = sorted(documented | ({"HEAD"} if "GET" in documented else set()))
            name = "MethodNotAllowed" if documented else "NotFound"
            pointer, spec_response = deref(f"/components/responses/{name}")
            if documented and response.headers.get("Allow") != ", ".join(allowed):
                problems.append(f"Allow should be {allowed}, is {response.headers.get('Allow')!r}")
            if response.status_code != (405 if documented else 404):
                problems.append(f"undocumented route should be {405 if documented else 404}")
        else:
            op, path_match = match
            responses = op.spec["responses"]
            if method in STATE_CHANGING and _json(response).get("code") == "cross_site_request":
                # every state-changing operation's answer to other sites, documented once
                self.exercised.add((op.id, "cross_site_request"))
                pointer, spec_response = deref("/components/responses/CrossSiteRequest")
                return self.check_headers(response, pointer, spec_response) + self.check_body(response, pointer, spec_response)
            if status not in responses:
                return [f"status {status} is not documented for {op.id} (documented: {sorted(responses)})"]
            self.exercised.add((op.id, status))
            pointer, spec_response = deref(f"/paths/{escape(op.path)}/{method}/responses/{status}")
            anonymous = "authorization" not in request.headers and "cookie" not in request.headers
            if response.is_success:
                problems += self.check_request(request, op, path_match)
                if anonymous and not op.anonymous_allowed:
                    problems.append(f"{op.id} answered an anonymous caller, but its security has no {{}}")
            if _json(response).get("code") == "unauthenticated" and op.anonymous_allowed:
                problems.append(f"{op.id} demands a login, but its security lists {{}}")
        problems += self.check_headers(response, pointer, spec_response)
        return problems + self.check_body(response, pointer, spec_response)

    @staticmethod
    def check_body(response: httpx.Response, pointer: str, spec_response: dict[str, Any]) -> list[str]:
        content = spec_response.get("content")
        if not content:
            return [] if not response.content else [f"no body documented, got {response.text[:100]!r}"]
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media not in content:
            return [f"content type {media!r} is not documented (documented: {sorted(content)})"]
        schema_pointer = f"{pointer}/content/{escape(media)}/schema"
        if not (media == "application/json" or media.endswith("+json")):
            return errors_of(schema_pointer, response.text)
        try:
            body = response.json()
        except ValueError:
            return [f"body is not JSON: {response.text[:200]!r}"]
        problems = errors_of(schema_pointer, body)
        if media == "application/problem+json" and isinstance(body, dict) and body.get("status") != response.status_code:
            problems.append(f"problem status {body.get('status')} differs from the HTTP status")
        return problems

    @staticmethod
    def check_headers(response: httpx.Response, pointer: str, spec_response: dict[str, Any]) -> list[str]:
        problems = []
        for name in spec_response.get("headers", {}):
            header_pointer, header = deref(f"{pointer}/headers/{escape(name)}")
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    problems.append(f"required header {name} is missing")
                continue
            problems += [f"header {name}: {e}" for e in errors_of(f"{header_pointer}/schema", value)]
        return problems

    @staticmethod
    def check_request(request: httpx.Request, op: Operation, path_match: re.Match[str]) -> list[str]:
        """A request the server accepted must match the documented parameters and body."""
        problems = []
        params = {(p["in"], p["name"].lower()): (pointer, p) for pointer, p in parameters(op.path, op.method)}
        values = [("path", name, value) for name, value in path_match.groupdict().items()]
        values += [("query", name, value) for name, value in request.url.params.multi_items()]
        for where, name, value in values:
            if (where, name.lower()) not in params:
                problems.append(f"{where} parameter {name} is not documented")
                continue
            pointer, parameter = params[(where, name.lower())]
            if parameter.get("schema", {}).get("type") == "integer" and re.fullmatch(r"-?\d+", value):
                value = int(value)  # query strings are text; the schema describes the value
            problems += [f"{where} parameter {name}: {e}" for e in errors_of(f"{pointer}/schema", value)]
        if request.content and "requestBody" in op.spec:
            media = request.headers.get("Content-Type", "").split(";")[0].strip()
            body_pointer, body = deref(f"/paths/{escape(op.path)}/{op.method}/requestBody")
            if media not in body.get("content", {}):
                problems.append(f"request content type {media!r} is not documented")
            else:
                schema = f"{body_pointer}/content/{escape(media)}/schema"
                instance = json.loads(request.content) if media == "application/json" or media.endswith("+json") else request.content.decode("latin-1")
                problems += [f"request body: {e}" for e in errors_of(schema, instance)]
        return problems


# -- (b) the people and the requests --------------------------------------------------------------
@dataclass
class People:
    """Logged-in clients for every role the contract run needs (closed by ``stack``)."""

    running: Platform
    accounts: Accounts
    stack: ExitStack
    anonymous: httpx.Client
    citizen: httpx.Client
    citizen_account: Account
    vechta_lead: httpx.Client
    vechta_lead_account: Account
    lohne_lead: httpx.Client
    vechta_admin: httpx.Client
    operator: httpx.Client

    def fresh(self, account: Account | None = None) -> httpx.Client:
        """A client of its own (cookies set by login or refresh stay in it)."""
        client = client_for(self.running, account) if account else httpx.Client(base_url=self.running.base_url, timeout=30)
        return self.stack.enter_context(client)


@pytest.fixture(scope="module")
def people(running: Platform, accounts: Accounts) -> Iterator[People]:
    with ExitStack() as stack:
        citizen = accounts.citizen()
        lead = accounts.staff([(VECHTA, "team_lead", ["*"])])

        def client(account: Account) -> httpx.Client:
            return stack.enter_context(client_for(running, account))

        yield People(
            running=running,
            accounts=accounts,
            stack=stack,
            anonymous=stack.enter_context(httpx.Client(base_url=running.base_url, timeout=30)),
            citizen=client(citizen),
            citizen_account=citizen,
            vechta_lead=client(lead),
            vechta_lead_account=lead,
            lohne_lead=client(accounts.staff([(LOHNE, "team_lead", ["*"])])),
            vechta_admin=client(accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")),
            operator=client(accounts.staff([], kind="operator")),
        )


def test_real_responses_match_the_documented_schemas(people: People) -> None:
    check = Contract()
    high_citizen = run_account_requests(people, check)
    run_citizen_requests(people, check)
    run_clerk_requests(people, check, high_citizen)
    run_catalog_requests(people, check)
    run_admin_requests(people, check)
    run_rule_requests(people, check)
    run_payment_requests(people, check, high_citizen)
    run_postbox_requests(people, check, high_citizen)
    run_web_requests(people, check, high_citizen)
    run_council_requests(people, check)
    run_generic_requests(people, check)
    run_handover_requests(people, check)
    assert not check.failures, "responses that do not match contracts/openapi.yaml:\n" + "\n".join(check.failures)

    # every documented client error was provoked (or is listed in UNPROVOKED with why)
    documented = {(op.id, status) for op in OPERATIONS for status in op.spec["responses"]}
    assert set(UNPROVOKED) <= documented, f"UNPROVOKED names answers that are not documented: {set(UNPROVOKED) - documented}"
    not_seen = sorted(pair for pair in documented - check.exercised - set(UNPROVOKED) if int(pair[1]) < 500)
    assert not not_seen, f"documented answers this test never provoked (add a request): {not_seen}"


def submit(client: httpx.Client, ags: str = VECHTA, key: str | None = None, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"service_id": "hundeanmeldung", "form_data": form(), **body}
    return client.post(
        f"/api/v1/tenants/{ags}/cases", json=payload, headers={"Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})}
    )


def new_email(kind: str = "contract") -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}@example.org"


def mail_token(outcome: Any, template: str) -> str:
    return next(m.params["token"] for m in outcome.mails if m.template == template)


AS_JSON = {"Content-Type": "application/json"}
TOO_LARGE = b"x" * 1_000_001
PASSWORD = "Kontraktprobe-2026!"


def body_limits(check: Contract, client: httpx.Client, method: str, url: str) -> None:
    """413 and 415 for an operation that reads a JSON body."""
    check(client.request(method, url, content=TOO_LARGE, headers=AS_JSON), 413, "payload_too_large")
    check(client.request(method, url, content=b"a=b", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")


def run_account_requests(people: People, check: Contract) -> httpx.Client:
    """The citizen account from registration to deletion; returns a citizen proven by eID (high)."""
    app, anonymous = people.accounts.app, people.anonymous
    # register and verify
    check(anonymous.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD, "display_name": "Erika"}), 202)
    check(anonymous.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD, "kind": "organisation",
                                                        "organisation_name": "Muster GmbH"}), 202)
    check(anonymous.post("/api/v1/auth/register", json={"email": "keine-adresse", "password": PASSWORD}), 400, "invalid_email")
    check(anonymous.post("/api/v1/auth/register", json={"email": new_email(), "password": "kurz"}), 400, "password_rejected")
    check(anonymous.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD, "kind": "clerk"}), 400, "invalid_parameter")
    check(anonymous.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD, "kind": "organisation"}), 400, "invalid_input")
    body_limits(check, anonymous, "POST", "/api/v1/auth/register")
    for page in ("verify-email", "confirm-email-change", "set-password"):  # what mail links open
        check(anonymous.get(f"/account/{page}"), 200)
    check(anonymous.get("/account/irgendwas"), 404, "not_found")
    token = mail_token(app.register(new_email(), PASSWORD, kind="citizen"), "verify_email")
    check(anonymous.post("/api/v1/auth/verify-email", json={"token": token}), 200)
    check(anonymous.post("/api/v1/auth/verify-email", json={"token": token}), 400, "token_invalid")  # single use
    check(anonymous.post("/api/v1/auth/verify-email", json={"token": "erfunden"}), 400, "token_invalid")
    check(anonymous.post("/api/v1/auth/verify-email", json=[]), 400, "invalid_request")
    body_limits(check, anonymous, "POST", "/api/v1/auth/verify-email")
    check(anonymous.post("/api/v1/auth/verify-email/resend", json={"email": new_email()}), 202)
    check(anonymous.post("/api/v1/auth/verify-email/resend", json={"email": "nix"}), 202)  # no enumeration, no hint
    check(anonymous.post("/api/v1/auth/verify-email/resend", json={}), 400, "invalid_parameter")
    limited = new_email("viel")  # the address's budget of mails, the same whether it has an account or not
    for _ in range(3):
        check(anonymous.post("/api/v1/auth/register", json={"email": limited, "password": PASSWORD}), 202)
    check(anonymous.post("/api/v1/auth/register", json={"email": limited, "password": PASSWORD}), 429, "rate_limited")
    check(anonymous.post("/api/v1/auth/verify-email/resend", json={"email": limited}), 429, "rate_limited")
    body_limits(check, anonymous, "POST", "/api/v1/auth/verify-email/resend")

    # log in: every way it can fail, then for real (cookies go to a client of their own)
    d = people.accounts.citizen()
    browser = people.fresh()
    unverified = new_email()
    app.register(unverified, PASSWORD, kind="citizen")
    check(anonymous.post("/api/v1/auth/login", json={"email": unverified, "password": PASSWORD}), 403, "email_not_verified")
    locked = people.accounts.citizen()
    app.lock_account(locked.account_id, by="contract-test")
    check(anonymous.post("/api/v1/auth/login", json={"email": locked.email, "password": locked.password}), 403, "account_locked")
    check(anonymous.post("/api/v1/auth/login", json={"email": d.email}), 400, "invalid_parameter")
    body_limits(check, anonymous, "POST", "/api/v1/auth/login")
    stranger = new_email("niemand")
    for _ in range(3):  # the per-address budget; the fourth attempt is throttled
        check(anonymous.post("/api/v1/auth/login", json={"email": stranger, "password": "falsch-falsch"}), 401, "invalid_credentials")
    check(anonymous.post("/api/v1/auth/login", json={"email": stranger, "password": "falsch-falsch"}), 429, "rate_limited")
    tokens = check(browser.post("/api/v1/auth/login", json={"email": d.email, "password": d.password}), 200).json()
    assert browser.cookies.get("vr_access") == tokens["access_token"]
    me = people.fresh()
    me.headers["Authorization"] = f"Bearer {tokens['access_token']}"

    # my account
    assert check(me.get("/api/v1/me"), 200).json()["account_id"] == d.account_id
    check(browser.get("/api/v1/me"), 200)  # the cookie works as well
    check(me.get("/api/v1/me/export"), 200)
    check(me.post("/api/v1/me/email", json={"new_email": new_email(), "password": d.password}), 202)
    check(me.post("/api/v1/me/email", json={"new_email": new_email(), "password": "nicht-meins-123"}), 403, "wrong_password")
    check(me.post("/api/v1/me/email", json={"new_email": d.email, "password": d.password}), 400, "invalid_input")
    check(me.post("/api/v1/me/email", json={"new_email": "kaputt", "password": d.password}), 400, "invalid_email")
    body_limits(check, me, "POST", "/api/v1/me/email")

    # identity proof with the (simulated) online ID, then fresh tokens carrying the level
    started = check(me.post("/api/v1/me/eid/start"), 200).json()
    check(people.anonymous.get(started["redirect_url"]), 200)
    state = parse_qs(urlparse(started["redirect_url"]).query)["state"][0]
    proof = {"state": state, "given_name": "Erika", "family_name": "Muster", "birth_date": "1980-04-12", "level": "high"}
    assert check(me.post("/api/v1/me/eid/complete", json=proof), 200).json()["trust_level"] == "high"
    check(me.post("/api/v1/me/eid/complete", json=proof), 400, "token_invalid")  # the state is single use
    check(me.post("/api/v1/me/eid/complete", json=[]), 400, "invalid_request")
    body_limits(check, me, "POST", "/api/v1/me/eid/complete")
    refreshed = check(people.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 200).json()
    people.anonymous.cookies.clear()
    check(people.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401, "session_invalid")
    check(browser.post("/api/v1/auth/refresh", json=[]), 400, "invalid_request")
    body_limits(check, browser, "POST", "/api/v1/auth/refresh")
    high = people.fresh()  # the replay ended the session, its new access token too: log in again
    high.headers["Authorization"] = f"Bearer {refreshed['access_token']}"
    eventually(lambda: high.get("/api/v1/me").status_code == 401)
    again = check(people.fresh().post("/api/v1/auth/login", json={"email": d.email, "password": d.password}), 200)
    high.headers["Authorization"] = f"Bearer {again.json()['access_token']}"

    # e-mail change confirmed, and lost to someone faster (409)
    def confirm(token: str) -> httpx.Response:
        return anonymous.post("/api/v1/auth/change-email/confirm", json={"token": token})

    e = people.accounts.citizen()
    target = new_email("neu")
    token = mail_token(app.request_email_change(e.account_id, target, e.password), "confirm_email_change")
    assert check(confirm(token), 200).json()["email"] == target
    check(confirm("erfunden"), 400, "token_invalid")
    taken = new_email("vergeben")
    token = mail_token(app.request_email_change(e.account_id, taken, e.password), "confirm_email_change")
    app.register(taken, PASSWORD, kind="citizen")  # someone else claims the address first
    check(confirm(token), 409, "email_in_use")
    check(anonymous.post("/api/v1/auth/change-email/confirm", json=[]), 400, "invalid_request")
    body_limits(check, anonymous, "POST", "/api/v1/auth/change-email/confirm")

    # password reset
    r = people.accounts.citizen()
    token = mail_token(app.request_password_reset(r.email), "password_reset")
    check(anonymous.post("/api/v1/auth/password-reset", json={"email": new_email()}), 202)
    check(anonymous.post("/api/v1/auth/password-reset", json={"email": "nix"}), 202)
    check(anonymous.post("/api/v1/auth/password-reset", json={"email": 42}), 400, "invalid_parameter")
    body_limits(check, anonymous, "POST", "/api/v1/auth/password-reset")
    check(anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "kurz"}), 400, "password_rejected")
    check(anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD + "x"}), 200)
    check(anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD + "y"}), 400, "token_invalid")
    body_limits(check, anonymous, "POST", "/api/v1/auth/password-reset/confirm")

    # change the password (every older token is void), log out, delete the account
    p = people.accounts.citizen()
    mine = people.fresh(p)
    check(mine.post("/api/v1/me/password", json={"current_password": "falsch-123456", "new_password": PASSWORD}), 403, "wrong_password")
    check(mine.post("/api/v1/me/password", json={"current_password": p.password, "new_password": "kurz"}), 400, "password_rejected")
    body_limits(check, mine, "POST", "/api/v1/me/password")
    # Revocation compares whole seconds (iat < int(time of change)): a token issued in the same
    # second as the change survives it. Wait a second so that the old token is really old.
    time.sleep(1.1)
    check(mine.post("/api/v1/me/password", json={"current_password": p.password, "new_password": PASSWORD}), 200)
    eventually(lambda: mine.get("/api/v1/me").status_code == 401)
    check(mine.get("/api/v1/me"), 401, "invalid_token")
    session = people.fresh()
    again = check(session.post("/api/v1/auth/login", json={"email": p.email, "password": PASSWORD}), 200).json()
    check(session.post("/api/v1/auth/logout", json=[]), 400, "invalid_request")
    body_limits(check, session, "POST", "/api/v1/auth/logout")
    bearer = people.fresh()  # no cookies: the refresh token must come in the body
    bearer.headers["Authorization"] = f"Bearer {again['access_token']}"
    check(bearer.post("/api/v1/auth/logout", json={}), 400, "refresh_token_required")
    guessed = again["refresh_token"].split(".")[0] + ".geraten"  # the session id is no secret
    check(bearer.post("/api/v1/auth/logout", json={"refresh_token": guessed}), 401, "session_invalid")
    check(session.post("/api/v1/auth/logout", json={"refresh_token": again["refresh_token"]}), 204)
    session = people.fresh()
    check(session.post("/api/v1/auth/login", json={"email": p.email, "password": PASSWORD}), 200)
    check(session.delete("/api/v1/me"), 415, "unsupported_media_type")  # the password is required
    check(session.request("DELETE", "/api/v1/me", content=b"", headers=AS_JSON), 400, "malformed_json")
    check(session.request("DELETE", "/api/v1/me", json=[]), 400, "invalid_request")
    check(session.request("DELETE", "/api/v1/me", json={}), 400, "invalid_parameter")
    body_limits(check, session, "DELETE", "/api/v1/me")
    check(session.request("DELETE", "/api/v1/me", json={"password": "falsch-123456"}), 403, "wrong_password")
    check(session.request("DELETE", "/api/v1/me", json={"password": PASSWORD}), 204)
    guessed = people.fresh(people.accounts.citizen())  # deletion is throttled like a login
    for _ in range(3):
        check(guessed.request("DELETE", "/api/v1/me", json={"password": "falsch-123456"}), 403, "wrong_password")
    check(guessed.request("DELETE", "/api/v1/me", json={"password": "falsch-123456"}), 429, "rate_limited")
    check(people.anonymous.post("/api/v1/auth/login", json={"email": p.email, "password": PASSWORD}), 401, "invalid_credentials")
    return high


def run_citizen_requests(people: People, check: Contract) -> None:
    citizen, url = people.citizen, f"/api/v1/tenants/{VECHTA}/cases"
    key = uuid.uuid4().hex
    english = {"Accept-Language": "en-GB,en;q=0.9", "X-Correlation-ID": "contract-test"}
    applicant = {"name": "Erika Mustermann", "email": "erika@example.org"}
    created = check(submit(citizen, key=key, form_version=1, applicant=applicant, headers=english), 201)
    assert created.headers["Content-Language"] == "en" and created.headers["X-Correlation-ID"] == "contract-test"
    replay = check(submit(citizen, key=key, form_version=1, applicant=applicant), 201)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    check(submit(citizen, key=key, form_data=form(dog_name="Hasso")), 422, "idempotency_key_reused")
    check(submit(citizen, form_data=form(chip_number="12"), headers=english), 422, "form_invalid")
    check(citizen.post(url, content=b"{not json", headers=AS_JSON), 400, "malformed_json")
    check(citizen.post(url, content=b"", headers=AS_JSON), 400, "malformed_json")
    check(citizen.post(url, content=b"[]", headers=AS_JSON), 400, "invalid_request")
    check(citizen.post(url, json={"service_id": "hundeanmeldung", "form_data": {}}, headers={"Idempotency-Key": "a b"}), 400, "invalid_idempotency_key")
    body_limits(check, citizen, "POST", url)
    check(submit(citizen, ags="99999999"), 404, "unknown_tenant")
    check(submit(citizen, ags="vechta"), 404, "unknown_tenant")
    check(submit(citizen, service_id="drachenanmeldung"), 404, "unknown_service")
    check(submit(citizen, form_version=99), 409, "unknown_form_version")
    check(submit(citizen, ags=LOHNE, service_id="meldebescheinigung", form_data=form("meldebescheinigung")), 403, "trust_level_insufficient")
    check(submit(people.vechta_lead), 403, "forbidden")  # staff apply only on a citizen's behalf
    check(submit(people.anonymous), 401, "unauthenticated")

    case_id = created.json()["case_id"]
    check(citizen.get(f"/api/v1/cases/{case_id}"), 200)
    check(citizen.get("/api/v1/cases/not-a-uuid"), 404, "case_not_found")
    check(citizen.get(f"/api/v1/cases/{uuid.uuid4()}", headers=english), 404, "case_not_found")
    check(people.lohne_lead.get(f"/api/v1/cases/{case_id}"), 404, "case_not_found")  # not theirs: as if it did not exist
    check(eventually(lambda: (r := citizen.get("/api/v1/me/cases")).json()["items"] and r), 200)
    check(people.vechta_lead.get("/api/v1/me/cases"), 403, "forbidden")

    # notification preferences (own account only)
    prefs = "/api/v1/me/preferences"
    assert check(citizen.get(prefs), 200).json()["email"]["case_submitted"] is True
    assert check(citizen.put(prefs, json={"language": "de", "email": {"case_reassigned": True}}), 200).json()["language"] == "de"
    check(citizen.put(prefs, json={"language": "fr"}), 400, "invalid_request")
    check(citizen.put(prefs, json={"email": {"drachenpost": False}}), 400, "invalid_parameter")
    check(citizen.put(prefs, content=b"{kaputt", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, citizen, "PUT", prefs)


def run_clerk_requests(people: People, check: Contract, high_citizen: httpx.Client) -> None:
    citizen, lead = people.citizen, people.vechta_lead

    def act(who: httpx.Client, case_id: str, action: str, payload: Any = None, **kwargs: Any) -> httpx.Response:
        url = f"/api/v1/cases/{case_id}/actions/{action}"
        return who.post(url, json=payload, **kwargs) if payload is not None else who.post(url, **kwargs)

    # a case through review, a question, a reassignment and approval
    case = check(submit(citizen), 201).json()["case_id"]
    due = (date.today() + timedelta(days=30)).isoformat()
    steps: list[tuple[httpx.Client, str, Any, int, str | None]] = [
        (citizen, "approve", {}, 403, "forbidden"),
        (lead, "start-review", {"clerk": "Frau Meyer"}, 200, None),
        (lead, "request-information", {"question": "Bitte Impfpass nachreichen.", "due_date": due}, 200, None),
        (citizen, "supply-information", {"answer": "Impfpass ist hochgeladen."}, 200, None),
        (lead, "reassign", {"clerk": "Herr Schulz"}, 200, None),
        (lead, "approve", None, 200, None),  # no body at all
        (lead, "approve", {}, 409, "transition_not_allowed"),
        (people.anonymous, "approve", {}, 401, "unauthenticated"),
    ]
    for who, action, payload, status, code in steps:
        check(act(who, case, action, payload), status, code)
    final = eventually(lambda: (r := citizen.get(f"/api/v1/cases/{case}")).json().get("status") == "approved" and r)
    check(final, 200)
    assert [step["step"] for step in final.json()["timeline"] if step["step"] != "message"] == [
        "submitted", "review_started", "information_requested", "information_supplied", "reassigned", "approved",
    ]
    # its messages: each delivery state for its clerks; the applicant reads them in the timeline
    messages = f"/api/v1/cases/{case}/messages"
    check(eventually(lambda: (r := lead.get(messages)).json()["items"] and r), 200)
    check(citizen.get(messages), 403, "forbidden")
    check(people.lohne_lead.get(messages), 404, "case_not_found")
    check(people.vechta_admin.get(f"/api/v1/cases/{case}/audit"), 200)
    check(citizen.get(f"/api/v1/cases/{case}/audit"), 404, "case_not_found")
    check(people.anonymous.get(f"/api/v1/cases/{case}/audit"), 401, "unauthenticated")

    refused = check(submit(citizen), 201).json()["case_id"]
    check(act(lead, refused, "request-payment", {}), 409, "no_fee_due")
    check(act(lead, refused, "start-review", headers=AS_JSON, content=b""), 200)
    check(act(lead, refused, "reject", {"reason": " "}), 400, "invalid_parameter")
    check(act(lead, refused, "reject", {"reason": "Der Hund ist bereits angemeldet."}), 200)
    withdrawn = check(submit(citizen), 201).json()["case_id"]
    check(act(citizen, withdrawn, "withdraw", {"reason": "Umzug"}), 200)
    check(act(lead, withdrawn, "fly", {}), 404, "unknown_action")
    check(act(lead, str(uuid.uuid4()), "approve", {}), 404, "case_not_found")
    check(act(lead, withdrawn, "withdraw", [], headers={"Accept-Language": "en"}), 400, "invalid_request")
    check(act(lead, withdrawn, "withdraw", content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, lead, "POST", f"/api/v1/cases/{withdrawn}/actions/withdraw")

    # a fee: the eID-proven citizen applies for a certificate in Lohne
    paid = check(submit(high_citizen, ags=LOHNE, service_id="meldebescheinigung", form_data=form("meldebescheinigung")), 201).json()
    assert paid["fee_cents"] > 0 and paid["status"] == "payment_pending"  # the fee is requested with the submission
    check(act(people.lohne_lead, paid["case_id"], "request-payment", {}), 409, "transition_not_allowed")
    check(act(people.lohne_lead, paid["case_id"], "record-payment", {"payment_ref": "KASSE-1"}), 403, "forbidden")

    # at the counter: a clerk submits on a citizen's behalf
    assisted = check(submit(lead, on_behalf_of=people.citizen_account.account_id), 201).json()["case_id"]
    eventually(lambda: assisted in {c["case_id"] for c in citizen.get("/api/v1/me/cases").json()["items"]})  # a projection
    check(submit(lead, on_behalf_of=people.vechta_lead_account.account_id), 400, "invalid_parameter")
    check(submit(lead, on_behalf_of=str(uuid.uuid4())), 404, "account_not_found")

    # the worklist: filters, sorting, keyset pages, bad parameters, who may see it
    worklist = f"/api/v1/tenants/{VECHTA}/worklist"
    check(eventually(lambda: (r := lead.get(worklist, params={"state": "all", "limit": 500})).json()["items"] and r), 200)
    check(lead.get(worklist), 200)
    check(lead.get(worklist, params={"state": "closed", "status": "approved", "service_id": "hundeanmeldung",
                                     "assignee": "Herr Schulz", "sort": "due_date", "order": "desc", "limit": 1}), 200)
    check(lead.get(worklist, params={"assignee": "none", "state": "open"}), 200)
    first = eventually(lambda: (r := lead.get(worklist, params={"state": "all", "sort": "reference", "limit": 1})).json()["next_cursor"] and r)
    check(first, 200)
    cursor = first.json()["next_cursor"]
    check(lead.get(worklist, params={"state": "all", "sort": "reference", "limit": 1, "cursor": cursor}), 200)
    check(lead.get(worklist, params={"state": "all", "sort": "due_date", "cursor": cursor}), 400, "invalid_cursor")
    check(lead.get(worklist, params={"cursor": "garbage"}), 400, "invalid_cursor")
    for bad in ({"limit": "0"}, {"limit": "501"}, {"limit": "viele"}, {"sort": "name"}, {"order": "up"}, {"state": "x"}, {"status": "done"}):
        check(lead.get(worklist, params=bad), 400, "invalid_parameter")
    check(lead.get("/api/v1/tenants/99999999/worklist"), 404, "unknown_tenant")
    check(people.lohne_lead.get(worklist), 403, "forbidden")
    check(citizen.get(worklist), 403, "forbidden")
    check(people.anonymous.get(worklist), 401, "unauthenticated")


def run_postbox_requests(people: People, check: Contract, other_citizen: httpx.Client) -> None:
    """A Hundeanmeldung in Vechta approved: its messages in the citizen's postbox, the
    decision letter as attachment and as the case's document, and who may not see them."""
    citizen, lead, anonymous = people.citizen, people.vechta_lead, people.anonymous
    case = check(submit(citizen), 201).json()["case_id"]
    check(lead.post(f"/api/v1/cases/{case}/actions/start-review", json={"clerk": "Frau Meyer"}), 200)
    check(lead.post(f"/api/v1/cases/{case}/actions/approve", json={"decision": "Die Marke wird zugesandt."}), 200)

    def decided() -> httpx.Response | None:
        response = citizen.get("/api/v1/me/postbox")
        return response if any(i["case_id"] == case and i["attachments"] for i in response.json()["items"]) else None

    listing = check(eventually(decided, timeout=60), 200).json()["items"]
    item = next(i for i in listing if i["case_id"] == case and i["attachments"])
    attachment, mine = item["attachments"][0], f"/api/v1/me/postbox/{item['item_id']}"
    check(people.vechta_lead.get("/api/v1/me/postbox"), 403, "forbidden")
    check(anonymous.get("/api/v1/me/postbox"), 401, "unauthenticated")
    check(citizen.get(mine), 200)
    check(other_citizen.get(mine), 404, "postbox_item_not_found")
    check(citizen.get(f"/api/v1/me/postbox/{uuid.uuid4()}"), 404, "postbox_item_not_found")
    check(anonymous.get(mine), 401, "unauthenticated")
    check(citizen.post(f"{mine}/read", json={"read": True}), 200)
    check(citizen.post(f"{mine}/read", json={"read": "ja"}), 400, "invalid_parameter")
    check(citizen.post(f"{mine}/read", json=[]), 400, "invalid_request")
    check(citizen.post(f"{mine}/read", content=b"{x", headers=AS_JSON), 400, "malformed_json")
    check(other_citizen.post(f"{mine}/read", json={"read": False}), 404, "postbox_item_not_found")
    check(anonymous.post(f"{mine}/read", json={"read": False}), 401, "unauthenticated")
    body_limits(check, citizen, "POST", f"{mine}/read")
    pdf = check(citizen.get(f"{mine}/attachments/{attachment['attachment_id']}"), 200)
    assert pdf.content.startswith(b"%PDF-") and pdf.headers["ETag"] == f'"{attachment["sha256"]}"'
    check(other_citizen.get(f"{mine}/attachments/{attachment['attachment_id']}"), 404, "postbox_item_not_found")
    check(citizen.get(f"{mine}/attachments/{uuid.uuid4()}"), 404, "document_not_found")
    check(anonymous.get(f"{mine}/attachments/{attachment['attachment_id']}"), 401, "unauthenticated")

    documents = f"/api/v1/cases/{case}/documents"
    [document] = check(lead.get(documents), 200).json()["items"]
    assert document["sha256"] == attachment["sha256"]
    check(citizen.get(documents), 404, "case_not_found")  # the applicant has it in the postbox
    check(people.lohne_lead.get(documents), 404, "case_not_found")
    check(anonymous.get(documents), 401, "unauthenticated")
    check(lead.get(f"{documents}/{document['document_id']}"), 200)
    check(lead.get(f"{documents}/{uuid.uuid4()}"), 404, "document_not_found")
    check(people.lohne_lead.get(f"{documents}/{document['document_id']}"), 404, "case_not_found")
    check(anonymous.get(f"{documents}/{document['document_id']}"), 401, "unauthenticated")


def run_payment_requests(people: People, check: Contract, high_citizen: httpx.Client) -> None:
    """A Meldebescheinigung in Lohne paid on the PSP simulator's page, refunded by the team
    lead; a withdrawn one that can no longer be paid; the webhook; a tenant's payments."""
    def submitted() -> str:
        body = {"service_id": "meldebescheinigung", "form_data": form("meldebescheinigung")}
        response = high_citizen.post(f"/api/v1/tenants/{LOHNE}/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        return check(response, 201).json()["case_id"]

    def payment(case_id: str, status: int) -> httpx.Response:  # the receivable comes over the saga
        return eventually(lambda: (r := high_citizen.post(f"/api/v1/cases/{case_id}/payment", json={})).status_code == status and r, 30)

    nobody = str(uuid.uuid4())
    paid = submitted()
    pay_url = check(payment(paid, 200), 200).json()["payment"]["pay_url"]
    assert httpx.post(pay_url, data={"method": "card", "outcome": "success"}, timeout=10).status_code in (200, 303)
    assert check(high_citizen.get(f"/api/v1/cases/{paid}/payment", params={"returned": "1"}), 200).json()["status"] == "PAYED"
    check(high_citizen.post(f"/api/v1/cases/{paid}/payment", json={}, headers={"Origin": "https://boese.example"}), 403, "cross_site_request")
    check(high_citizen.post(f"/api/v1/cases/{nobody}/payment", json={}), 404, "case_not_found")
    back = {"return_url": "https://boese.example/zurueck"}
    check(high_citizen.post(f"/api/v1/cases/{paid}/payment", json=back), 422, "return_url_not_allowed")
    check(high_citizen.post(f"/api/v1/cases/{paid}/payment", content=b"{", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, high_citizen, "POST", f"/api/v1/cases/{paid}/payment")
    check(high_citizen.get(f"/api/v1/cases/{nobody}/payment"), 404, "case_not_found")
    refund = f"/api/v1/cases/{paid}/payment/refund"
    check(people.lohne_lead.post(refund, json={"reason": " "}), 400, "invalid_parameter")
    check(high_citizen.post(refund, json={"reason": "zurück"}), 403, "forbidden")
    check(people.lohne_lead.post(f"/api/v1/cases/{nobody}/payment/refund", json={"reason": "x"}), 404, "case_not_found")
    check(people.lohne_lead.post(refund, json={"reason": "Doppelt beantragt"}), 200)
    withdrawn = submitted()
    check(payment(withdrawn, 200), 200)
    check(high_citizen.post(f"/api/v1/cases/{withdrawn}/actions/withdraw", json={}), 200)
    check(payment(withdrawn, 409), 409, "payment_closed")
    check(people.lohne_lead.post(f"/api/v1/cases/{withdrawn}/payment/refund", json={"reason": "x"}), 409, "refund_not_possible")

    webhook = "/api/v1/payments/webhooks/psp"
    merchant = development_merchant(LOHNE, secret_from(Settings.from_env(people.running.env)))
    event = {"id": f"evt_{uuid.uuid4().hex}", "type": "payment.succeeded", "created": "2026-01-05T10:00:00+00:00",
             "merchant_id": merchant.merchant_id, "data": {"payment": {"id": "pay_none", "status": "succeeded", "amount": 700}}}
    raw = json.dumps(event).encode()
    signed = {"Content-Type": "application/json", "PSP-Signature": sign(merchant.webhook_secret, int(time.time()), raw)}
    check(people.anonymous.post(webhook, content=raw, headers=signed), 200)
    check(people.anonymous.post(webhook, content=raw, headers={"Content-Type": "application/json"}), 400, "webhook_rejected")

    today = date.today().isoformat()
    for path, params in (("", {}), ("/reconciliation", {"day": today}), ("/export", {"from": today})):
        url = f"/api/v1/tenants/{VECHTA}/payments{path}"
        check(people.vechta_admin.get(url, params=params), 200)
        check(people.vechta_admin.get(url, params={"limit": "0", "day": "gestern", "from": "gestern"}), 400, "invalid_parameter")
        check(people.citizen.get(url, params=params), 403, "forbidden")
        check(people.vechta_admin.get(f"/api/v1/tenants/x1/payments{path}", params=params), 404, "unknown_tenant")

    for path in ("kpis", "kpis.csv"):  # usage and acceptance KPIs: JSON and CSV
        url = f"/api/v1/tenants/{VECHTA}/{path}"
        check(people.vechta_admin.get(url, params={"from": today, "to": today}), 200)
        check(people.operator.get(url, params={"service": "hundeanmeldung"}), 200)
        check(people.vechta_admin.get(url, params={"from": "gestern"}), 400, "invalid_parameter")
        check(people.vechta_admin.get(url, params={"from": today, "to": "2020-01-01"}), 400, "invalid_parameter")
        check(people.citizen.get(url), 403, "forbidden")
        check(people.anonymous.get(url), 401, "unauthenticated")
        check(people.vechta_admin.get(f"/api/v1/tenants/x1/{path}"), 404, "unknown_tenant")
    check(people.vechta_admin.get(f"/api/v1/tenants/{VECHTA}/kpis", headers={"Accept": "text/csv"}), 200)
    # every tenant together: operators only
    together = check(people.operator.get("/api/v1/kpis", params={"from": today, "to": today}), 200).json()
    assert together["tenant"] is None
    check(people.operator.get("/api/v1/kpis", headers={"Accept": "text/csv"}), 200)
    check(people.operator.get("/api/v1/kpis", params={"from": "gestern"}), 400, "invalid_parameter")
    check(people.vechta_admin.get("/api/v1/kpis"), 403, "forbidden")
    check(people.anonymous.get("/api/v1/kpis"), 401, "unauthenticated")


def run_catalog_requests(people: People, check: Contract) -> None:
    client = people.anonymous
    tenants = check(client.get("/api/v1/tenants"), 200).json()["items"]
    assert {VECHTA, LOHNE, LK_VECHTA} <= {t["ags"] for t in tenants}
    check(client.get(f"/api/v1/tenants/{VECHTA}"), 200)
    assert check(client.get(f"/api/v1/tenants/{LK_VECHTA}"), 200).json()["district_ags"] is None
    check(client.get("/api/v1/tenants/99999999"), 404, "unknown_tenant")
    check(client.get("/api/v1/tenants/vechta", headers={"Accept-Language": "en"}), 404, "unknown_tenant")

    services = check(client.get("/api/v1/services"), 200).json()["items"]
    assert "hundeanmeldung" in {s["service_id"] for s in services}
    check(people.citizen.get("/api/v1/services/hundeanmeldung"), 200)  # public, and fine with a token too
    check(client.get("/api/v1/services/meldebescheinigung", params={"version": 1}), 200)
    check(client.get("/api/v1/services/meldebescheinigung", params={"version": 0}), 200)
    check(client.get("/api/v1/services/hundeanmeldung", params={"version": "eins"}), 400, "invalid_parameter")
    check(client.get("/api/v1/services/hundeanmeldung", params={"version": 99}), 404, "unknown_service")
    check(client.get("/api/v1/services/drachenanmeldung"), 404, "unknown_service")

    search = f"/api/v1/tenants/{VECHTA}/services"
    assert "hundeanmeldung" in {o["service_id"] for o in check(client.get(search), 200).json()["items"]}
    hits = check(client.get(search, params={"q": "Hund anmelden", "limit": 5}), 200).json()["items"]
    assert "hundeanmeldung" in {hit["service_id"] for hit in hits}
    check(client.get(search, params={"q": "Baugenehmigung", "limit": 10}), 200)
    check(client.get(search, params={"q": ""}), 400, "invalid_query")
    check(client.get(search, params={"q": "x" * 201}), 400, "invalid_query")
    check(client.get(search, params={"limit": "0"}), 400, "invalid_parameter")
    check(client.get("/api/v1/tenants/99999999/services"), 404, "unknown_tenant")

    offering = f"/api/v1/tenants/{VECHTA}/offerings/hundeanmeldung"
    check(client.get(offering), 200)
    check(client.get(offering, params={"at": "2099-01-01T00:00:00+00:00"}), 200)
    check(client.get(offering, params={"at": "2000-01-01T00:00:00+00:00"}), 404, "service_not_offered")
    check(client.get(offering, params={"at": "gestern"}), 400, "invalid_parameter")
    check(client.get(offering, params={"at": "2030-01-01T00:00:00"}), 400, "invalid_parameter")
    check(client.get(f"/api/v1/tenants/{VECHTA}/offerings/baugenehmigung"), 404, "service_not_offered")  # the district's
    check(client.get("/api/v1/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")

    themenfelder = check(client.get("/api/v1/themenfelder"), 200).json()["items"]
    lagen = check(client.get(f"/api/v1/themenfelder/{themenfelder[0]['id']}/lebenslagen"), 200).json()["items"]
    check(client.get("/api/v1/themenfelder/999/lebenslagen"), 404, "not_found")
    check(client.get(f"/api/v1/lebenslagen/{lagen[0]['id']}/leistungen"), 200)
    check(client.get("/api/v1/lebenslagen/99999/leistungen"), 404, "not_found")
    check(client.get("/api/v1/leistungen/10160"), 200)
    check(client.get("/api/v1/leistungen/00000"), 404, "not_found")

    check(client.get("/health/live"), 200)
    check(client.get("/health/ready", headers={"X-Correlation-ID": "contract-ready"}), 200)


def run_rule_requests(people: People, check: Contract) -> None:
    """Rules (issue #16): Vechta's admin defines, changes, tries and switches a rule."""
    admin, rules = people.vechta_admin, f"/api/v1/admin/tenants/{VECHTA}/rules"
    rule = {"service_id": "hundeabmeldung", "kind": "decision", "name": "Vertragsprobe",
            "when": {"field": "reason", "op": "eq", "value": "died"},
            "then": {"outcome": "approve", "reason": "Abmeldung wegen Tod des Hundes."}}
    unknown = f"{rules}/{uuid.uuid4()}"
    for method, url in (("GET", rules), ("POST", rules)):
        check(people.anonymous.request(method, url, json=rule), 401, "unauthenticated")
        check(people.vechta_lead.request(method, url, json=rule), 403, "forbidden")  # clerks manage no rules
        check(admin.request(method, "/api/v1/admin/tenants/123/rules", json=rule), 404, "unknown_tenant")
    created = check(admin.post(rules, json=rule), 201).json()
    url = f"{rules}/{created['rule_id']}"
    check(admin.get(rules, params={"service_id": "hundeabmeldung"}), 200)
    check(admin.post(rules, json=[]), 400, "invalid_request")
    check(admin.post(rules, json={**rule, "when": {"field": "reason", "op": "like"}}), 422, "rule_invalid")
    body_limits(check, admin, "POST", rules)
    change = {"name": "Vertragsprobe 2", "when": rule["when"], "then": rule["then"]}
    for method, suffix, body in (("GET", "", None), ("PUT", "", change), ("POST", "/activate", None),
                                 ("POST", "/deactivate", None), ("GET", "/shadow-runs", None),
                                 ("POST", "/shadow-runs", {"from": "2026-01-01", "to": "2026-02-01"})):
        check(people.anonymous.request(method, url + suffix, json=body), 401, "unauthenticated")
        check(people.vechta_lead.request(method, url + suffix, json=body), 403, "forbidden")
        check(admin.request(method, unknown + suffix, json=body), 404, "rule_not_found")
    check(admin.get(url), 200)
    assert check(admin.put(url, json=change), 200).json()["version"] == 2
    check(admin.put(url, json=[]), 400, "invalid_request")
    check(admin.put(url, json={**change, "then": {"outcome": "vielleicht"}}), 422, "rule_invalid")
    body_limits(check, admin, "PUT", url)
    check(admin.post(f"{url}/activate"), 409, "rule_shadow_run_missing")
    check(admin.get(f"{url}/shadow-runs"), 409, "rule_shadow_run_missing")
    check(admin.post(f"{url}/shadow-runs", json={"from": "gestern", "to": "heute"}), 400, "invalid_parameter")
    body_limits(check, admin, "POST", f"{url}/shadow-runs")
    check(admin.post(f"{url}/shadow-runs", json={"from": "2026-01-01", "to": "2027-01-01"}), 201)
    check(admin.get(f"{url}/shadow-runs"), 200)
    check(admin.get(f"{url}/shadow-runs", params={"version": "zwei"}), 400, "invalid_parameter")
    assert check(admin.get(f"{url}/shadow-runs", params={"format": "csv"}), 200).text.startswith("rule_id;name;")
    check(admin.post(f"{url}/activate"), 200)
    check(admin.post(f"{url}/deactivate"), 200)


def run_admin_requests(people: People, check: Contract) -> None:
    """Tenants, offerings (on a tenant of its own, so no other test sees the changes) and staff."""
    client = people.operator  # operators register tenants and may administer every tenant
    number = uuid.uuid4().int
    ags = f"0999{number % 10_000:04d}"
    code = "".join(chr(ord("A") + (number >> (5 * i)) % 26) for i in range(5))
    tenant = {"ags": ags, "name": "Vertragsdorf", "code": code, "kind": "gemeinde", "district_ags": LK_VECHTA,
              "email": "rathaus@vertragsdorf.example", "website": "https://vertragsdorf.example"}
    check(people.anonymous.post("/api/v1/admin/tenants", json=tenant), 401, "unauthenticated")
    check(people.vechta_admin.post("/api/v1/admin/tenants", json=tenant), 403, "forbidden")  # tenant admins do not
    created = check(client.post("/api/v1/admin/tenants", json=tenant), 201)
    assert created.headers["Location"] == f"/api/v1/tenants/{ags}"
    check(client.post("/api/v1/admin/tenants", json=tenant), 409, "tenant_exists")
    check(client.post("/api/v1/admin/tenants", json={**tenant, "ags": "123"}), 400, "invalid_parameter")
    check(client.post("/api/v1/admin/tenants", json=[]), 400, "invalid_request")
    check(client.post("/api/v1/admin/tenants", content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, client, "POST", "/api/v1/admin/tenants")

    admin = f"/api/v1/admin/tenants/{ags}"
    check(client.patch(admin, json={"phone": "+49 4441 1234"}), 200)
    check(client.patch(admin, json={"colour": "red"}), 400, "invalid_request")
    check(client.patch(admin, content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, client, "PATCH", admin)
    check(client.patch("/api/v1/admin/tenants/99999999", json={"phone": "1"}), 404, "unknown_tenant")
    check(people.vechta_admin.patch(admin, json={"phone": "1"}), 403, "forbidden")  # not their tenant
    check(people.anonymous.patch(admin, json={"phone": "1"}), 401, "unauthenticated")
    check(client.get(f"/api/v1/tenants/{ags}"), 200)

    offering = f"{admin}/offerings/hundeanmeldung"
    check(client.put(offering), 200)
    assert check(client.put(offering, json={"fee_cents": 1500, "reason": "Satzung 2027"}), 200).json()["fee_cents"] == 1500
    check(client.put(offering, json={"fee_cents": -1}), 400, "invalid_parameter")
    check(client.put(offering, json=[]), 400, "invalid_request")
    check(client.put(offering, content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, client, "PUT", offering)
    check(client.put(f"{admin}/offerings/drachenanmeldung"), 404, "unknown_service")
    check(client.put("/api/v1/admin/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")
    check(people.vechta_admin.put(offering), 403, "forbidden")
    check(people.anonymous.put(offering), 401, "unauthenticated")
    check(people.vechta_admin.put(f"/api/v1/admin/tenants/{VECHTA}/offerings/hundeanmeldung"), 200)  # their own
    retention = f"{offering}/retention"
    kept = check(client.put(retention, json={"retention_months": 6, "reason": "Satzung 2027"}), 200).json()
    assert (kept["retention_months"], kept["retention_months_in_force"]) == (6, 6)
    assert check(client.put(retention, json={"retention_months": None}), 200).json()["retention_months"] is None
    check(client.put(retention, json={"retention_months": 0}), 400, "invalid_parameter")
    check(client.put(retention, json={"reason": "ohne Frist"}), 400, "invalid_parameter")
    check(client.put(retention, json=[]), 400, "invalid_request")
    check(client.put(retention, content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, client, "PUT", retention)
    check(client.put(f"{admin}/offerings/meldebescheinigung/retention", json={"retention_months": 6}), 404,
          "service_not_offered")
    check(client.put("/api/v1/admin/tenants/99999999/offerings/hundeanmeldung/retention",
                     json={"retention_months": 6}), 404, "unknown_tenant")
    check(people.vechta_admin.put(retention, json={"retention_months": 6}), 403, "forbidden")
    check(people.anonymous.put(retention, json={"retention_months": 6}), 401, "unauthenticated")
    check(submit(people.citizen, ags=ags), 201)
    assert check(client.delete(offering, params={"reason": "Umstellung"}), 200).json()["active"] is False
    check(client.delete(f"{admin}/offerings/melde_bescheinigung"), 400, "invalid_parameter")
    check(client.delete(f"{admin}/offerings/meldebescheinigung"), 404, "service_not_offered")
    check(client.delete("/api/v1/admin/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")
    check(people.vechta_admin.delete(offering), 403, "forbidden")
    check(people.anonymous.delete(offering), 401, "unauthenticated")
    # the submissions service caches catalog answers for a few seconds (OfferingCache.ttl)
    key = uuid.uuid4().hex
    refused = eventually(lambda: (r := submit(people.citizen, ags=ags, key=key)).status_code == 404 and r, timeout=30, interval=0.5)
    check(refused, 404, "service_not_offered")
    check(client.get(f"/api/v1/tenants/{ags}/services"), 200)

    # staff of Vechta, managed by its tenant admin; a role needs a second person (here the operator)
    staff_url, admin_client = f"/api/v1/admin/tenants/{VECHTA}/staff", people.vechta_admin
    email = new_email("team")
    staff = check(admin_client.post(staff_url, json={"email": email, "display_name": "Neu", "role": "team_lead",
                                                     "service_keys": ["hundeanmeldung"]}), 201).json()
    assert staff["grants"] == [] and [p["role"] for p in staff["pending"]] == ["team_lead"]
    check(admin_client.post(staff_url, json={"email": email}), 409, "email_in_use")
    check(admin_client.post(staff_url, json={"email": new_email(), "role": "chef"}), 400, "invalid_parameter")
    check(admin_client.post(staff_url, json=[]), 400, "invalid_request")
    body_limits(check, admin_client, "POST", staff_url)
    check(admin_client.post(f"/api/v1/admin/tenants/{LOHNE}/staff", json={"email": new_email()}), 403, "forbidden")
    check(people.anonymous.post(staff_url, json={"email": new_email()}), 401, "unauthenticated")
    grants = f"{staff_url}/{staff['account_id']}/grants"
    asked = check(admin_client.post(grants, json={"role": "clerk", "service_keys": ["*"]}), 202).json()
    clerk_request = f"{grants}/{asked['request_id']}"
    check(admin_client.post(f"{clerk_request}/approve"), 403, "four_eyes_required")  # not the requester
    check(people.lohne_lead.post(f"{clerk_request}/approve"), 403, "forbidden")
    check(admin_client.post(f"{grants}/{uuid.uuid4()}/approve"), 404, "grant_request_not_found")
    check(people.operator.post(f"{clerk_request}/approve"), 200)
    check(people.operator.post(f"{clerk_request}/approve"), 404, "grant_request_not_found")  # decided once
    lead_request = f"{grants}/{staff['pending'][0]['request_id']}"
    check(admin_client.post(f"{lead_request}/reject"), 200)  # withdrawn by its requester
    check(admin_client.post(f"{lead_request}/reject"), 404, "grant_request_not_found")
    assert check(admin_client.get(grants), 200).json()["grants"] == [{"tenant": VECHTA, "role": "clerk", "service_keys": ["*"]}]
    assert len(check(admin_client.get(f"{grants}/history"), 200).json()["items"]) == 4
    check(admin_client.request("DELETE", grants, json={"role": "clerk"}), 200)
    for method, tail in (("GET", ""), ("GET", "/history"), ("POST", "/x/approve"), ("POST", "/x/reject")):
        check(admin_client.request(method, f"{staff_url}/{uuid.uuid4()}/grants{tail}"), 404, "account_not_found")
        check(admin_client.request(method, f"{staff_url}/{people.citizen_account.account_id}/grants{tail}"), 403, "forbidden")
        check(admin_client.request(method, f"/api/v1/admin/tenants/{LOHNE}/staff/{staff['account_id']}/grants{tail}"), 403, "forbidden")
        check(people.anonymous.request(method, f"{grants}{tail}"), 401, "unauthenticated")
    for method in ("POST", "DELETE"):
        check(admin_client.request(method, grants, json={"role": "chef"}), 400, "invalid_parameter")
        check(admin_client.request(method, f"{staff_url}/{uuid.uuid4()}/grants", json={"role": "clerk"}), 404, "account_not_found")
        check(admin_client.request(method, f"{staff_url}/{people.citizen_account.account_id}/grants", json={"role": "clerk"}), 403, "forbidden")
        check(people.anonymous.request(method, grants, json={"role": "clerk"}), 401, "unauthenticated")
        body_limits(check, admin_client, method, grants)
    gone = people.accounts.staff([(VECHTA, "clerk", ["*"])])
    people.accounts.app.request_deletion(gone.account_id, gone.password, by="contract-test")
    people.accounts.app.complete_deletion(gone.account_id)
    for method in ("POST", "DELETE"):
        check(admin_client.request(method, f"{staff_url}/{gone.account_id}/grants", json={"role": "clerk"}), 410, "account_deleted")
    for decision in ("approve", "reject"):
        check(admin_client.post(f"{staff_url}/{gone.account_id}/grants/x/{decision}"), 410, "account_deleted")


PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def run_web_requests(people: People, check: Contract, high_citizen: httpx.Client) -> None:
    """What the web portal needs besides cases: drafts, attachments, the prefill profile."""
    citizen, lead = people.citizen, people.vechta_lead
    drafts = f"/api/v1/tenants/{VECHTA}/drafts"
    draft = check(citizen.post(drafts, json={"service_id": "hundeanmeldung", "form_data": {"dog_name": "Bello"}, "page": 1}), 201).json()
    url = f"/api/v1/drafts/{draft['draft_id']}"
    check(citizen.post(drafts, content=b"{", headers=AS_JSON), 400, "malformed_json")
    check(citizen.post(drafts, json={"form_data": {}}), 400, "invalid_request")
    check(citizen.post(drafts, json={"service_id": "hundeanmeldung", "page": "../x"}), 400, "invalid_parameter")
    check(lead.post(drafts, json={"service_id": "hundeanmeldung"}), 403, "forbidden")
    check(citizen.post("/api/v1/tenants/99999999/drafts", json={"service_id": "hundeanmeldung"}), 404, "unknown_tenant")
    check(citizen.post(drafts, json={"service_id": "hundeanmeldung", "form_data": {"dog_name": "x" * 300_000}}), 413, "draft_too_large")
    check(citizen.post(drafts, json={"service_id": "hundeanmeldung", "form_data": {"shoe_size": 42}}), 422, "form_invalid")
    body_limits(check, citizen, "POST", drafts)
    listed = check(citizen.get("/api/v1/me/drafts"), 200).json()["items"]
    assert [d["draft_id"] for d in listed] == [draft["draft_id"]]
    check(lead.get("/api/v1/me/drafts"), 403, "forbidden")
    check(citizen.get(url), 200)
    for other in (lead, people.fresh(people.accounts.citizen())):
        check(other.get(url), 404, "draft_not_found")  # someone else's: as if there were none
    check(citizen.get("/api/v1/drafts/not-a-uuid"), 404, "draft_not_found")
    check(citizen.put(url, json={"form_data": form(), "page": "check"}), 200)
    check(citizen.put(url, json={"page": "check"}), 400, "invalid_request")
    check(citizen.put(url, json={"form_data": {"dog_name": ["a"]}}), 422, "form_invalid")
    check(citizen.put(url, json={"form_data": {"dog_name": "x" * 300_000}}), 413, "draft_too_large")
    body_limits(check, citizen, "PUT", url)
    check(lead.put(url, json={"form_data": {}}), 404, "draft_not_found")
    # submit: the ordinary submission path
    submit_url = f"{url}/submit"
    check(citizen.post(submit_url, headers={"Idempotency-Key": "a b"}), 400, "invalid_idempotency_key")
    check(citizen.post(submit_url, json={"nonsense": 1}), 400, "invalid_request")
    check(citizen.post(submit_url, content=b"{", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, citizen, "POST", submit_url)
    case = check(citizen.post(submit_url, json={"applicant": {"name": "Erika Mustermann"}}), 201).json()
    replay = check(citizen.post(submit_url), 201)
    assert replay.json()["case_id"] == case["case_id"] and replay.headers["Idempotent-Replayed"] == "true"
    assert check(citizen.get(url), 200).json()["case_id"] == case["case_id"]
    check(citizen.put(url, json={"form_data": {}}), 404, "draft_not_found")  # submitted: no more changes
    incomplete = check(citizen.post(drafts, json={"service_id": "hundeanmeldung"}), 201).json()
    check(citizen.post(f"/api/v1/drafts/{incomplete['draft_id']}/submit"), 422, "form_invalid")
    check(lead.post(f"/api/v1/drafts/{incomplete['draft_id']}/submit"), 404, "draft_not_found")
    lohne = check(citizen.post(f"/api/v1/tenants/{LOHNE}/drafts", json={"service_id": "meldebescheinigung",
                                                                        "form_data": form("meldebescheinigung")}), 201).json()
    check(citizen.post(f"/api/v1/drafts/{lohne['draft_id']}/submit"), 403, "trust_level_insufficient")
    check(lead.delete(f"/api/v1/drafts/{lohne['draft_id']}"), 404, "draft_not_found")
    check(citizen.delete(f"/api/v1/drafts/{lohne['draft_id']}"), 204)
    check(citizen.delete(f"/api/v1/drafts/{lohne['draft_id']}"), 404, "draft_not_found")
    # attachments: checked by content, kept for the case's readers
    upload = "/api/v1/attachments"
    named = {"Content-Type": "application/pdf", "X-Filename": quote("Ausweis Müller.pdf")}
    attachment = check(high_citizen.post(upload, content=PDF, headers=named), 201).json()
    assert attachment["filename"] == "Ausweis Müller.pdf" and attachment["media_type"] == "application/pdf"
    check(citizen.post(upload, content=b"", headers=named), 400, "invalid_request")
    check(citizen.post(upload, content=PNG, headers=named), 422, "attachment_content_invalid")
    check(citizen.post(upload, content=b"PK\x03\x04", headers={"Content-Type": "application/zip"}), 415, "attachment_type_unsupported")
    check(citizen.post(upload, content=b"%PDF-" + bytes(10_000_000), headers=named), 413, "attachment_too_large")
    browser = {"Cookie": "vr_access=abgelaufen", "Content-Type": "text/plain"}
    check(people.anonymous.post(upload, content=PDF, headers=browser), 415, "unsupported_media_type")
    gewerbe = form("gewerbeanmeldung", ausweiskopie={"attachment_id": attachment["attachment_id"]})
    with_file = check(submit(high_citizen, service_id="gewerbeanmeldung", form_data=gewerbe), 201).json()
    file_url = f"/api/v1/cases/{with_file['case_id']}/attachments/{attachment['attachment_id']}"
    got = check(high_citizen.get(file_url), 200)
    assert got.content == PDF and got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    check(lead.get(file_url), 200)  # the responsible clerk
    check(people.lohne_lead.get(file_url), 404, "case_not_found")
    check(citizen.get(file_url), 404, "case_not_found")
    check(high_citizen.get(f"/api/v1/cases/{with_file['case_id']}/attachments/{uuid.uuid4()}"), 404, "attachment_not_found")
    check(submit(citizen, service_id="gewerbeanmeldung", form_data=gewerbe), 403, "trust_level_insufficient")
    # search in English and in sentences, on a portal and in the whole catalog
    english = check(people.anonymous.get(f"/api/v1/tenants/{VECHTA}/services", params={"q": "dog tax", "lang": "en"}), 200).json()
    assert english["lang"] == "en" and english["items"][0]["service_id"] == "hundeanmeldung"
    assert english["items"][0]["name_lang"] == "en"
    check(people.anonymous.get(f"/api/v1/tenants/{VECHTA}/services", params={"q": "Hund", "lang": "fr"}), 400, "invalid_parameter")
    found = check(people.anonymous.get("/api/v1/search", params={"q": "ich ziehe nach Vechta um"}), 200).json()
    assert found["items"][0]["ozg_id"] == "10124"
    check(people.anonymous.get("/api/v1/search", params={"q": "I lost my id card", "lang": "en", "limit": 3}), 200)
    check(people.anonymous.get("/api/v1/search"), 400, "invalid_query")
    check(people.anonymous.get("/api/v1/search", params={"q": "x", "limit": 0}), 400, "invalid_parameter")
    # the prefill profile
    profile = {"given_name": "Erika", "family_name": "Mustermann", "birth_date": "1980-04-12", "street": "Große Straße",
               "house_number": "12a", "postal_code": "49377", "city": "Vechta", "phone": None}
    check(citizen.get("/api/v1/me/profile"), 200)
    saved = check(citizen.put("/api/v1/me/profile", json=profile), 200).json()
    assert saved["postal_code"] == "49377" and check(citizen.get("/api/v1/me/profile"), 200).json() == saved
    check(citizen.put("/api/v1/me/profile", json={**profile, "postal_code": "4937"}), 422, "form_invalid")
    check(citizen.put("/api/v1/me/profile", content=b"{", headers=AS_JSON), 400, "malformed_json")
    check(citizen.put("/api/v1/me/profile", json=[]), 400, "invalid_request")
    body_limits(check, citizen, "PUT", "/api/v1/me/profile")


def run_council_requests(people: People, check: Contract) -> None:
    """Council information: Cloppenburg synced from the development OParl server (the test
    Platform seeds its source), the source configuration of Vechta (set to none: nothing syncs)."""
    anonymous, cloppenburg, none = people.anonymous, "/api/v1/tenants/03453004/council", "0" * 20
    overview = eventually(lambda: (r := anonymous.get(cloppenburg)).json().get("upcoming") and r, timeout=60)
    check(overview, 200)
    check(anonymous.get("/api/v1/tenants/99999999/council"), 404, "unknown_tenant")
    committee = overview.json()["organizations"][0]["id"]
    for params in ({}, {"when": "past", "organization": committee, "limit": 5, "offset": 1}):
        check(anonymous.get(f"{cloppenburg}/meetings", params=params), 200)
    check(anonymous.get(f"{cloppenburg}/meetings", params={"when": "bald"}), 400, "invalid_parameter")
    check(anonymous.get(f"{cloppenburg}/meetings", params={"organization": "rat"}), 400, "invalid_parameter")
    check(anonymous.get(f"{cloppenburg}/meetings", params={"organization": none}), 404, "not_found")
    check(anonymous.get("/api/v1/tenants/99999999/council/meetings"), 404, "unknown_tenant")
    meeting = check(anonymous.get(f"{cloppenburg}/meetings/{overview.json()['upcoming'][0]['id']}"), 200).json()
    check(anonymous.get(f"{cloppenburg}/meetings/sitzung-1"), 400, "invalid_parameter")
    check(anonymous.get(f"{cloppenburg}/meetings/{none}"), 404, "not_found")
    check(anonymous.get(f"/api/v1/tenants/99999999/council/meetings/{none}"), 404, "unknown_tenant")
    paper = next(p for item in meeting["agenda"] for p in item["papers"])
    check(anonymous.get(f"{cloppenburg}/papers/{paper['id']}"), 200)
    check(anonymous.get(f"{cloppenburg}/papers/vorlage"), 400, "invalid_parameter")
    check(anonymous.get(f"{cloppenburg}/papers/{none}"), 404, "not_found")
    check(anonymous.get(f"/api/v1/tenants/99999999/council/papers/{none}"), 404, "unknown_tenant")
    found = check(anonymous.get(f"{cloppenburg}/search", params={"q": "Haushalt", "limit": 5}), 200).json()
    assert found["items"] and all("aushalt" in item["name"] for item in found["items"])
    check(anonymous.get(f"{cloppenburg}/search"), 400, "invalid_query")
    check(anonymous.get(f"{cloppenburg}/search", params={"q": "x", "limit": 0}), 400, "invalid_parameter")
    check(anonymous.get("/api/v1/tenants/99999999/council/search", params={"q": "x"}), 404, "unknown_tenant")
    # the source: tenant admins of their own tenant, operators of every one
    admin, source = people.vechta_admin, f"/api/v1/admin/tenants/{VECHTA}/council/source"
    set_none = check(admin.put(source, json={"url": None}), 200).json()
    assert set_none["url"] is None and set_none["configured_by"]
    shown = check(admin.get(source), 200).json()
    assert shown["history"][-1]["url"] is None
    check(people.operator.get("/api/v1/admin/tenants/03453004/council/source"), 200)
    check(admin.get(f"/api/v1/admin/tenants/{LOHNE}/council/source"), 403, "forbidden")
    check(admin.put(f"/api/v1/admin/tenants/{LOHNE}/council/source", json={"url": None}), 403, "forbidden")
    check(people.operator.get("/api/v1/admin/tenants/99999999/council/source"), 404, "unknown_tenant")
    check(people.operator.put("/api/v1/admin/tenants/99999999/council/source", json={"url": None}), 404, "unknown_tenant")
    check(admin.put(source, json={"url": "ftp://ratsinfo.example.org/system"}), 400, "invalid_parameter")
    check(admin.put(source, json=[]), 400, "invalid_request")
    check(admin.put(source, content=b"{", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, admin, "PUT", source)


def run_generic_requests(people: People, check: Contract) -> None:
    """What every operation shares: 401 for a bad token, 401 without one where a login is
    required, 405 for an undocumented method on a documented path, 404 elsewhere; for every
    state-changing one 403 from another site and 415 for a cookie request without JSON."""
    bad_token = {"Authorization": "Bearer nicht-signiert"}
    stale_cookie = {"Cookie": "vr_access=abgelaufen"}
    for op in OPERATIONS:
        concrete = re.sub(r"\{\w+\}", "x1", op.path)
        payload = {} if op.method in STATE_CHANGING else None
        check(people.anonymous.request(op.method.upper(), concrete, json=payload, headers=bad_token), 401, "invalid_token")
        if not op.anonymous_allowed:
            check(people.anonymous.request(op.method.upper(), concrete, json=payload), 401, "unauthenticated")
        if op.method in STATE_CHANGING:
            for site in ({"Origin": "https://boese.example"}, {"Sec-Fetch-Site": "cross-site"}):
                check(people.anonymous.request(op.method.upper(), concrete, json={}, headers={**site, **stale_cookie}),
                      403, "cross_site_request")
            form = {"Content-Type": "application/x-www-form-urlencoded", **stale_cookie}
            check(people.anonymous.request(op.method.upper(), concrete, content=b"a=b", headers=form), 415, "unsupported_media_type")
    for path, item in SPEC["paths"].items():
        concrete = re.sub(r"\{\w+\}", "x1", path)
        unused = next(m for m in CATCH_ALL_METHODS if m not in item)
        check(people.anonymous.request(unused.upper(), concrete, json={} if unused != "get" else None), 405, "method_not_allowed")
    check(people.anonymous.get("/api/v1/nothing-here"), 404, "not_found")
    check(people.citizen.get(f"/api/v1/cases/{uuid.uuid4()}/actions"), 404, "not_found")
    check(people.anonymous.post("/api/v1/tenants", json={}), 405, "method_not_allowed")


def run_handover_requests(people: People, check: Contract) -> None:
    """Back-office clients (issued, four-eyes approved, revoked) and the submission API; time travel."""
    admin, operator, lead, citizen = people.vechta_admin, people.operator, people.vechta_lead, people.citizen
    clients = f"/api/v1/admin/tenants/{VECHTA}/handover-clients"
    issued = check(admin.post(clients, json={"name": "Hundesteuer (Finanzverfahren)", "service_keys": ["hundeanmeldung"]}), 202).json()
    client_url = f"{clients}/{issued['client_id']}"
    check(admin.post(f"{client_url}/approve"), 403, "four_eyes_required")
    check(people.lohne_lead.post(f"{client_url}/approve"), 403, "forbidden")
    check(people.anonymous.post(f"{client_url}/approve"), 401, "unauthenticated")
    check(operator.post(f"/api/v1/admin/tenants/{LOHNE}/handover-clients/{issued['client_id']}/approve"), 404,
          "handover_client_not_found")
    check(operator.post(f"{client_url}/approve"), 200)
    check(admin.get(clients), 200)
    check(lead.get(clients), 403, "forbidden")
    check(people.anonymous.get(clients), 401, "unauthenticated")
    check(operator.get("/api/v1/admin/tenants/99999999/handover-clients"), 404, "unknown_tenant")
    check(admin.post(clients, json={"name": ""}), 400, "invalid_parameter")
    check(lead.post(clients, json={"name": "x"}), 403, "forbidden")
    check(people.anonymous.post(clients, json={"name": "x"}), 401, "unauthenticated")
    check(operator.post("/api/v1/admin/tenants/99999999/handover-clients", json={"name": "x"}), 404, "unknown_tenant")
    check(admin.post(clients, content=b"{x", headers=AS_JSON), 400, "malformed_json")
    office = people.fresh()
    office.auth = (issued["client_id"], issued["client_secret"])
    fetch = "/api/v1/handover/fetch"
    check(people.anonymous.post(fetch), 401, "unauthenticated")
    check(people.anonymous.post(fetch, auth=("kein-client", "falsch")), 401, "invalid_client")
    check(office.post(fetch, json={"limit": 0}), 400, "invalid_parameter")
    check(office.post(fetch, json=[1]), 400, "invalid_request")
    check(office.post(fetch, content=b"{x", headers=AS_JSON), 400, "malformed_json")
    body_limits(check, office, "POST", fetch)
    # a decided case: offered, acknowledged too early (409), fetched, downloaded, acknowledged
    case = check(submit(citizen), 201).json()["case_id"]
    for action in ("start-review", "approve"):
        check(lead.post(f"/api/v1/cases/{case}/actions/{action}", json={}), 200)
    submission = f"/api/v1/handover/submissions/{case}"
    check(eventually(lambda: (r := office.get(submission)).status_code == 200 and r, timeout=30), 200)
    check(office.post(f"{submission}/ack"), 409, "submission_not_available")
    eventually(lambda: case in {s["case_id"] for s in check(office.post(fetch, json={"limit": 100}), 200).json()["submissions"]})
    check(office.get(f"{submission}/attachments/{uuid.uuid4()}"), 404, "attachment_not_found")
    check(office.post(f"{submission}/ack"), 200)
    unknown = f"/api/v1/handover/submissions/{uuid.uuid4()}"
    for method, url in (("GET", unknown), ("GET", f"{unknown}/attachments/{uuid.uuid4()}"), ("POST", f"{unknown}/ack")):
        check(office.request(method, url), 404, "submission_not_found")
        check(people.anonymous.request(method, url, auth=(issued["client_id"], "falsch")), 401, "invalid_client")
    # time travel: before its decision, and bad instants
    check(lead.get(f"/api/v1/cases/{case}", params={"as_of": "2026-01-01T00:00:00Z"}), 404, "case_not_found")
    check(lead.get(f"/api/v1/cases/{case}", params={"as_of": "bald"}), 400, "invalid_parameter")
    check(lead.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"as_of": date.today().isoformat()}), 200)
    check(lead.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"as_of": "bald"}), 400, "invalid_parameter")
    # revoked: its credentials stop at once
    check(people.lohne_lead.delete(client_url), 403, "forbidden")
    check(people.anonymous.delete(client_url), 401, "unauthenticated")
    check(admin.delete(f"{clients}/{uuid.uuid4()}"), 404, "handover_client_not_found")
    check(admin.delete(client_url), 200)
    check(office.post(fetch), 401, "invalid_client")
