"""OParl 1.1 objects → the read model's rows: checked, trimmed, and given short local ids.

Why its own pure module: a council information system is another organisation's software,
so nothing it sends is trusted. Each object is checked here (id an http(s) URL, the type
it claims, strings where strings belong, date-times that parse); an object that fails
raises :class:`BadObject` and the sync skips and counts it. Embedded objects (a meeting's
agenda items and files, a paper's consultations and files) that fail are left out of their
parent and reported in ``skipped``. Texts stay as sent (HTML included): pages escape them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

TYPE_PREFIXES = ("https://schema.oparl.org/1.1/", "https://schema.oparl.org/1.0/", "http://oparl.org/schema/1.0/")
TEXT_LIMIT = 1000
NAME_LIMIT = 500


class BadObject(Exception):
    """An object the sync cannot use (its id, for the log, and a short reason)."""

    def __init__(self, kind: str, object_id: str, reason: str):
        super().__init__(f"{kind} {object_id}: {reason}")
        self.kind, self.object_id, self.reason = kind, object_id, reason


def local_id(oparl_id: str) -> str:
    """A short, stable id for URLs of the platform (the OParl id is a long URL)."""
    return hashlib.sha256(oparl_id.encode("utf-8")).hexdigest()[:20]


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= 1000 and " " not in value:
        return value
    return None


def object_id(obj: Any, kind: str) -> str:
    """The object's id, or BadObject (also when it claims another type)."""
    if not isinstance(obj, dict):
        raise BadObject(kind, "?", "not an object")
    found = _url(obj.get("id"))
    if found is None:
        raise BadObject(kind, str(obj.get("id"))[:200], "id is no http(s) URL")
    claimed = obj.get("type")
    if not isinstance(claimed, str) or not any(claimed == p + kind for p in TYPE_PREFIXES):
        raise BadObject(kind, found, f"type is not {kind}")
    return found


