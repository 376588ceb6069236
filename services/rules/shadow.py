"""A shadow run's report as CSV (for the spreadsheet of whoever decides to switch a rule
on): the figures first, then one line per disagreement."""

from __future__ import annotations

import csv
import io
from typing import Any

FIGURES = ("cases", "would_act", "compared", "agree", "disagree", "agreement", "rule_version", "from", "to", "run_at")


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["rule_id", "name", *FIGURES])
    writer.writerow([report.get("rule_id", ""), report.get("name", ""), *(_cell(report.get(k)) for k in FIGURES)])
    writer.writerow([])
    writer.writerow(["case_id", "reference", "rule", "clerk", "decided_by"])
    for row in report.get("disagreements", []):
        writer.writerow([row["case_id"], row["reference"], row["rule"], row["clerk"], row["decided_by"]])
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
