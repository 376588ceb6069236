"""The clerk workspace at ``/verwaltung/``: worklist (:mod:`.worklist`), case page and its
actions (:mod:`.case`) and assisted submission (:mod:`.assisted`). What a clerk may see and
do is decided by the gateway; a case outside the grants is its 404."""

from __future__ import annotations

from starlette.routing import Route

from services.web.clerk import assisted, case, worklist

routes = [
    Route("/verwaltung/", worklist.home, methods=["GET"]),
    Route("/verwaltung/faelle/{case_id}", case.case_view, methods=["GET"]),
    Route("/verwaltung/faelle/{case_id}/erstatten", case.refund, methods=["POST"]),
    Route("/verwaltung/faelle/{case_id}/{kind}/{item_id}", case.download, methods=["GET"]),
    Route("/verwaltung/faelle/{case_id}/{action}", case.act, methods=["POST"]),
    Route("/verwaltung/{ags:str}/", worklist.worklist, methods=["GET"]),
    Route("/verwaltung/{ags:str}/liste", worklist.worklist_fragment, methods=["GET"]),
    Route("/verwaltung/{ags:str}/antrag-stellen", assisted.start, methods=["GET"]),
    Route("/verwaltung/{ags:str}/antrag-stellen/{service_id}", assisted.form_view, methods=["GET"]),
    Route("/verwaltung/{ags:str}/antrag-stellen/{service_id}", assisted.submit, methods=["POST"]),
]