def _text(obj: dict[str, Any], key: str, kind: str, oid: str, limit: int = NAME_LIMIT, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise BadObject(kind, oid, f"{key} missing")
        return ""
    if not isinstance(value, str):
        raise BadObject(kind, oid, f"{key} is not a string")
    return " ".join(value.split())[:limit]


def _instant(obj: dict[str, Any], key: str, kind: str, oid: str) -> str | None:
    """An OParl date-time (or date) as ISO text, None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadObject(kind, oid, f"{key} is not a date-time")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise BadObject(kind, oid, f"{key} is not a date-time") from None


def _urls(value: Any) -> list[str]:
    return [u for u in (value if isinstance(value, list) else []) if _url(u)][:50]


def file_row(obj: Any) -> dict[str, Any]:
    oid = object_id(obj, "File")
    access = _url(obj.get("accessUrl"))
    if access is None:
        raise BadObject("File", oid, "accessUrl missing")
    size = obj.get("size")
    return {
        "id": local_id(oid),
        "oparl_id": oid,
        "name": _text(obj, "name", "File", oid) or _text(obj, "fileName", "File", oid) or "Datei",
        "file_name": _text(obj, "fileName", "File", oid),
        "mime_type": _text(obj, "mimeType", "File", oid, 100),
        "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        "access_url": access,
        "download_url": _url(obj.get("downloadUrl")),
    }


def _files(values: list[Any], skipped: list[BadObject]) -> list[dict[str, Any]]:
    files = []
    for value in values[:100]:
        try:
            files.append(file_row(value))
        except BadObject as bad:
            skipped.append(bad)
    return files


def _deleted(obj: dict[str, Any]) -> bool:
    return obj.get("deleted") is True


def organization_row(obj: Any) -> dict[str, Any]:
    oid = object_id(obj, "Organization")
    return {
        "id": local_id(oid),
        "oparl_id": oid,
        "deleted": _deleted(obj),
        "name": _text(obj, "name", "Organization", oid, required=not _deleted(obj)),
        "short_name": _text(obj, "shortName", "Organization", oid, 100),
        "classification": _text(obj, "classification", "Organization", oid, 100),
        "modified": _instant(obj, "modified", "Organization", oid),
    }


def agenda_item_row(obj: Any, position: int) -> dict[str, Any]:
    oid = object_id(obj, "AgendaItem")
    public = obj.get("public")
    return {
        "id": local_id(oid),
        "oparl_id": oid,
        "position": position,
        "number": _text(obj, "number", "AgendaItem", oid, 20),
        "name": _text(obj, "name", "AgendaItem", oid),
        "public": public if isinstance(public, bool) else True,
        "result": _text(obj, "result", "AgendaItem", oid, 200),
        "resolution_text": _text(obj, "resolutionText", "AgendaItem", oid, TEXT_LIMIT),
        "consultation": _url(obj.get("consultation")),
    }


def meeting_row(obj: Any) -> tuple[dict[str, Any], list[BadObject]]:
    """A meeting with its agenda and files; what failed inside is in the second value."""
    oid = object_id(obj, "Meeting")
    skipped: list[BadObject] = []
    agenda = []
    items = obj.get("agendaItem") if isinstance(obj.get("agendaItem"), list) else []
    for position, item in enumerate(items[:300]):
        try:
            agenda.append(agenda_item_row(item, position))
        except BadObject as bad:
            skipped.append(bad)
    single = [obj[key] for key in ("invitation", "resultsProtocol", "verbatimProtocol") if isinstance(obj.get(key), dict)]
    aux = obj.get("auxiliaryFile") if isinstance(obj.get("auxiliaryFile"), list) else []
    cancelled = obj.get("cancelled")
    location = obj.get("location") if isinstance(obj.get("location"), dict) else {}
    row = {
        "id": local_id(oid),
        "oparl_id": oid,
        "deleted": _deleted(obj),
        "name": _text(obj, "name", "Meeting", oid),
        "meeting_state": _text(obj, "meetingState", "Meeting", oid, 100),
        "cancelled": cancelled is True,
        "start": _instant(obj, "start", "Meeting", oid),
        "end": _instant(obj, "end", "Meeting", oid),
        "location": _text(location, "description", "Location", oid) if location else "",
        "organizations": [local_id(u) for u in _urls(obj.get("organization"))],
        "agenda": agenda,
        "files": _files([*single, *aux], skipped),
        "modified": _instant(obj, "modified", "Meeting", oid),
    }
    if not row["deleted"] and row["start"] is None:
        raise BadObject("Meeting", oid, "start missing")
    return row, skipped


def consultation_row(obj: Any) -> dict[str, Any]:
    oid = object_id(obj, "Consultation")
    return {
        "id": local_id(oid),
        "oparl_id": oid,
        "meeting": local_id(u) if (u := _url(obj.get("meeting"))) else None,
        "agenda_item": local_id(u) if (u := _url(obj.get("agendaItem"))) else None,
        "organizations": [local_id(u) for u in _urls(obj.get("organization"))],
        "role": _text(obj, "role", "Consultation", oid, 200),
        "authoritative": obj.get("authoritative") is True,
    }


def paper_row(obj: Any) -> tuple[dict[str, Any], list[BadObject]]:
    oid = object_id(obj, "Paper")
    skipped: list[BadObject] = []
    consultations = []
    values = obj.get("consultation") if isinstance(obj.get("consultation"), list) else []
    for value in values[:100]:
        try:
            consultations.append(consultation_row(value))
        except BadObject as bad:
            skipped.append(bad)
    main = [obj["mainFile"]] if isinstance(obj.get("mainFile"), dict) else []
    aux = obj.get("auxiliaryFile") if isinstance(obj.get("auxiliaryFile"), list) else []
    deleted = _deleted(obj)
    return {
        "id": local_id(oid),
        "oparl_id": oid,
        "deleted": deleted,
        "name": _text(obj, "name", "Paper", oid, required=not deleted),
        "reference": _text(obj, "reference", "Paper", oid, 100),
        "paper_type": _text(obj, "paperType", "Paper", oid, 200),
        "date": (_instant(obj, "date", "Paper", oid) or "")[:10] or None,
        "consultations": consultations,
        "files": _files([*main, *aux], skipped),
        "modified": _instant(obj, "modified", "Paper", oid),
    }, skipped
