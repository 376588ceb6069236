"""The submissions outbox relay process: ``python -m services.submissions.relay`` — case
events from the submissions event store to RabbitMQ ``vr.events`` (services/common/relay.py)."""

from __future__ import annotations

import sys

from services.common.relay import main
from services.submissions.application import open_submissions
from services.submissions.integration import map_notification

if __name__ == "__main__":
    sys.exit(main("relay", open_submissions, "submissions", map_notification))
