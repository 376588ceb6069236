"""The submissions outbox relay process: ``python -m services.submissions.relay``."""

from __future__ import annotations

import sys

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.db import ReadStore
from services.common.production import refuse_unsafe_start
from services.common.relay import Relay
from services.submissions.application import open_submissions
from services.submissions.integration import map_notification


def main() -> int:
    refuse_unsafe_start("relay")
    logs.configure("relay")
    check_broker()
    metrics.serve("relay")
    Relay(open_submissions(), ReadStore("submissions"), map_notification, source="submissions").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
