"""The service template works as documented, so it cannot rot: the aggregate's rules, the
application on POPO (in memory), the read model on SQLite, the nameko wiring."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date

import pytest

from services.common.db import ReadStore
from services.common.problems import DomainError, problem
from services.template.application import TemplateApp, open_template
from services.template.domain import DONE, Reminder, ReminderClosed
from services.template.projections import ReminderBoard
from tests import support

with warnings.catch_warnings():  # importing nameko imports eventlet, which warns that it is deprecated
    warnings.simplefilter("ignore")
    from nameko.testing.services import worker_factory

    from services.template.service import TemplateService

VECHTA, LOHNE = "03460009", "03460006"
WHO = {"actor": "clerk-1", "correlation_id": "c-1"}


def reminder(**changes) -> Reminder:
    fields = {"tenant": VECHTA, "subject": " Nachweis Haftpflicht prüfen ", "due_on": date(2026, 5, 4), **WHO}
    return Reminder.schedule(**{**fields, **changes})


# -- domain ------------------------------------------------------------------------------------
def test_every_event_carries_tenant_actor_and_correlation_id() -> None:
    r = reminder()
    r.postpone(date(2026, 5, 11), "clerk-2", "c-2")
    r.complete("clerk-2", "c-3")
    events = r.collect_events()
    assert [type(e).__name__ for e in events] == ["Scheduled", "Postponed", "Completed"]
    assert all(e.tenant == VECHTA and e.actor and e.correlation_id for e in events)
    assert (r.subject, r.due_on, r.status, r.done_by) == ("Nachweis Haftpflicht prüfen", "2026-05-11", DONE, "clerk-2")


def test_postponing_to_the_same_day_records_nothing() -> None:
    r = reminder()
    r.postpone(date(2026, 5, 4), **WHO)
    assert r.version == 1


def test_a_done_reminder_refuses_commands_with_a_stable_code() -> None:
    r = reminder()
    r.complete(**WHO)
    for command in (lambda: r.complete(**WHO), lambda: r.postpone(date(2026, 6, 1), **WHO)):
        with pytest.raises(ReminderClosed) as caught:
            command()
        assert caught.value.code == "transition_not_allowed" and caught.value.status == 409
    remote = DomainError.from_json(str(caught.value))  # as it arrives across RPC
    assert "Erledigt" in problem(remote.code, "de", **remote.params)["detail"]
    assert "'done'" in problem(remote.code, "en", **remote.params)["detail"]


@pytest.mark.parametrize("subject", ["", "   ", "x" * 201])
def test_the_subject_is_checked(subject: str) -> None:
    with pytest.raises(DomainError) as caught:
        reminder(subject=subject)
    assert caught.value.code == "invalid_parameter"
    assert problem(caught.value.code, "en", **caught.value.params)["detail"].endswith("text of 1 to 200 characters expected")


# -- application (POPO) ------------------------------------------------------------------------
@pytest.fixture
def app() -> TemplateApp:
    return TemplateApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_application_loads_decides_saves_and_returns_plain_values(app: TemplateApp) -> None:
    created = app.schedule(VECHTA, "Rückruf Frau Meyer", "2026-05-04", **WHO)
    assert created["status"] == "open" and created["version"] == 1
    app.postpone(created["reminder_id"], "2026-05-08", **WHO)
    done = app.complete(created["reminder_id"], **WHO)
    assert (done["due_on"], done["status"], done["version"]) == ("2026-05-08", "done", 3)
    assert app.reminder(created["reminder_id"]).status == DONE  # loaded again from its events


@pytest.mark.parametrize("reminder_id", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_unknown_reminders_are_not_found(app: TemplateApp, reminder_id: str) -> None:
    with pytest.raises(DomainError) as caught:
        app.complete(reminder_id, **WHO)
    assert caught.value.code == "not_found"


def test_dates_from_the_outside_are_checked(app: TemplateApp) -> None:
    with pytest.raises(DomainError) as caught:
        app.schedule(VECHTA, "Rückruf", "4.5.2026", **WHO)
    assert (caught.value.code, caught.value.params["name"]) == ("invalid_parameter", "due_on")


# -- read model (SQLite, in this test's own var dir) ---------------------------------------
@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[tuple[TemplateApp, ReminderBoard]]:
    support.isolate(monkeypatch, tmp_path, None)
    app, board = open_template(), ReminderBoard(ReadStore("template"))
    yield app, board
    board.close()
    app.close()


def test_board_lists_open_reminders_and_survives_redelivery_and_rebuilds(stored) -> None:
    app, board = stored
    first = app.schedule(VECHTA, "Akte anfordern", "2026-05-04", **WHO)
    later = app.schedule(VECHTA, "Rückruf", "2026-05-02", **WHO)
    app.schedule(LOHNE, "Termin bestätigen", "2026-05-01", **WHO)
    app.postpone(later["reminder_id"], "2026-05-20", **WHO)
    app.complete(first["reminder_id"], **WHO)
    assert board.catch_up(app) == 5 and board.catch_up(app) == 0
    until = "2026-12-31"
    expected = [{"reminder_id": later["reminder_id"], "subject": "Rückruf", "due_on": "2026-05-20", "version": 2}]
    assert board.due(VECHTA, until) == expected
    assert board.due(VECHTA, "2026-05-19") == []

    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=100)]
    assert board.apply(events) == 0  # redelivered: every row already has these versions
    assert board.due(VECHTA, until) == expected

    assert board.rebuild(app, tenant=LOHNE) == 1
    assert board.rebuild(app) == 5
    assert board.due(VECHTA, until) == expected and len(board.due(LOHNE, until)) == 1
    assert board.position() == app.recorder.max_notification_id()


# -- nameko wiring (dependencies replaced, no broker) ------------------------------------
def test_service_methods_call_the_application(stored) -> None:
    app, board = stored
    service = worker_factory(TemplateService, app=app, board=board)
    created = service.schedule(VECHTA, "Akte anfordern", "2026-05-04", "clerk-1")
    assert service.due(VECHTA, "2026-05-04")[0]["reminder_id"] == created["reminder_id"]
    assert service.complete(created["reminder_id"], "clerk-1")["status"] == "done"
    assert service.due(VECHTA, "2026-05-04") == []
    with pytest.raises(DomainError):
        service.due(VECHTA, "morgen")
