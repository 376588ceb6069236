"""CatalogService in a nameko container on RabbitMQ and PostgreSQL: tenants, definitions,
and who is responsible for what."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook
from nameko.testing.utils import get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided, domain_error
from services.common.problems import DomainError
from tests.interface.conftest import BAKUM, LK_VECHTA, VECHTA


@pytest.fixture
def catalog(start_container) -> Any:
    return start_container(CatalogService)


def catalog_app(container: Any) -> Any:
    """The container's eventsourcing application (the one ``Provided`` dependency)."""
    instance = get_extension(container, Provided).instance
    return getattr(instance, "app", instance)


def call(container: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    with entrypoint_hook(container, method) as hook:
        return hook(*args, **kwargs)


def test_get_tenant(catalog) -> None:
    tenant = call(catalog, "get_tenant", VECHTA)
    assert (tenant["ags"], tenant["code"], tenant["name"]) == (VECHTA, "VEC", "Vechta")
    assert (tenant["kind"], tenant["district_ags"]) == ("gemeinde", LK_VECHTA)
    assert tenant["email"] == "buergerbuero@vechta.example"  # profile columns are flattened in


def test_unknown_tenant_is_a_domain_error(catalog, nameko_config) -> None:
    with pytest.raises(DomainError) as raised:
        call(catalog, "get_tenant", "09999999")
    assert (raised.value.code, raised.value.params) == ("unknown_tenant", {"ags": "09999999"})

    # over the wire it is an expected error that the callers can turn back into a DomainError
    with ServiceRpcProxy("catalog", nameko_config) as rpc, pytest.raises(RemoteError) as remote:
        rpc.get_tenant("09999999")
    assert remote.value.exc_type == "DomainError"
    error = domain_error(remote.value)
    assert error is not None and error.code == "unknown_tenant" and error.status == 404


def test_list_tenants(catalog) -> None:
    tenants = call(catalog, "list_tenants")
    assert len(tenants) == 25
    assert [t["ags"] for t in tenants] == sorted(t["ags"] for t in tenants)
    assert {t["kind"] for t in tenants} == {"gemeinde", "landkreis"}
    assert sum(t["kind"] == "landkreis" for t in tenants) == 2


def test_get_definition_with_json_schema_form(catalog) -> None:
    definition = call(catalog, "get_definition", "hundeanmeldung", 1)
    assert (definition["service_id"], definition["version"]) == ("hundeanmeldung", 1)
    form = definition["form"]
    assert form["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(form)
    assert form["type"] == "object" and "dog_name" in form["required"]
    assert definition["published_at"]
    assert call(catalog, "get_definition", "hundeanmeldung") == definition  # current version


def test_unknown_definition_and_version(catalog) -> None:
    with pytest.raises(DomainError) as raised:
        call(catalog, "get_definition", "no-such-service")
    assert raised.value.code == "unknown_service"
    with pytest.raises(DomainError) as raised:
        call(catalog, "get_definition", "hundeanmeldung", 99)
    assert raised.value.code == "unknown_service"  # a version never published: no such form


def test_list_services(catalog) -> None:
    services = call(catalog, "list_services")
    ids = [s["service_id"] for s in services]
    assert ids == sorted(ids) and {"hundeanmeldung", "elterngeld", "meldebescheinigung"} <= set(ids)
    assert "form" not in services[0]


def test_resolve_landkreis_service_goes_to_the_district(catalog) -> None:
    offering = call(catalog, "resolve", BAKUM, "elterngeld")
    assert offering["portal"] == BAKUM
    assert (offering["tenant"], offering["tenant_code"]) == (LK_VECHTA, "LKV")
    assert offering["service_id"] == "elterngeld" and offering["form_version"] == 1
    assert offering["form"]["type"] == "object"
    definition = call(catalog, "get_definition", "elterngeld")
    assert definition["responsible_level"] == "landkreis"


def test_resolve_gemeinde_service_stays_with_the_portal(catalog) -> None:
    offering = call(catalog, "resolve", BAKUM, "hundeanmeldung")
    assert (offering["portal"], offering["tenant"], offering["tenant_code"]) == (BAKUM, BAKUM, "BAK")
    assert offering["fee_cents"] == 0 and offering["processing_days"] > 0
    offering = call(catalog, "resolve", VECHTA, "meldebescheinigung")
    assert (offering["tenant"], offering["tenant_code"], offering["fee_cents"]) == (VECHTA, "VEC", 700)


def test_resolve_at_the_district_portal_stays_with_the_district(catalog) -> None:
    offering = call(catalog, "resolve", LK_VECHTA, "elterngeld")
    assert (offering["portal"], offering["tenant"]) == (LK_VECHTA, LK_VECHTA)


def test_resolve_errors(catalog) -> None:
    with pytest.raises(DomainError) as raised:
        call(catalog, "resolve", "09999999", "hundeanmeldung")
    assert raised.value.code == "unknown_tenant"
    with pytest.raises(DomainError) as raised:
        call(catalog, "resolve", VECHTA, "no-such-service")
    assert raised.value.code == "unknown_service"


def test_rpc_over_rabbitmq(catalog, nameko_config) -> None:
    with ServiceRpcProxy("catalog", nameko_config) as rpc:
        assert rpc.ping() == "catalog"
        assert rpc.get_tenant(VECHTA)["code"] == "VEC"
        assert rpc.resolve(BAKUM, "elterngeld")["tenant"] == LK_VECHTA


def test_import_is_idempotent_across_restarts(start_container) -> None:
    first = start_container(CatalogService)
    head = catalog_app(first).recorder.max_notification_id()
    assert head and head >= 25 + 14  # tenants and definitions (and whatever else is imported)
    first.stop()

    second = start_container(CatalogService)
    assert catalog_app(second).recorder.max_notification_id() == head  # nothing imported twice
    assert len(call(second, "list_tenants")) == 25
