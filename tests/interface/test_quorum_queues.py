"""``AMQP_QUEUE_TYPE=quorum`` against the real RabbitMQ, in a vhost of its own: every durable
queue the platform declares — each consumer queue, its dead-letter queue, and nameko's RPC
queue of a service — is a quorum queue (what a 3-node cluster needs, deploy/SCALING.md).
An interface test because nameko's RPC queue is declared by a running container."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from nameko.rpc import rpc

from services.common.amqp import DEAD_LETTER_SUFFIX, QUEUES, BatchConsumer, ConfirmingPublisher, park_dead_letter
from services.common.nameko_deps import declare_rpc_queues_as
from tests import support


class QuorumProbe:
    name = "quorum_probe"

    @rpc
    def ping(self) -> str:
        return "pong"


def queue_types(vhost: str) -> dict[str, str]:
    out = subprocess.run([support._rabbitmqctl(), "-q", "list_queues", "-p", vhost, "name", "type", "--no-table-headers"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return dict(line.split("\t")[:2] for line in out.splitlines() if "\t" in line)


def test_every_durable_queue_is_declared_quorum(monkeypatch, runner_factory: Callable[..., Any]) -> None:
    uri = support.fresh_vhost("vr_quorum")
    vhost = uri.rsplit("/", 1)[1]
    monkeypatch.setenv("AMQP_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("AMQP_URI", uri)
    publisher = ConfirmingPublisher(uri)  # what the relays declare before publishing
    consumer = BatchConsumer("submissions.projections", uri)  # what a consumer declares
    park_dead_letter("handover.cases", {"event_id": "e-1"}, "a test's poison message", uri)
    consumer.close()
    publisher.close()

    declare_rpc_queues_as("quorum")
    runner = runner_factory({"AMQP_URI": uri, "serializer": "json"}, QuorumProbe)
    runner.start()
    try:
        types = queue_types(vhost)
    finally:
        runner.stop()
        declare_rpc_queues_as("")  # the other tests' vhost has classic RPC queues
    expected = {name for queue in QUEUES for name in (queue, queue + DEAD_LETTER_SUFFIX)} | {"rpc-quorum_probe"}
    assert {name: types.get(name) for name in expected} == dict.fromkeys(expected, "quorum")
    # nameko's reply queues (auto-delete, with a TTL) stay classic: a quorum queue cannot be either
    assert all(kind == "classic" for name, kind in types.items() if name.startswith("rpc.reply-"))
