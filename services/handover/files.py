"""The file export for back-office systems that only read files, and the submission API's
client that feeds it (also the demo client, ``deploy/handover_client.py``).

The export is an ordinary client of the submission API: it fetches, writes one file per
submission (JSON, or XML after ``contracts/handover/submission.v1.xsd``) atomically under a
name that is the case's reference, and only then acknowledges. A crash between writing and
acknowledging gets the submission again after the lease; it overwrites the same file (marked
``redelivered``), so a file reader never sees a case twice under two names. Plain process,
no eventlet (httpx).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx

XML_NAMESPACE = "https://virtuelles-rathaus.de/schemas/handover/v1"
FORMATS = ("json", "xml")


class SubmissionApi:
    """The submission API of the gateway, as a back-office client (HTTP Basic)."""

    def __init__(self, base_url: str, client_id: str, secret: str, timeout: float = 30.0):
        self.http = httpx.Client(base_url=base_url, auth=(client_id, secret), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def fetch(self, limit: int = 10) -> list[dict[str, Any]]:
        response = self.http.post("/api/v1/handover/fetch", json={"limit": limit})
        response.raise_for_status()
        return response.json()["submissions"]

    def attachment(self, case_id: str, attachment_id: str) -> bytes:
        response = self.http.get(f"/api/v1/handover/submissions/{case_id}/attachments/{attachment_id}")
        response.raise_for_status()
        return response.content

    def acknowledge(self, case_id: str) -> dict[str, Any]:
        response = self.http.post(f"/api/v1/handover/submissions/{case_id}/ack")
        response.raise_for_status()
        return response.json()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict | list):
        return "json"
    return "string"


def render_xml(submission: dict[str, Any]) -> bytes:
    """One submission as XML (``contracts/handover/submission.v1.xsd``): the case, the
    applicant's contact, the service's form fields by name (the form of each service is its
    definition in the catalog, ``GET /api/v1/services/{service_id}?version=…``), the decision."""
    case, contents = submission["case"], submission.get("contents") or {}
    root = ET.Element(f"{{{XML_NAMESPACE}}}Uebergabe", {"version": "1"})
    ET.SubElement(root, f"{{{XML_NAMESPACE}}}Antrag", {
        "id": submission["case_id"], "aktenzeichen": case["reference"], "behoerde": case["tenant"],
        "portal": case["portal"], "leistung": case["service_id"], "formularversion": str(case["form_version"]),
        "eingegangen": case["submitted_at"], "ergebnis": submission["outcome"],
        "entschieden": submission["decided_at"], "gebuehrCent": str(case["fee_cents"]),
        "zustellung": str(submission["delivery"]), "erneut": _text(submission["redelivered"]),
    })
    applicant = ET.SubElement(root, f"{{{XML_NAMESPACE}}}Antragsteller")
    for key, value in sorted((contents.get("applicant") or {}).items()):
        ET.SubElement(applicant, f"{{{XML_NAMESPACE}}}Angabe", {"name": key}).text = _text(value)
    formular = ET.SubElement(root, f"{{{XML_NAMESPACE}}}Formular",
                             {"leistung": case["service_id"], "version": str(case["form_version"])})
    for key, value in sorted((contents.get("form_data") or {}).items()):
        ET.SubElement(formular, f"{{{XML_NAMESPACE}}}Feld", {"name": key, "typ": _kind(value)}).text = _text(value)
    ET.SubElement(root, f"{{{XML_NAMESPACE}}}Bescheid").text = _text(contents.get("decision"))
    files = ET.SubElement(root, f"{{{XML_NAMESPACE}}}Anlagen")
    for attachment_id in submission.get("attachments", []):
        ET.SubElement(files, f"{{{XML_NAMESPACE}}}Anlage", {"id": attachment_id})
    ET.register_namespace("", XML_NAMESPACE)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_json(submission: dict[str, Any]) -> bytes:
    return json.dumps(submission, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def file_name(submission: dict[str, Any], fmt: str) -> str:
    reference = re.sub(r"[^A-Za-z0-9-]", "_", str(submission["case"]["reference"]))
    return f"{reference}.{fmt}"


def _write_atomically(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def export_once(api: SubmissionApi, directory: Path, fmt: str = "xml", limit: int = 50) -> list[Path]:
    """Fetch what waits, write each as a file (and its attachments beside it), acknowledge."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for submission in api.fetch(limit):
        path = directory / file_name(submission, fmt)
        for attachment_id in submission.get("attachments", []):
            _write_atomically(directory / f"{path.stem}.{attachment_id}.bin",
                              api.attachment(submission["case_id"], attachment_id))
        _write_atomically(path, render_xml(submission) if fmt == "xml" else render_json(submission))
        api.acknowledge(submission["case_id"])
        written.append(path)
    return written
