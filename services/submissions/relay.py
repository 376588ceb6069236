"""The submissions outbox relay process: ``python -m services.submissions.relay``."""

from __future__ import annotations

import sys

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.db import ReadStore
from services.common.relay import Relay
from services.submissions.integration import map_notification
from services.submissions.projector import open_app


def main() -> int:
    logs.configure("relay")
    check_broker()
    metrics.serve(9103)
    Relay(open_app(), ReadStore("submissions"), map_notification, source="submissions").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
