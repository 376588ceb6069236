"""Start one nameko service with its configuration from :mod:`services.common.config`:

    python -m services.common.launch gateway

nameko's own ``nameko run --config file.yml`` would need a YAML file per service that
repeats the defaults; this builds the same container configuration from the one
configuration module instead. Only nameko services come through here: the relay, the
projector and other plain processes have their own ``__main__`` and no eventlet.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

#: The nameko services of the platform and their classes.
SERVICES = {
    "catalog": "services.catalog.service:CatalogService",
    "identity": "services.identity.service:IdentityService",
    "submissions": "services.submissions.service:SubmissionsService",
    "gateway": "services.gateway.service:GatewayService",
    "payments": "services.payments.service:PaymentsService",
    "notifications": "services.notifications.service:NotificationsService",
    "council": "services.council.service:CouncilService",
    "rules": "services.rules.service:RulesService",
    "insights": "services.insights.service:InsightsService",
    "handover": "services.handover.service:HandoverService",
}


def service_class(name: str) -> type:
    module, _, cls = SERVICES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.launch")
    parser.add_argument("service", choices=sorted(SERVICES))
    args = parser.parse_args(argv)
    from services.common.production import refuse_unsafe_start

    refuse_unsafe_start(args.service)  # before anything is patched, opened or connected
    # nameko 2 needs eventlet (known and documented: new processes run without it); its
    # deprecation notice on every start of every service says nothing an operator can act on
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()  # before the service modules import sockets and threads
    from nameko.cli.run import run

    from services.common import logs
    from services.common.broker_watch import WATCH
    from services.common.config import nameko_config, settings
    from services.common.nameko_deps import declare_rpc_queues_as

    logs.configure(args.service)
    current = settings()
    declare_rpc_queues_as(current.amqp_queue_type)  # rpc-<service> as a quorum queue on a cluster
    eventlet.spawn(WATCH.run, args.service, current.amqp_uri, current.broker_watch_interval)
    run([service_class(args.service)], nameko_config(args.service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
