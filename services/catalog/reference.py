"""The OZG reference catalog (Themenfelder → Lebenslagen → OZG-Leistungen → LeiKa), read
from the repository's copy of the published data (see data/LICENCE.md). Read-only
reference data: loaded once per process, browsed through the API."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
NO_LEIKA_KEY = "nicht im LeiKa"
# The published source contains a few test rows (see data/LICENCE.md); they are imported
# as data but never shown to citizens.
TEST_ROW = re.compile(r"^[abc]+$")  # placeholder Lebenslagen


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows with stripped values; lines starting with ``#`` are comments."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [{k: (v or "").strip() for k, v in row.items()} for row in rows]


def leika_key(raw: str) -> str | None:
    """The 14-digit LeiKa key, or None for services "nicht im LeiKa"."""
    return raw if raw and raw != NO_LEIKA_KEY else None


def valid_leika_row(row: dict[str, str]) -> bool:
    """A LeiKa row has a 14-digit key or "nicht im LeiKa"; the source has a few test rows."""
    key = row["leika_key"]
    return bool(row["name"]) and (key == NO_LEIKA_KEY or (len(key) == 14 and key.isdigit()))


@dataclass
class ReferenceCatalog:
    themenfelder: dict[str, dict[str, Any]] = field(default_factory=dict)
    lebenslagen: dict[str, dict[str, Any]] = field(default_factory=dict)
    leistungen: dict[str, dict[str, Any]] = field(default_factory=dict)
    leika: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> ReferenceCatalog:
        catalog = cls()
        for row in read_csv(data_dir / "themenfelder.csv"):
            catalog.themenfelder[row["id"]] = {"id": int(row["id"]), "name": row["name"]}
        for row in read_csv(data_dir / "lebenslagen.csv"):
            if TEST_ROW.match(row["name"]):
                continue
            catalog.lebenslagen[row["id"]] = {
                "id": int(row["id"]), "name": row["name"], "themenfeld_id": int(row["themenfeld_id"])
            }
        for row in read_csv(data_dir / "ozg_leistungen.csv"):
            catalog.leistungen[row["ozg_id"]] = {
                "ozg_id": row["ozg_id"], "name": row["name"],
                "lebenslage_id": int(row["lebenslage_id"]) if row["lebenslage_id"].isdigit() else None,
                "prioritaet": row["prioritaet"],
            }
        for row in read_csv(data_dir / "leika_leistungen.csv"):
            if not valid_leika_row(row):
                continue
            key = leika_key(row["leika_key"])
            catalog.leika.setdefault(row["ozg_id"], []).append(
                {"leika_key": key, "name": row["name"], "leika_typ": row["leika_typ"],
                 "rechtsgrundlage": row["rechtsgrundlage"] or None}
            )
        return catalog

    def counts(self) -> dict[str, int]:
        return {
            "themenfelder": len(self.themenfelder),
            "lebenslagen": len(self.lebenslagen),
            "ozg_leistungen": len(self.leistungen),
            "leika_leistungen": sum(len(v) for v in self.leika.values()),
        }

    def lebenslagen_of(self, themenfeld_id: str) -> list[dict[str, Any]] | None:
        if themenfeld_id not in self.themenfelder:
            return None
        return sorted(
            (lage for lage in self.lebenslagen.values() if str(lage["themenfeld_id"]) == themenfeld_id),
            key=lambda lage: lage["name"],
        )

    def leistungen_of(self, lebenslage_id: str) -> list[dict[str, Any]] | None:
        if lebenslage_id not in self.lebenslagen:
            return None
        return sorted(
            (dict(l) for l in self.leistungen.values() if str(l["lebenslage_id"]) == lebenslage_id),  # noqa: E741
            key=lambda leistung: leistung["name"],
        )

    def leistung(self, ozg_id: str) -> dict[str, Any] | None:
        base = self.leistungen.get(ozg_id)
        if base is None:
            return None
        return {**base, "leika": self.leika.get(ozg_id, [])}
