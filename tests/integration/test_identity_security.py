"""Identity hardening on every event-store backend (POPO, SQLite, PostgreSQL): the e-mail
index is keyed by the deployment secret and forgets an erased account."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.identity_support import STRONG, new_keyset, only_mail, open_factory, register_verified


@pytest.fixture(scope="module")
def keyset():
    return new_keyset("k-security")


@pytest.fixture(params=["popo", "sqlite", "postgres"])
def apps(request, clock, keyset):
    """A factory of applications on one backend; they share its storage."""
    yield from open_factory(request, request.param, clock, keyset)


def index_bytes(app, address: str) -> bytes:
    """Every stored event of the address's e-mail index stream."""
    return b"\n".join(s.state for s in app.recorder.select_events(app._index_id(address)))


def mentions(blob: bytes, account_id: str) -> bool:
    ref = uuid.UUID(account_id)
    return str(ref).encode() in blob or ref.hex.encode() in blob


class TestEmailIndex:
    def test_index_id_is_keyed_by_the_deployment_secret(self, apps):
        address = "erika.mustermann@example.org"
        one = apps(VR_SECRET_KEY="a" * 40)._index_id(address)
        two = apps(VR_SECRET_KEY="b" * 40)._index_id(address)
        assert one != two
        assert one == apps(VR_SECRET_KEY="a" * 40)._index_id(address)  # stable under one secret
        public = {
            uuid.uuid5(uuid.UUID("5b7c6f0e-3d0a-5a43-9d7e-7a1f6c0e2b11"), address),  # the former namespace
            uuid.uuid5(uuid.NAMESPACE_URL, address),
            uuid.uuid5(uuid.NAMESPACE_DNS, address),
            uuid.UUID(bytes=hashlib.sha256(address.encode()).digest()[:16]),
            uuid.UUID(hashlib.md5(address.encode()).hexdigest()),  # a guess, not a use
        }
        assert one not in public and two not in public

    def test_deleted_account_leaves_no_link_from_address_to_account(self, apps):
        app = apps()
        account_id = register_verified(app, "alt@example.org")
        change = app.request_email_change(account_id, "neu@example.org", STRONG)
        app.confirm_email_change(only_mail(change, "confirm_email_change").params["token"])
        other = register_verified(app, "alt@example.org")  # the old address, now someone else's
        for address in ("alt@example.org", "neu@example.org"):
            assert mentions(index_bytes(app, address), account_id)

        app.delete_account(account_id)
        for address in ("alt@example.org", "neu@example.org"):
            assert not mentions(index_bytes(app, address), account_id), address
        assert mentions(index_bytes(app, "alt@example.org"), other)  # the other holder keeps it
        assert app.lookup_account_id("alt@example.org") == other
        again = register_verified(app, "neu@example.org")  # the erased address can be registered again
        assert again not in (account_id, other)
        assert app.lookup_account_id("neu@example.org") == again
        assert app.delete_account(account_id).mails == ()  # a repeated deletion still works
