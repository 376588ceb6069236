"""The catalog application on every backend: offerings are event-sourced per tenant, routing
follows the responsibility table, history answers 'what was offered on date X'."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.catalog.application import CatalogApp
from services.catalog.search import ServiceFinder
from services.common.problems import DomainError
from tests.integration.conftest import publish_new_version

VECHTA, LOHNE, LK_VECHTA, BAKUM, CLOPPENBURG = "03460009", "03460006", "03460000", "03460001", "03453004"


def test_every_tenant_offers_the_services_of_its_level(catalog: CatalogApp) -> None:
    assert len(catalog.tenants()) == 25
    vechta = {o["service_id"] for o in catalog.view.offerings_of(VECHTA)}
    district = {o["service_id"] for o in catalog.view.offerings_of(LK_VECHTA)}
    assert {"hundeanmeldung", "meldebescheinigung", "gewerbeanmeldung", "briefwahl"} <= vechta
    assert {"elterngeld", "baugenehmigung"} <= district and "elterngeld" not in vechta
    assert catalog.sync_offerings() == 0  # idempotent


def test_routing_to_the_responsible_authority(catalog: CatalogApp) -> None:
    assert catalog.resolve(BAKUM, "elterngeld")["tenant"] == LK_VECHTA
    assert catalog.resolve(BAKUM, "hundeanmeldung")["tenant"] == BAKUM
    assert catalog.resolve(CLOPPENBURG, "elterngeld")["tenant"] == "03453000"
    assert catalog.resolve(LK_VECHTA, "elterngeld")["tenant_code"] == "LKV"


def test_fee_changes_and_withdrawals_are_history(catalog: CatalogApp) -> None:
    before = datetime.now(UTC)
    original = catalog.offering(VECHTA, "gewerbeanmeldung")["fee_cents"]
    catalog.change_fee(VECHTA, "gewerbeanmeldung", original + 400, "Gebührensatzung 2027")
    assert catalog.resolve(VECHTA, "gewerbeanmeldung")["fee_cents"] == original + 400
    assert catalog.resolve(LOHNE, "gewerbeanmeldung")["fee_cents"] == original  # other tenants unaffected
    assert catalog.offering_as_of(VECHTA, "gewerbeanmeldung", before)["fee_cents"] == original
    assert catalog.offering_as_of(VECHTA, "gewerbeanmeldung", datetime.now(UTC))["fee_cents"] == original + 400
    assert catalog.offering_as_of(VECHTA, "gewerbeanmeldung", datetime(2000, 1, 1, tzinfo=UTC)) is None

    catalog.withdraw_offering(VECHTA, "bewohnerparkausweis", "vorübergehend nur telefonisch")
    with pytest.raises(DomainError) as refused:
        catalog.resolve(VECHTA, "bewohnerparkausweis")
    assert refused.value.code == "service_not_offered"
    assert refused.value.params["contact"]["ags"] == VECHTA and refused.value.params["email"]
    assert catalog.sync_offerings() == 0  # a withdrawal is not undone by the import
    catalog.offer(VECHTA, "bewohnerparkausweis")
    assert catalog.resolve(VECHTA, "bewohnerparkausweis")["service_id"] == "bewohnerparkausweis"
    with pytest.raises(DomainError):
        catalog.change_fee(VECHTA, "gewerbeanmeldung", -5, "")


def test_resolve_names_the_fee_and_its_refund_rule(catalog: CatalogApp) -> None:
    paid = catalog.resolve(VECHTA, "fuehrungszeugnis")
    assert (paid["fee_cents"], paid["refund_on"]) == (1300, {"rejected": "full", "withdrawn": "full"})
    assert catalog.resolve(VECHTA, "hundeanmeldung")["refund_on"] == {}


def test_a_new_form_version_reaches_every_offering(catalog: CatalogApp) -> None:
    version = publish_new_version(catalog, "hundeanmeldung")
    assert catalog.resolve(VECHTA, "hundeanmeldung")["form_version"] == 1  # not yet adopted
    assert catalog.sync_offerings() == 23
    assert catalog.resolve(VECHTA, "hundeanmeldung")["form_version"] == version
    assert catalog.definition("hundeanmeldung", 1)["version"] == 1  # old versions stay readable


def test_tenant_administration_validates(catalog: CatalogApp) -> None:
    tenant = catalog.register_tenant(
        {"ags": "05315000", "name": "Köln", "code": "KLN", "kind": "gemeinde", "email": "info@koeln.example"}
    )
    assert tenant["email"] == "info@koeln.example"
    for bad, code in [
        ({"ags": "05315000", "name": "Köln", "code": "KLX", "kind": "gemeinde"}, "tenant_exists"),
        ({"ags": "123", "name": "X", "code": "XX", "kind": "gemeinde"}, "invalid_parameter"),
        ({"ags": "05315001", "name": "X", "code": "VEC", "kind": "gemeinde"}, "invalid_parameter"),
        ({"ags": "05315001", "name": "X", "code": "XY", "kind": "stadtstaat"}, "invalid_parameter"),
        ({"ags": "05315001", "name": "X", "code": "XY", "kind": "gemeinde", "district_ags": VECHTA}, "invalid_parameter"),
    ]:
        with pytest.raises(DomainError) as refused:
            catalog.register_tenant(bad)
        assert refused.value.code == code
    updated = catalog.update_tenant_profile("05315000", {"opening_hours": "Mo–Fr 8–16 Uhr"})
    assert updated["opening_hours"] == "Mo–Fr 8–16 Uhr" and updated["email"] == "info@koeln.example"


def test_many_tenants_register_in_batches_and_share_their_offerings_lists(catalog: CatalogApp) -> None:
    """A Land's municipalities at once (register_tenants); twice in one batch is refused
    before anything is saved. Equal attachment lists are one object in the view (memory)."""
    rows = [{"ags": f"0531600{n}", "name": f"Ort {n}", "code": f"ORT{n}", "kind": "gemeinde"} for n in range(3)]
    assert [t["ags"] for t in catalog.register_tenants(rows, batch=2)] == [r["ags"] for r in rows]
    with pytest.raises(DomainError) as refused:
        catalog.register_tenants([{**rows[0], "ags": "05316010"}, {**rows[0], "ags": "05316011", "code": "ORT9"}])
    assert refused.value.code == "invalid_parameter"  # ORT0 is taken
    twice = {"ags": "05316020", "name": "Doppelt", "code": "DOP", "kind": "gemeinde"}
    with pytest.raises(DomainError) as refused:
        catalog.register_tenants([twice, twice])
    assert refused.value.code == "tenant_exists" and catalog.view.tenant("05316020") is None
    catalog.sync_offerings()
    first, second = (catalog.view.offering(r["ags"], "hundeanmeldung") for r in rows[:2])
    assert first["attachments"] and first["attachments"] is second["attachments"]


def test_search_ranks_own_then_district_then_catalog(catalog: CatalogApp) -> None:
    finder = ServiceFinder(catalog)
    (first, *_) = finder.search(BAKUM, "Elterngeld")
    assert (first["service_id"], first["responsible"]["ags"], first["online"]) == ("elterngeld", LK_VECHTA, True)
    assert finder.search(VECHTA, "Hund anmelden")[0]["service_id"] == "hundeanmeldung"
    offline = [hit for hit in finder.search(VECHTA, "Fischereischein") if not hit["online"]]
    assert offline and offline[0]["service_id"] is None and offline[0]["contact"]["ags"] == VECHTA
    for bad in ("", "   ", "x" * 500):
        with pytest.raises(DomainError) as refused:
            finder.search(VECHTA, bad)
        assert refused.value.code == "invalid_query"
    with pytest.raises(DomainError):
        finder.search("99999999", "Hund")
