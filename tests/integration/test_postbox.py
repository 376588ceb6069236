"""The postbox and decision letters on SQLite and PostgreSQL: items created with the event
(a replay creates nothing), composed with the full text and the letter, listed for their
owner only, marked read, the letter's bytes matching the SHA-256 in ``Letter.Issued``, the
clerk's document list, and erasure of the person's postbox and letter PDFs."""

from __future__ import annotations

import base64
import hashlib
from uuid import UUID

import pytest

from services.common.blobs import open_blobs
from services.common.db import ReadStore
from services.common.problems import DomainError
from services.notifications.application import NotificationsApp, open_notifications
from services.notifications.postbox.application import item_view
from services.notifications.postbox.projections import Postbox
from tests.postbox_support import DECISION, CaseSources, decided_case

BASE = "https://rathaus.example"


@pytest.fixture
def app(backend: str) -> NotificationsApp:
    return open_notifications()


def compose_all(app: NotificationsApp, postbox: Postbox, sources: CaseSources) -> list[dict]:
    postbox.catch_up(app)
    blobs = open_blobs("notifications")
    composed = [v for i in postbox.to_compose() if (v := app.compose_item(i, sources, blobs, BASE)) is not None]
    postbox.catch_up(app)
    return composed


def test_postbox_items_letters_and_their_owner(app: NotificationsApp) -> None:
    sources, postbox, blobs = CaseSources(), Postbox(ReadStore("notifications")), open_blobs("notifications")
    approved = decided_case(sources, "acc-1")
    rejected = decided_case(sources, "acc-1", decide="reject", text="Der Hund ist bereits angemeldet.")
    other = decided_case(sources, "acc-2")
    for envelope in approved + rejected + other:
        app.accept(envelope)
    assert len(compose_all(app, postbox, sources)) == 9
    for envelope in approved + rejected + other:  # the whole log again: nothing new, nothing composed
        assert app.accept(envelope) == 0
    calls = sources.calls
    assert compose_all(app, postbox, sources) == [] and sources.calls == calls

    items = postbox.items_of("acc-1")
    assert len(items) == 6 and all(not i["read"] for i in items)
    assert all(set(i) == set(item_view(app.postbox_item(i["item_id"], "acc-1")))
               for i in items)  # the list's entries are the item's view
    assert {i["subject"] for i in items if i["attachments"]} == {
        f"Bescheid zu Ihrem Antrag {approved[0]['data']['reference']}: bewilligt",
        f"Bescheid zu Ihrem Antrag {rejected[0]['data']['reference']}: abgelehnt",
    }
    decision = next(i for i in items if i["case_id"] == approved[0]["aggregate_id"] and i["attachments"])
    [attachment] = decision["attachments"]
    file = app.item_attachment(decision["item_id"], attachment["attachment_id"], "acc-1", blobs)
    data = base64.b64decode(file["content_b64"])
    assert hashlib.sha256(data).hexdigest() == attachment["sha256"] == file["sha256"]
    assert data.startswith(b"%PDF-")
    assert DECISION in app.postbox_item(decision["item_id"], "acc-1").body_text
    for attempt in (lambda: app.postbox_item(decision["item_id"], "acc-2"),
                    lambda: app.item_attachment(decision["item_id"], attachment["attachment_id"], "acc-2", blobs),
                    lambda: app.mark_item(decision["item_id"], "acc-2", True)):
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "postbox_item_not_found"

    assert app.mark_item(decision["item_id"], "acc-1", True)["read"] is True
    postbox.catch_up(app)
    assert [i["read"] for i in postbox.items_of("acc-1") if i["item_id"] == decision["item_id"]] == [True]

    before = postbox.items_of("acc-1")
    postbox.rebuild(app)  # the read model is rebuildable from the event store
    assert postbox.items_of("acc-1") == before

    [document] = postbox.documents_of(approved[0]["aggregate_id"])
    assert (document["document_id"], document["sha256"], document["decision"], document["erased"]) == (
        attachment["attachment_id"], attachment["sha256"], "approved", False)
    assert app.case_document(approved[0]["aggregate_id"], document["document_id"], blobs)["size"] == len(data)
    with pytest.raises(DomainError):  # a document of another case is not this case's
        app.case_document(rejected[0]["aggregate_id"], document["document_id"], blobs)


def test_erasing_a_postbox_keeps_what_the_authority_keeps(app: NotificationsApp) -> None:
    sources, postbox, blobs = CaseSources(), Postbox(ReadStore("notifications")), open_blobs("notifications")
    mine, theirs = decided_case(sources, "acc-1"), decided_case(sources, "acc-2")
    for envelope in mine + theirs:
        app.accept(envelope)
    compose_all(app, postbox, sources)
    [document] = postbox.documents_of(mine[0]["aggregate_id"])

    result = app.erase_postbox("acc-1", postbox.item_ids_of("acc-1"), blobs)
    assert (result["items_erased"], result["letters_erased"], result["events_redacted"]) == (3, 1, 3)
    postbox.catch_up(app)
    assert postbox.items_of("acc-1") == [] and len(postbox.items_of("acc-2")) == 3
    assert app.erase_postbox("acc-1", postbox.item_ids_of("acc-1"), blobs)["events_redacted"] == 0  # resumable
    [kept] = postbox.documents_of(mine[0]["aggregate_id"])
    assert (kept["decision"], kept["issued_on"], kept["sha256"], kept["erased"]) == (
        "approved", document["issued_on"], document["sha256"], True)
    with pytest.raises(DomainError) as gone:
        app.case_document(mine[0]["aggregate_id"], document["document_id"], blobs)
    assert gone.value.code == "document_erased"
    def stored(account: str) -> bytes:
        return b"".join(s.state for i in postbox.item_ids_of(account) for s in app.recorder.select_events(UUID(i)))

    assert DECISION.encode() in stored("acc-2") and DECISION.encode() not in stored("acc-1")
    assert any(DECISION in app.postbox_item(i["item_id"], "acc-2").body_text for i in postbox.items_of("acc-2"))
