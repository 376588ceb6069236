"""The gateway against its published contract, contracts/openapi.yaml.

(a) Every ``@http`` route of ``GatewayService`` (except the catch-all) is in the document
    with its method and ``operationId``, and every documented operation is a route; the
    problem codes and their HTTP statuses agree with ``services/common/problems.py``.
(b) Real requests to the real platform — happy paths and error paths — get a status that
    is documented for the operation, a documented content type, the required headers, and
    a body that validates against the documented schema. Schemas are applied strictly: an
    object may not carry a field the document does not name (unless it says
    ``additionalProperties``). Requests that succeed must themselves match the documented
    parameters and request body, so the document is not stricter than the server.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import uuid
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema import FormatChecker
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.common import contracts
from services.common.problems import MESSAGES
from tests.e2e.conftest import LK_VECHTA, LOHNE, VECHTA, eventually
from tests.examples import form

with warnings.catch_warnings():  # importing nameko imports eventlet, which warns that it is deprecated
    warnings.simplefilter("ignore")
    from nameko.web.handlers import HttpRequestHandler

    from services.gateway.service import GatewayService

SPEC = contracts.load_openapi()
SPEC_URI = "https://virtuelles-rathaus.de/contracts/openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


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


def operations() -> list[tuple[str, str, re.Pattern[str], dict[str, Any]]]:
    """(method, path template, regex with named groups, operation) for every documented operation."""
    found = []
    for path, item in SPEC["paths"].items():
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        found.extend((method, path, regex, op) for method, op in item.items() if method in HTTP_METHODS)
    return found


def parameters(path: str, method: str) -> list[tuple[str, dict[str, Any]]]:
    """(pointer, parameter) of an operation, path-level ones included."""
    result = []
    for base in (f"/paths/{escape(path)}", f"/paths/{escape(path)}/{method}"):
        for i, _ in enumerate(at(base).get("parameters", [])):
            result.append(deref(f"{base}/parameters/{i}"))
    return result


OPERATIONS = operations()


# -- (a) routes and codes ------------------------------------------------------------------------
def code_routes() -> dict[tuple[str, str], str]:
    """(METHOD, OpenAPI path) → handler name, from the nameko entrypoints on the class."""
    routes: dict[tuple[str, str], str] = {}
    for name, member in inspect.getmembers(GatewayService, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if not isinstance(entrypoint, HttpRequestHandler) or "<path:" in entrypoint.url:
                continue  # the catch-all (404/405) is documented in info.description
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", entrypoint.url)
            for method in entrypoint.method.split(","):
                routes[(method.strip().upper(), path)] = name
    return routes


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes = code_routes()
    documented = {(method.upper(), path): op.get("operationId") for method, path, _, op in OPERATIONS}
    assert len(routes) >= 10, f"introspection found too few routes: {routes}"
    missing = sorted(set(routes) - set(documented))
    extra = sorted(set(documented) - set(routes))
    assert not missing, f"routes of GatewayService missing from contracts/openapi.yaml: {missing}"
    assert not extra, f"documented in contracts/openapi.yaml but not routes of GatewayService: {extra}"
    wrong_ids = {route: (documented[route], name) for route, name in routes.items() if documented[route] != name}
    assert not wrong_ids, f"operationId should be the handler's name: {wrong_ids}"


def test_the_document_is_valid_openapi_3_1() -> None:
    validate_spec(SPEC)
    assert SPEC["openapi"].startswith("3.1") and "securitySchemes" not in SPEC.get("components", {})
    assert "security" not in SPEC, "authentication is not implemented; the document must not claim it"


def test_problem_codes_and_statuses_agree_with_problems_py() -> None:
    documented = set(at("/components/schemas/Problem/properties/code/enum"))
    assert documented == set(MESSAGES), (
        f"Problem.code in contracts/openapi.yaml lacks {sorted(set(MESSAGES) - documented)} "
        f"and has codes problems.py does not know: {sorted(documented - set(MESSAGES))}"
    )
    wrong = []
    for pointer in [f"/paths/{escape(p)}/{m}/responses" for m, p, _, _ in OPERATIONS]:
        for status in at(pointer):
            final, response = deref(f"{pointer}/{status}")
            schema = response.get("content", {}).get("application/problem+json", {}).get("schema", {})
            for part in schema.get("allOf", []):
                code = part.get("properties", {}).get("code", {})
                for name in code.get("enum", [code["const"]] if "const" in code else []):
                    if MESSAGES[name][0] != int(status):
                        wrong.append(f"{final}: {name} is {MESSAGES[name][0]}, documented under {status}")
    assert not wrong, wrong


# -- (b) real responses ----------------------------------------------------------------------------
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
        match = next(((p, op, m) for meth, p, regex, op in OPERATIONS if meth == method and (m := regex.match(path))), None)
        problems: list[str] = []
        if match is None:
            documented = sorted(meth.upper() for meth, _, regex, _ in OPERATIONS if regex.match(path))
            name = "MethodNotAllowed" if documented else "NotFound"
            pointer, spec_response = deref(f"/components/responses/{name}")
            if documented and response.headers.get("Allow") != ", ".join(documented):
                problems.append(f"Allow should be {documented}, is {response.headers.get('Allow')!r}")
            if response.status_code != (405 if documented else 404):
                problems.append(f"undocumented route should be {405 if documented else 404}")
        else:
            template, op, path_match = match
            responses = op["responses"]
            if status not in responses:
                return [f"status {status} is not documented for {op['operationId']} (documented: {sorted(responses)})"]
            self.exercised.add((op["operationId"], status))
            pointer, spec_response = deref(f"/paths/{escape(template)}/{method}/responses/{status}")
            if response.is_success:
                problems += self.check_request(request, template, op, path_match)
        problems += self.check_headers(response, pointer, spec_response)
        content = spec_response.get("content", {})
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media not in content:
            return [*problems, f"content type {media!r} is not documented (documented: {sorted(content)})"]
        try:
            body = response.json()
        except ValueError:
            return [*problems, f"body is not JSON: {response.text[:200]!r}"]
        return problems + errors_of(f"{pointer}/content/{escape(media)}/schema", body)

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
    def check_request(request: httpx.Request, template: str, op: dict[str, Any], path_match: re.Match[str]) -> list[str]:
        """A request the server accepted must match the documented parameters and body."""
        problems = []
        params = {(p["in"], p["name"].lower()): (pointer, p) for pointer, p in parameters(template, request.method.lower())}
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
        if request.content and "requestBody" in op:
            media = request.headers.get("Content-Type", "").split(";")[0].strip()
            body_pointer, body = deref(f"/paths/{escape(template)}/{request.method.lower()}/requestBody")
            if media not in body.get("content", {}):
                problems.append(f"request content type {media!r} is not documented")
            else:
                problems += [f"request body: {e}" for e in errors_of(f"{body_pointer}/content/{escape(media)}/schema", json.loads(request.content))]
        return problems


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def test_real_responses_match_the_documented_schemas(client: httpx.Client) -> None:
    check = Contract()
    run_citizen_requests(client, check)
    run_clerk_requests(client, check)
    run_catalog_and_operations_requests(client, check)
    run_search_and_browse_requests(client, check)
    run_admin_requests(client, check)
    assert not check.failures, "responses that do not match contracts/openapi.yaml:\n" + "\n".join(check.failures)

    # every operation answered successfully, and every documented client error was provoked
    documented = {(op["operationId"], status) for _, _, _, op in OPERATIONS for status in op["responses"]}
    not_seen = sorted(pair for pair in documented - check.exercised if int(pair[1]) < 500)
    assert not not_seen, f"documented answers this test never provoked (add a request): {not_seen}"


def submit(client: httpx.Client, ags: str = VECHTA, key: str | None = None, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"service_id": "hundeanmeldung", "form_data": form(), **body}
    return client.post(
        f"/api/v1/tenants/{ags}/cases", json=payload, headers={"Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})}
    )


def run_citizen_requests(client: httpx.Client, check: Contract) -> None:
    url = f"/api/v1/tenants/{VECHTA}/cases"
    as_json = {"Content-Type": "application/json"}
    key = uuid.uuid4().hex
    english = {"Accept-Language": "en-GB,en;q=0.9", "X-Correlation-ID": "contract-test"}
    created = check(
        submit(client, key=key, form_version=1, applicant={"name": "Erika Mustermann", "email": "erika@example.org"}, headers=english),
        201,
    )
    assert created.headers["Content-Language"] == "en" and created.headers["X-Correlation-ID"] == "contract-test"
    replay = check(submit(client, key=key, form_version=1, applicant={"name": "Erika Mustermann", "email": "erika@example.org"}), 201)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    check(submit(client, key=key, form_data=form(dog_name="Hasso")), 422, "idempotency_key_reused")
    check(submit(client, form_data=form(chip_number="12"), headers=english), 422, "form_invalid")
    check(client.post(url, content=b"{not json", headers=as_json), 400, "malformed_json")
    check(client.post(url, content=b"", headers=as_json), 400, "malformed_json")
    check(client.post(url, content=b"[]", headers=as_json), 400, "invalid_request")
    check(client.post(url, json={"service_id": "hundeanmeldung", "form_data": {}}, headers={"Idempotency-Key": "a b"}), 400, "invalid_idempotency_key")
    check(client.post(url, content=b"x" * 1_000_001, headers=as_json), 413, "payload_too_large")
    check(client.post(url, content=b"a=b", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    check(submit(client, ags="99999999"), 404, "unknown_tenant")
    check(submit(client, ags="vechta"), 404, "unknown_tenant")
    check(submit(client, service_id="drachenanmeldung"), 404, "unknown_service")
    check(submit(client, form_version=99), 409, "unknown_form_version")

    case_id = created.json()["case_id"]
    check(client.get(f"/api/v1/cases/{case_id}"), 200)
    check(client.get("/api/v1/cases/not-a-uuid"), 404, "case_not_found")
    check(client.get(f"/api/v1/cases/{uuid.uuid4()}", headers=english), 404, "case_not_found")


def run_clerk_requests(client: httpx.Client, check: Contract) -> None:
    def act(case_id: str, action: str, payload: Any = None, **kwargs: Any) -> httpx.Response:
        url = f"/api/v1/cases/{case_id}/actions/{action}"
        return client.post(url, json=payload, **kwargs) if payload is not None else client.post(url, **kwargs)

    # a case with a fee, through payment, a question, a reassignment and approval
    paid = check(submit(client, ags=LOHNE, service_id="meldebescheinigung", form_data=form("meldebescheinigung")), 201).json()
    due = (date.today() + timedelta(days=30)).isoformat()
    steps: list[tuple[str, Any, int, str | None]] = [
        ("request-payment", {}, 200, None),
        ("record-payment", {"amount_cents": 100, "payment_ref": "KASSE-1"}, 409, "payment_amount_mismatch"),
        ("record-payment", {"payment_ref": "KASSE-1"}, 200, None),
        ("start-review", {"clerk": "Frau Meyer"}, 200, None),
        ("request-information", {"question": "Bitte Meldeadresse bestätigen.", "due_date": due}, 200, None),
        ("supply-information", {"answer": "Die Adresse stimmt."}, 200, None),
        ("reassign", {"clerk": "Herr Schulz"}, 200, None),
        ("approve", None, 200, None),  # no body at all
        ("approve", {}, 409, "transition_not_allowed"),
    ]
    for action, payload, status, code in steps:
        check(act(paid["case_id"], action, payload), status, code)
    final = eventually(lambda: (r := client.get(f"/api/v1/cases/{paid['case_id']}")).json().get("status") == "approved" and r)
    check(final, 200)
    assert [step["step"] for step in final.json()["timeline"]] == [
        "submitted", "payment_requested", "payment_received", "review_started", "information_requested",
        "information_supplied", "reassigned", "approved",
    ]

    free = check(submit(client), 201).json()["case_id"]
    check(act(free, "request-payment", {}), 409, "no_fee_due")
    check(act(free, "start-review", headers={"Content-Type": "application/json"}, content=b""), 200)
    check(act(free, "reject", {"reason": " "}), 400, "invalid_parameter")
    check(act(free, "reject", {"reason": "Der Hund ist bereits angemeldet."}), 200)
    withdrawn = check(submit(client), 201).json()["case_id"]
    check(act(withdrawn, "withdraw", {"reason": "Umzug"}), 200)
    check(act(withdrawn, "fly", {}), 404, "unknown_action")
    check(act(str(uuid.uuid4()), "approve", {}), 404, "case_not_found")
    check(act(withdrawn, "withdraw", [], headers={"Accept-Language": "en"}), 400, "invalid_request")
    check(act(withdrawn, "withdraw", content=b"{x", headers={"Content-Type": "application/json"}), 400, "malformed_json")
    check(act(withdrawn, "withdraw", content=b"x" * 1_000_001, headers={"Content-Type": "application/json"}), 413, "payload_too_large")
    check(act(withdrawn, "withdraw", content=b"reason=x", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")

    # the worklist: filters, sorting, keyset pages and bad parameters
    worklist = f"/api/v1/tenants/{LOHNE}/worklist"
    page = eventually(lambda: (r := client.get(worklist, params={"state": "all", "limit": 500})).json()["items"] and r)
    check(page, 200)
    check(client.get(worklist), 200)
    check(client.get(worklist, params={
        "state": "closed", "status": "approved", "service_id": "meldebescheinigung", "assignee": "Herr Schulz",
        "sort": "due_date", "order": "desc", "limit": 1,
    }), 200)
    check(client.get(worklist, params={"assignee": "none", "state": "open"}), 200)
    check(submit(client, ags=LOHNE, service_id="meldebescheinigung", form_data=form("meldebescheinigung")), 201)
    first = eventually(lambda: (r := client.get(worklist, params={"state": "all", "sort": "reference", "limit": 1})).json()["next_cursor"] and r)
    check(first, 200)
    cursor = first.json()["next_cursor"]
    check(client.get(worklist, params={"state": "all", "sort": "reference", "limit": 1, "cursor": cursor}), 200)
    check(client.get(worklist, params={"state": "all", "sort": "due_date", "cursor": cursor}), 400, "invalid_cursor")
    check(client.get(worklist, params={"cursor": "garbage"}), 400, "invalid_cursor")
    for bad in ({"limit": "0"}, {"limit": "501"}, {"limit": "viele"}, {"sort": "name"}, {"order": "up"}, {"state": "x"}, {"status": "done"}):
        check(client.get(worklist, params=bad), 400, "invalid_parameter")
    check(client.get("/api/v1/tenants/99999999/worklist"), 404, "unknown_tenant")
    check(client.get("/api/v1/tenants/lohne/worklist"), 404, "unknown_tenant")


def run_catalog_and_operations_requests(client: httpx.Client, check: Contract) -> None:
    tenants = check(client.get("/api/v1/tenants"), 200).json()["items"]
    assert {VECHTA, LOHNE, LK_VECHTA} <= {t["ags"] for t in tenants}
    check(client.get(f"/api/v1/tenants/{VECHTA}"), 200)
    assert check(client.get(f"/api/v1/tenants/{LK_VECHTA}"), 200).json()["district_ags"] is None
    check(client.get("/api/v1/tenants/99999999"), 404, "unknown_tenant")
    check(client.get("/api/v1/tenants/vechta", headers={"Accept-Language": "en"}), 404, "unknown_tenant")

    services = check(client.get("/api/v1/services"), 200).json()["items"]
    assert "hundeanmeldung" in {s["service_id"] for s in services}
    check(client.get("/api/v1/services/hundeanmeldung"), 200)
    check(client.get("/api/v1/services/meldebescheinigung", params={"version": 1}), 200)
    check(client.get("/api/v1/services/meldebescheinigung", params={"version": 0}), 200)
    check(client.get("/api/v1/services/hundeanmeldung", params={"version": "eins"}), 400, "invalid_parameter")
    check(client.get("/api/v1/services/hundeanmeldung", params={"version": 99}), 404, "unknown_service")
    check(client.get("/api/v1/services/drachenanmeldung"), 404, "unknown_service")

    check(client.get("/health/live"), 200)
    check(client.get("/health/ready", headers={"X-Correlation-ID": "contract-ready"}), 200)

    # the catch-all: unknown paths and undocumented methods
    undocumented: list[Callable[[], httpx.Response]] = [
        lambda: client.get("/api/v1/nothing-here"),
        lambda: client.get(f"/api/v1/cases/{uuid.uuid4()}/actions"),
        lambda: client.delete(f"/api/v1/tenants/{VECHTA}/cases"),
        lambda: client.put("/health/ready"),
        lambda: client.post("/api/v1/tenants", json={}),
        lambda: client.get(f"/api/v1/cases/{uuid.uuid4()}/actions/approve"),
    ]
    for request in undocumented:
        check(request())
    # every documented path answers an undocumented method with 405 and the right Allow header
    for path, item in SPEC["paths"].items():
        concrete = re.sub(r"\{\w+\}", "x1", path)
        unused = next(m for m in ("delete", "put", "patch", "post", "get") if m not in item)
        check(client.request(unused.upper(), concrete, json={} if unused in ("put", "patch", "post") else None), 405, "method_not_allowed")


def run_search_and_browse_requests(client: httpx.Client, check: Contract) -> None:
    services = f"/api/v1/tenants/{VECHTA}/services"
    offered = check(client.get(services), 200).json()["items"]
    assert "hundeanmeldung" in {o["service_id"] for o in offered}
    hits = check(client.get(services, params={"q": "Hund anmelden", "limit": 5}), 200).json()["items"]
    assert "hundeanmeldung" in {hit["service_id"] for hit in hits}
    check(client.get(services, params={"q": "Baugenehmigung", "limit": 10}), 200)
    check(client.get(services, params={"q": ""}), 400, "invalid_query")
    check(client.get(services, params={"q": "x" * 201}), 400, "invalid_query")
    check(client.get(services, params={"limit": "0"}), 400, "invalid_parameter")
    check(client.get("/api/v1/tenants/99999999/services"), 404, "unknown_tenant")

    offering = f"/api/v1/tenants/{VECHTA}/offerings/hundeanmeldung"
    check(client.get(offering), 200)
    check(client.get(offering, params={"at": "2099-01-01T00:00:00+00:00"}), 200)
    check(client.get(offering, params={"at": "2000-01-01T00:00:00+00:00"}), 404, "not_found")
    check(client.get(offering, params={"at": "gestern"}), 400, "invalid_parameter")
    check(client.get(offering, params={"at": "2030-01-01T00:00:00"}), 400, "invalid_parameter")
    check(client.get(f"/api/v1/tenants/{VECHTA}/offerings/baugenehmigung"), 404, "not_found")  # the district's
    check(client.get("/api/v1/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")

    themenfelder = check(client.get("/api/v1/themenfelder"), 200).json()["items"]
    lagen = check(client.get(f"/api/v1/themenfelder/{themenfelder[0]['id']}/lebenslagen"), 200).json()["items"]
    check(client.get("/api/v1/themenfelder/999/lebenslagen"), 404, "not_found")
    check(client.get(f"/api/v1/lebenslagen/{lagen[0]['id']}/leistungen"), 200)
    check(client.get("/api/v1/lebenslagen/99999/leistungen"), 404, "not_found")
    check(client.get("/api/v1/leistungen/10160"), 200)
    check(client.get("/api/v1/leistungen/00000"), 404, "not_found")


def run_admin_requests(client: httpx.Client, check: Contract) -> None:
    """On a tenant of its own, so no other test sees the changes."""
    number = uuid.uuid4().int
    ags = f"0999{number % 10_000:04d}"
    code = "".join(chr(ord("A") + (number >> (5 * i)) % 26) for i in range(5))
    as_json = {"Content-Type": "application/json"}
    tenant = {"ags": ags, "name": "Vertragsdorf", "code": code, "kind": "gemeinde", "district_ags": LK_VECHTA,
              "email": "rathaus@vertragsdorf.example", "website": "https://vertragsdorf.example"}
    created = check(client.post("/api/v1/admin/tenants", json=tenant), 201)
    assert created.headers["Location"] == f"/api/v1/tenants/{ags}"
    check(client.post("/api/v1/admin/tenants", json=tenant), 409, "tenant_exists")
    check(client.post("/api/v1/admin/tenants", json={**tenant, "ags": "123"}), 400, "invalid_parameter")
    check(client.post("/api/v1/admin/tenants", json=[]), 400, "invalid_request")
    check(client.post("/api/v1/admin/tenants", content=b"{x", headers=as_json), 400, "malformed_json")
    check(client.post("/api/v1/admin/tenants", content=b"x" * 1_000_001, headers=as_json), 413, "payload_too_large")
    check(client.post("/api/v1/admin/tenants", content=b"ags=1", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")

    admin = f"/api/v1/admin/tenants/{ags}"
    check(client.patch(admin, json={"phone": "+49 4441 1234"}), 200)
    check(client.patch(admin, json={"colour": "red"}), 400, "invalid_request")
    check(client.patch(admin, content=b"{x", headers=as_json), 400, "malformed_json")
    check(client.patch(admin, content=b"x" * 1_000_001, headers=as_json), 413, "payload_too_large")
    check(client.patch(admin, content=b"phone=1", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    check(client.patch("/api/v1/admin/tenants/99999999", json={"phone": "1"}), 404, "unknown_tenant")
    check(client.get(f"/api/v1/tenants/{ags}"), 200)

    offering = f"{admin}/offerings/hundeanmeldung"
    check(client.put(offering), 200)
    assert check(client.put(offering, json={"fee_cents": 1500, "reason": "Satzung 2027"}), 200).json()["fee_cents"] == 1500
    check(client.put(offering, json={"fee_cents": -1}), 400, "invalid_parameter")
    check(client.put(offering, json=[]), 400, "invalid_request")
    check(client.put(offering, content=b"{x", headers=as_json), 400, "malformed_json")
    check(client.put(offering, content=b"x" * 1_000_001, headers=as_json), 413, "payload_too_large")
    check(client.put(offering, content=b"fee=1", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    check(client.put(f"{admin}/offerings/drachenanmeldung"), 404, "unknown_service")
    check(client.put("/api/v1/admin/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")
    check(submit(client, ags=ags), 201)

    assert check(client.delete(offering, params={"reason": "Umstellung"}), 200).json()["active"] is False
    check(client.delete(f"{admin}/offerings/melde_bescheinigung"), 400, "invalid_parameter")
    check(client.delete(f"{admin}/offerings/meldebescheinigung"), 404, "service_not_offered")
    check(client.delete("/api/v1/admin/tenants/99999999/offerings/hundeanmeldung"), 404, "unknown_tenant")
    # the submissions service caches catalog answers for a few seconds (OfferingCache.ttl)
    key = uuid.uuid4().hex
    refused = eventually(lambda: (r := submit(client, ags=ags, key=key)).status_code == 404 and r, timeout=30, interval=0.5)
    check(refused, 404, "service_not_offered")
    check(client.get(f"/api/v1/tenants/{ags}/services"), 200)
