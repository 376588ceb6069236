"""The fixture: Stadt Cloppenburg's council — 1 body, 3 committees, 20 meetings with agendas,
40 papers with consultations, files — as OParl 1.1 objects.

Why generated: deterministic for a given day (meetings lie around "today", half of them
past, half upcoming), so pages always show next meetings; the objects' ``modified`` stamps
are fixed, so an incremental sync fetches nothing until ``touch`` changes an object.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

SCHEMA = "https://schema.oparl.org/1.1/"
BASE_MODIFIED = "2026-01-05T09:00:00+01:00"
COMMITTEES = (
    ("Rat der Stadt Cloppenburg", "Rat", "Parlament"),
    ("Verwaltungsausschuss", "VA", "Hauptausschuss"),
    ("Ausschuss für Planung, Umwelt und Bau", "PUB", "Ausschuss"),
)
TOPICS = (
    "Haushaltssatzung und Haushaltsplan", "Bebauungsplan Nr. 12 „Am Stadtpark“", "Sanierung der Grundschule Galgenmoor",
    "Radverkehrskonzept der Stadt", "Zuschuss für den Heimatverein", "Erweiterung der Kindertagesstätte St. Josef",
    "Straßenausbau Eschstraße", "Feuerwehrbedarfsplan", "Städtebauförderung Innenstadt",
    "Klimaschutzkonzept: Fortschreibung", "Friedhofsgebührensatzung", "Wohnbaugebiet Emstekerfeld",
    "Anfrage zur Straßenbeleuchtung", "Antrag: Mehr Bänke am Soestenufer", "Jahresabschluss der Stadtwerke",
    "Bürgerhaushalt: Vorschläge", "Digitalisierung der Schulen", "Parkraumkonzept Bahnhof",
    "Spielplatz im Stadtteil Stapelfeld", "Energetische Sanierung des Rathauses",
)
PAPER_TYPES = ("Beschlussvorlage", "Mitteilungsvorlage", "Antrag", "Anfrage")


def _iso(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC).astimezone().isoformat()


def _file(base: str, number: int, name: str, created: str) -> dict[str, Any]:
    return {
        "id": f"{base}/file/{number}", "type": SCHEMA + "File", "name": name, "fileName": f"{number}.pdf",
        "mimeType": "application/pdf", "size": 2048 + number, "accessUrl": f"{base}/files/{number}.pdf",
        "downloadUrl": f"{base}/files/{number}.pdf?download=1", "date": created[:10], "created": created,
        "modified": BASE_MODIFIED,
    }


def build(base: str, today: date | None = None) -> dict[str, Any]:
    """Every object by its id, plus the lists of the body (ids in a stable order)."""
    today = today or date.today()
    api = f"{base}/oparl/v1"
    body_id = f"{api}/body/1"
    objects: dict[str, dict[str, Any]] = {}
    orgs = []
    for n, (name, short, classification) in enumerate(COMMITTEES, 1):
        org = {"id": f"{api}/organization/{n}", "type": SCHEMA + "Organization", "body": body_id, "name": name,
               "shortName": short, "organizationType": "Gremium", "classification": classification,
               "created": BASE_MODIFIED, "modified": BASE_MODIFIED}
        orgs.append(org)
    file_number = 0

    def new_file(name: str, created: str) -> dict[str, Any]:
        nonlocal file_number
        file_number += 1
        made = _file(api, file_number, name, created)
        objects[made["id"]] = made
        return made

    papers = []
    for n in range(1, 41):
        topic = TOPICS[(n - 1) % len(TOPICS)]
        kind = PAPER_TYPES[(n - 1) % len(PAPER_TYPES)]
        published = today - timedelta(days=90 - 2 * n)
        title = f"{topic}" if n <= len(TOPICS) else f"{topic} – Ergänzung"
        if n == 7:
            title = "Straßenausbau Eschstraße <b>(2. Bauabschnitt)</b>"  # HTML from the source: shown as text
        paper = {"id": f"{api}/paper/{n}", "type": SCHEMA + "Paper", "body": body_id, "name": title,
                 "reference": f"{kind[:2].upper()}/{2026}/{n:03d}", "date": published.isoformat(), "paperType": kind,
                 "mainFile": new_file(f"{kind}: {title}", _iso(published, 8)),
                 "auxiliaryFile": [new_file(f"Anlage zu {kind[:2].upper()}/{2026}/{n:03d}", _iso(published, 8))]
                 if n % 3 == 0 else [],
                 "consultation": [], "created": _iso(published, 8), "modified": BASE_MODIFIED}
        papers.append(paper)
    meetings = []
    item_number = consultation_number = 0
    for n in range(1, 21):
        org = orgs[(n - 1) % 3]
        day = today + timedelta(days=7 * (n - 10) - 3)
        start = _iso(day, 17)
        past = day < today
        meeting = {"id": f"{api}/meeting/{n}", "type": SCHEMA + "Meeting",
                   "name": f"{n}. Sitzung – {org['name']}", "meetingState": "durchgeführt" if past else "eingeladen",
                   "cancelled": False, "start": start, "end": _iso(day, 19),
                   "location": {"id": f"{api}/location/1", "type": SCHEMA + "Location",
                                "description": "Rathaus Cloppenburg, Sitzungssaal, Sevelter Straße 8"},
                   "organization": [org["id"]], "invitation": new_file(f"Einladung zur {n}. Sitzung", start),
                   "agendaItem": [], "created": start, "modified": BASE_MODIFIED}
        if past:
            meeting["resultsProtocol"] = new_file(f"Protokoll der {n}. Sitzung", start)
        items = [("1", "Eröffnung und Feststellung der Tagesordnung", None)]
        for k in range(2):
            paper = papers[(2 * (n - 1) + k) % 40]
            items.append((str(k + 2), paper["name"], paper))
        items.append((str(len(items) + 1), "Anfragen und Anregungen", None))
        for number, name, paper in items:
            item_number += 1
            item = {"id": f"{api}/agendaitem/{item_number}", "type": SCHEMA + "AgendaItem", "meeting": meeting["id"],
                    "number": number, "order": int(number), "name": name, "public": True,
                    "created": start, "modified": BASE_MODIFIED}
            if paper is not None:
                consultation_number += 1
                con_id = f"{api}/consultation/{consultation_number}"
                item["consultation"] = con_id
                if past:
                    item["result"] = "Unverändert beschlossen"
                paper["consultation"].append({
                    "id": con_id, "type": SCHEMA + "Consultation", "paper": paper["id"], "agendaItem": item["id"],
                    "meeting": meeting["id"], "organization": [org["id"]], "authoritative": org is orgs[0],
                    "role": "Entscheidung" if org is orgs[0] else "Vorberatung",
                    "created": start, "modified": BASE_MODIFIED})
            meeting["agendaItem"].append(item)
        meetings.append(meeting)
    body = {"id": body_id, "type": SCHEMA + "Body", "system": f"{api}/system", "shortName": "Cloppenburg",
            "name": "Stadt Cloppenburg", "ags": "03453004", "website": "https://www.cloppenburg.de",
            "classification": "Stadt", "organization": f"{body_id}/organizations", "person": f"{body_id}/people",
            "meeting": f"{body_id}/meetings", "paper": f"{body_id}/papers", "legislativeTerm": [
                {"id": f"{api}/legislativeterm/1", "type": SCHEMA + "LegislativeTerm", "body": body_id,
                 "name": "Wahlperiode 2021–2026", "startDate": "2021-11-01", "endDate": "2026-10-31"}],
            "agendaItem": f"{body_id}/agendaitems", "consultation": f"{body_id}/consultations",
            "file": f"{body_id}/files", "locationList": f"{body_id}/locations",
            "legislativeTermList": f"{body_id}/legislativeterms", "membership": f"{body_id}/memberships",
            "created": BASE_MODIFIED, "modified": BASE_MODIFIED}
    system = {"id": f"{api}/system", "type": SCHEMA + "System", "oparlVersion": SCHEMA, "body": f"{api}/bodies",
              "name": "Ratsinformationssystem der Stadt Cloppenburg (Entwicklung)", "vendor": "https://example.org",
              "product": "https://example.org/vr-oparl-testserver", "created": BASE_MODIFIED, "modified": BASE_MODIFIED}
    for obj in (system, body, *orgs, *meetings, *papers):
        objects[obj["id"]] = obj
    for meeting in meetings:
        for item in meeting["agendaItem"]:
            objects[item["id"]] = item
    for paper in papers:
        for con in paper["consultation"]:
            objects[con["id"]] = con
    return {"objects": objects, "system": system, "bodies": [body], "organizations": orgs, "meetings": meetings,
            "papers": papers, "people": [], "empty": []}


def bad_objects(api: str) -> dict[str, list[Any]]:
    """What a broken source sends: an object without id, one with a number as its name,
    a meeting without a start, and a paper whose type is wrong."""
    return {
        "meetings": [{"type": SCHEMA + "Meeting", "name": "Sitzung ohne Kennung"},
                     {"id": f"{api}/meeting/999", "type": SCHEMA + "Meeting", "name": "Ohne Beginn",
                      "modified": "2999-01-01T00:00:00+00:00"}],
        "papers": [{"id": f"{api}/paper/998", "type": SCHEMA + "Paper", "name": 12345,
                    "modified": "2999-01-01T00:00:00+00:00"},
                   {"id": f"{api}/paper/999", "type": SCHEMA + "Meeting", "name": "Falscher Typ",
                    "modified": "2999-01-01T00:00:00+00:00"}],
    }
