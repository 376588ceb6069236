"""The Grafana dashboards as code: ``python deploy/grafana/dashboards.py`` writes
``deploy/grafana/dashboards/*.json`` (Grafana-importable; provisioned by compose and k8s).

Edit here, not in the JSON: tests/unit/test_grafana_dashboards.py checks that the files are
this module's output, that their structure is what Grafana imports, and that every query
uses a metric of contracts/metrics.yaml.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


class Dashboard:
    """Panels laid out left to right, ``width`` grid units each, in rows of 24."""

    def __init__(self, uid: str, title: str, description: str, tags: list[str]):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels: list[dict[str, Any]] = []
        self.variables: list[dict[str, Any]] = []
        self._x = self._y = self._row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self._add({"type": "row", "title": title, "collapsed": False, "panels": []}, WIDTH, 1)
        self._newline()

    def graph(self, title: str, targets: list[tuple[str, str]], unit: str = "short", width: int = 12,
              description: str = "", stack: bool = False) -> None:
        self._add({
            "type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
            "fieldConfig": {"defaults": {"unit": unit, "custom": {"stacking": {"mode": "normal" if stack else "none"}}},
                            "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": self._targets(targets),
        }, width, 8)

    def stat(self, title: str, expr: str, unit: str = "short", width: int = 6, thresholds: tuple[float, ...] = (),
             description: str = "") -> None:
        steps = [{"color": "green", "value": None}] + [
            {"color": color, "value": value} for color, value in zip(("orange", "red"), thresholds, strict=False)
        ]
        self._add({
            "type": "stat", "title": title, "description": description, "datasource": DATASOURCE,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
            "targets": self._targets([(expr, title)]),
        }, width, 4)

    def table(self, title: str, expr: str, width: int = 24, description: str = "") -> None:
        self._add({
            "type": "table", "title": title, "description": description, "datasource": DATASOURCE,
            "fieldConfig": {"defaults": {}, "overrides": []}, "options": {"showHeader": True},
            "targets": [{**self._targets([(expr, "")])[0], "format": "table", "instant": True}],
            "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        }, width, 8)

    def variable(self, name: str, label: str, query: str) -> None:
        self.variables.append({
            "type": "query", "name": name, "label": label, "datasource": DATASOURCE, "refresh": 2,
            "query": {"query": query, "refId": "variable"}, "definition": query, "includeAll": True,
            "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1,
        })

    def _targets(self, targets: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
                for i, (expr, legend) in enumerate(targets)]

    def _newline(self) -> None:
        if self._x:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0

    def _add(self, panel: dict[str, Any], width: int, height: int) -> None:
        if self._x + width > WIDTH:
            self._newline()
        panel = {"id": len(self.panels) + 1, "gridPos": {"h": height, "w": width, "x": self._x, "y": self._y}, **panel}
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)

    def json(self) -> dict[str, Any]:
        datasource = {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
                      "current": {}, "hide": 0, "refresh": 1}
        return {
            "uid": self.uid, "title": self.title, "description": self.description, "tags": ["vr", *self.tags],
            "timezone": "browser", "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
            "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [datasource, *self.variables]},
            "annotations": {"list": []}, "links": [], "panels": self.panels,
        }


def rate(expr: str, window: str = "5m") -> str:
    return f"rate({expr}[{window}])"


def overview() -> Dashboard:
    d = Dashboard("vr-platform-overview", "Virtuelles Rathaus — Plattform", "Traffic, errors, latency, lag and dead letters of every process.", ["platform"])
    d.row("Zustand")
    d.stat("Prozesse erreichbar", 'sum(up{job!=""})', thresholds=())
    errors = rate('vr_http_request_seconds_count{status=~"5.."}')
    d.stat("5xx-Anteil (5 min)", f'sum({errors}) / sum({rate("vr_http_request_seconds_count")})',
           unit="percentunit", thresholds=(0.01, 0.05))
    d.stat("Dead Letters (Warteschlangen)", 'sum(max by (queue) (vr_queue_depth_messages{queue=~".+[.]dead"}))', thresholds=(1, 10))
    d.stat("Projektionsrückstand", "max(vr_projection_lag_seconds)", unit="s", thresholds=(30, 120))
    d.row("Verkehr und Fehler")
    d.graph("Anfragen pro Sekunde nach Route", [(f'sum by (route) ({rate("vr_http_request_seconds_count")})', "{{route}}")], unit="reqps", stack=True)
    d.graph("Antworten nach Status", [(f'sum by (status) ({rate("vr_http_request_seconds_count")})', "{{status}}")], unit="reqps", stack=True)
    d.graph("Latenz der API (p50, p95, p99)", [
        (f'histogram_quantile({q}, sum by (le) ({rate("vr_http_request_seconds_bucket")}))', f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)], unit="s")
    d.graph("Latenz der Dienste (p95 nach Einstiegspunkt)", [
        (f'histogram_quantile(0.95, sum by (le, service, entrypoint) ({rate("vr_entrypoint_seconds_bucket")}))', "{{service}}.{{entrypoint}}")], unit="s")
    d.graph("Fehler der Einstiegspunkte", [(f'sum by (service, error) ({rate("vr_entrypoint_errors_total")})', "{{service}} {{error}}")], unit="ops")
    d.graph("Batchgrößen (p90)", [(f'histogram_quantile(0.9, sum by (le, stage) ({rate("vr_batch_size_messages_bucket")}))', "{{stage}}")])
    d.row("Ereignisse, Projektionen, Warteschlangen")
    d.graph("Veröffentlichte Ereignisse", [(f'sum by (source) ({rate("vr_events_relayed_total")})', "{{source}}")], unit="ops")
    d.graph("Relay-Rückstand (Ereignisse)", [("max by (source) (vr_relay_lag_events)", "{{source}}")])
    d.graph("Projektionsrückstand (Ereignisse)", [("max by (projection) (vr_projection_lag_events)", "{{projection}}")])
    d.graph("Projektionsrückstand (Sekunden)", [("max by (projection) (vr_projection_lag_seconds)", "{{projection}}")], unit="s")
    d.graph("Warteschlangentiefe", [('max by (queue) (vr_queue_depth_messages{queue!~".+[.]dead"})', "{{queue}}")])
    d.graph("Dead Letters", [
        ('max by (queue) (vr_queue_depth_messages{queue=~".+[.]dead"})', "wartend {{queue}}"),
        ("sum by (queue) (increase(vr_dead_letters_total[1h]))", "neu/h {{queue}}")])
    d.graph("Erneute Zustellungen", [(f'sum by (queue) ({rate("vr_amqp_redeliveries_total")})', "{{queue}}")], unit="ops")
    d.graph("Angewandte Ereignisse der Projektionen", [(f'sum by (projection, result) ({rate("vr_projection_events_total")})', "{{projection}} {{result}}")], unit="ops")
    d.row("Ressourcen")
    d.graph("Datenbankverbindungen", [("sum by (job, state) (vr_db_connections)", "{{job}} {{state}}")])
    d.graph("Freier Speicher", [("min by (instance, volume) (vr_disk_available_bytes / vr_disk_size_bytes)", "{{instance}} {{volume}}")], unit="percentunit")
    return d


def usage() -> Dashboard:
    d = Dashboard("vr-usage-acceptance", "Virtuelles Rathaus — Nutzung und Akzeptanz",
                  "Use of the online services per tenant (AGS): applications, decisions, information requests. "
                  "From the case events the projector sees; the full KPIs (completion rate, processing times) come "
                  "from the KPI projection.", ["usage", "tenant"])
    d.variable("tenant", "Kommune (AGS)", "label_values(vr_case_events_total, tenant)")
    t = 'tenant=~"$tenant"'
    d.row("Anträge")
    d.stat("Online-Anträge (Zeitraum)", f'sum(increase(vr_case_events_total{{{t}, event="submitted"}}[$__range]))')
    d.stat("Entschieden (Zeitraum)", f'sum(increase(vr_case_events_total{{{t}, event=~"approved|rejected"}}[$__range]))')
    d.stat("Bewilligungsquote", f'sum(increase(vr_case_events_total{{{t}, event="approved"}}[$__range])) / '
                                 f'sum(increase(vr_case_events_total{{{t}, event=~"approved|rejected"}}[$__range]))', unit="percentunit")
    d.stat("Nachforderungen je Entscheidung", f'sum(increase(vr_case_events_total{{{t}, event="information_requested"}}[$__range])) / '
                                              f'sum(increase(vr_case_events_total{{{t}, event=~"approved|rejected"}}[$__range]))',
           unit="percentunit", thresholds=(0.3, 0.5),
           description="Information requests per decision: the lower, the more cases were decided without asking again.")
    d.graph("Online-Anträge pro Tag nach Kommune", [(f'sum by (tenant) (increase(vr_case_events_total{{{t}, event="submitted"}}[1d]))', "{{tenant}}")], stack=True)
    d.graph("Entscheidungen pro Tag", [(f'sum by (event) (increase(vr_case_events_total{{{t}, event=~"approved|rejected|withdrawn"}}[1d]))', "{{event}}")], stack=True)
    d.table("Ereignisse je Kommune (Zeitraum)", f"sum by (tenant, event) (increase(vr_case_events_total{{{t}}}[$__range]))")
    d.row("Bezahlen und Benachrichtigen (alle Kommunen)")
    d.graph("Zahlungen nach Ergebnis", [("sum by (outcome) (increase(vr_payments_notices_total[1d]))", "{{outcome}}")], stack=True)
    d.graph("Zugestellte Nachrichten", [('sum by (channel, status) (increase(vr_notifications_attempts_total[1d]))', "{{channel}} {{status}}")], stack=True)
    d.row("KPI-Projektion (Kennzahlen je Kommune: GET /api/v1/tenants/{ags}/kpis, Seite /verwaltung/{ags}/kennzahlen)")
    folded = rate('vr_projection_events_total{projection="kpis"}')
    d.graph("KPI-Projektion: Ereignisse", [(f"sum by (result) ({folded})", "{{result}}")],
            unit="ops", description="Case, draft and payment events the KPI projector folded (skipped: seen before).")
    d.stat("KPI-Projektion: Dead Letters", 'max(vr_queue_depth_messages{queue="insights.kpis.dead"})', thresholds=(1, 5))
    d.stat("KPI-Projektion: Warteschlange", 'max(vr_queue_depth_messages{queue="insights.kpis"})', thresholds=(100, 1000))
    return d


def payments() -> Dashboard:
    d = Dashboard("vr-payments", "Virtuelles Rathaus — Bezahlen", "Payments, provider webhooks, refunds, reconciliation and the payment saga.", ["payments"])
    d.row("Zustand")
    d.stat("Abgleich-Differenzen (24 h)", "sum(increase(vr_payments_reconciliation_mismatches_total[24h]))", thresholds=(1, 1))
    d.stat("Anbieterfehler (1 h)", "sum(increase(vr_payments_provider_errors_total[1h]))", thresholds=(1, 20))
    d.stat("Saga Dead Letters", 'sum(max by (queue) (vr_queue_depth_messages{queue=~"payments.saga.dead|submissions.payments.dead"}))', thresholds=(1, 5))
    d.stat("Relay-Rückstand", 'max(vr_relay_lag_events{source="payments"})', thresholds=(10, 100))
    d.row("Zahlungen")
    d.graph("Zahlungen nach Zustand (Meldungen des Anbieters)", [(f'sum by (outcome) ({rate("vr_payments_notices_total")})', "{{outcome}}")], unit="ops", stack=True)
    d.graph("Zahlungen nach Zustand (jetzt)", [("sum by (state) (vr_payments_state_payments)", "{{state}}")], stack=True,
            description="Every payment by its state now, from the payments read model (each worker round).")
    d.graph("Webhooks nach Ergebnis", [(f'sum by (result) ({rate("vr_payments_webhooks_total")})', "{{result}}")], unit="ops")
    d.graph("Erstattungen", [("sum by (kind) (increase(vr_payments_refunds_total[1h]))", "{{kind}}")])
    d.graph("Anbieterfehler", [(f'sum by (call, kind) ({rate("vr_payments_provider_errors_total")})', "{{call}} {{kind}}")], unit="ops")
    d.graph("Abgleich-Differenzen", [("sum by (problem) (increase(vr_payments_reconciliation_mismatches_total[1h]))", "{{problem}}")])
    d.graph("Saga-Nachrichten", [(f'sum by (queue, result) ({rate("vr_saga_messages_total")})', "{{queue}} {{result}}")], unit="ops")
    d.graph("Saga-Warteschlangen", [('max by (queue) (vr_queue_depth_messages{queue=~"payments.saga.*|submissions.payments.*"})', "{{queue}}")])
    d.graph("PSP-Simulator (Entwicklung)", [
        (f'sum by (status) ({rate("vr_psp_sim_payments_total")})', "Zahlungen {{status}}"),
        ("max(vr_psp_sim_webhooks_pending_messages)", "offene Webhooks"),
        (f'sum by (kind) ({rate("vr_psp_sim_chaos_injected_total")})', "Chaos {{kind}}")])
    return d


def notifications() -> Dashboard:
    d = Dashboard("vr-notifications", "Virtuelles Rathaus — Benachrichtigungen", "Messages to citizens: delivery states, undelivered age, the consumer and its queue.", ["notifications"])
    d.row("Zustand")
    d.stat("Älteste unzugestellte Nachricht", "max(vr_notifications_oldest_pending_seconds)", unit="s", thresholds=(600, 1800))
    d.stat("Unzugestellt", "sum(vr_notifications_pending_messages)", thresholds=(50, 500))
    d.stat("Warteschlange notifications.events", 'max(vr_queue_depth_messages{queue="notifications.events"})', thresholds=(100, 1000))
    d.stat("Dead Letters", 'max(vr_queue_depth_messages{queue="notifications.events.dead"})', thresholds=(1, 5))
    d.row("Zustellung")
    d.graph("Zustellversuche nach Ergebnis", [(f'sum by (channel, status) ({rate("vr_notifications_attempts_total")})', "{{channel}} {{status}}")], unit="ops", stack=True)
    d.graph("Unzugestellte Nachrichten nach Zustand", [("sum by (status) (vr_notifications_pending_messages)", "{{status}}")], stack=True)
    d.graph("Alter der ältesten unzugestellten Nachricht", [("max(vr_notifications_oldest_pending_seconds)", "Alter")], unit="s")
    applied = rate('vr_projection_events_total{projection="notifications"}')
    redelivered = rate('vr_amqp_redeliveries_total{queue="notifications.events"}')
    sending = rate('vr_entrypoint_seconds_bucket{service="notifications"}')
    d.graph("Verarbeitete Ereignisse", [(f"sum by (result) ({applied})", "{{result}}")], unit="ops")
    d.graph("Erneute Zustellungen und Dead Letters", [
        (f"sum({redelivered})", "erneut zugestellt"),
        ('sum(increase(vr_dead_letters_total{queue="notifications.events"}[1h]))', "Dead Letters/h")])
    d.graph("Latenz des Versands (p95)", [
        (f"histogram_quantile(0.95, sum by (le, entrypoint) ({sending}))", "{{entrypoint}}")], unit="s")
    return d


DASHBOARDS = (overview, usage, payments, notifications)


def render() -> dict[str, str]:
    """Every dashboard as its file name and JSON text."""
    return {f"{d.uid}.json": json.dumps(d.json(), indent=2, ensure_ascii=False) + "\n" for d in (f() for f in DASHBOARDS)}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
