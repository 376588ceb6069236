"""The hand-over file export's XML against contracts/handover/submission.v1.xsd (structure:
elements in the schema's order, every attribute declared, every required one present — no
XSD validator is among the pinned dependencies) and its file names."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from services.handover.files import XML_NAMESPACE, file_name, render_json, render_xml

XSD = Path(__file__).resolve().parents[2] / "contracts" / "handover" / "submission.v1.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"
SUBMISSION = {
    "case_id": "6f1c2a4e-0000-4000-8000-000000000001", "submission_id": "6f1c2a4e-0000-4000-8000-000000000001",
    "tenant": "03460009", "service_id": "hundeanmeldung", "outcome": "approved",
    "decided_at": "2026-11-25T09:00:00+00:00", "offered_at": "2026-11-25T09:00:01+00:00", "delivery": 2,
    "redelivered": True, "lease_until": None, "acknowledged_at": None,
    "case": {"reference": "VEC-2026-000007", "tenant": "03460009", "portal": "03460009", "service_id": "hundeanmeldung",
             "form_version": 1, "submitted_at": "2026-11-20T08:00:00+00:00", "fee_cents": 0},
    "contents": {"applicant": {"name": "Erika Mustermann"}, "decision": "Bewilligt.",
                 "form_data": {"dog_name": "Bello", "is_dangerous": False, "dogs_in_household": 1,
                               "copy": {"attachment_id": "a1"}}},
    "attachments": ["a1"],
}


def declared(element: ET.Element) -> tuple[list[str], dict[str, bool]]:
    """Child element names (in order) and attributes (name → required) of an xs:element."""
    children = [e.get("name") for e in element.iter(f"{XS}element") if e is not element and e.get("name")]
    attributes = {a.get("name"): a.get("use") == "required" for a in element.iter(f"{XS}attribute")}
    return children, attributes


def test_the_xml_export_follows_its_schema() -> None:
    schema = ET.parse(XSD).getroot()
    top = schema.find(f"{XS}element[@name='Uebergabe']")
    sequence = [e.get("name") for e in top.find(f"{XS}complexType/{XS}sequence").findall(f"{XS}element")]
    root = ET.fromstring(render_xml(SUBMISSION))
    ns = f"{{{XML_NAMESPACE}}}"
    assert root.tag == f"{ns}Uebergabe" and root.get("version") == "1"
    assert [child.tag.removeprefix(ns) for child in root] == sequence
    for child in root:
        spec = top.find(f".//{XS}element[@name='{child.tag.removeprefix(ns)}']")
        _, attributes = declared(spec)
        own = {a: r for a, r in attributes.items() if spec.find(f"{XS}complexType/{XS}attribute[@name='{a}']") is not None}
        assert set(child.attrib) <= set(attributes), child.attrib
        assert {a for a, required in own.items() if required} <= set(child.attrib)
    antrag = root.find(f"{ns}Antrag")
    assert (antrag.get("aktenzeichen"), antrag.get("zustellung"), antrag.get("erneut")) == ("VEC-2026-000007", "2", "true")
    fields = {f.get("name"): (f.get("typ"), f.text) for f in root.find(f"{ns}Formular")}
    assert fields["is_dangerous"] == ("boolean", "false") and fields["dogs_in_household"] == ("number", "1")
    assert json.loads(fields["copy"][1]) == {"attachment_id": "a1"}
    assert [a.get("id") for a in root.find(f"{ns}Anlagen")] == ["a1"]


def test_files_are_named_after_the_reference_so_a_redelivery_overwrites_its_own() -> None:
    assert file_name(SUBMISSION, "xml") == "VEC-2026-000007.xml"
    assert json.loads(render_json(SUBMISSION))["case"]["reference"] == "VEC-2026-000007"
