"""The submissions outbox relay process: ``python -m services.submissions.relay [--partition K]``
— case events from one partition of the submissions event store to RabbitMQ ``vr.events``
(services/common/relay.py). One relay per partition (``CASE_PARTITIONS``), each with its own
tracked position in its partition's schema; partition 0 is the relay as it always was."""

from __future__ import annotations

import argparse
import sys

from services.common.partitions import relay_process, schema_name
from services.common.relay import main
from services.submissions.application import open_submissions
from services.submissions.integration import map_notification


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.submissions.relay")
    parser.add_argument("--partition", type=int, default=0, help="the case partition to relay (default 0)")
    partition = parser.parse_args(argv).partition
    return main(relay_process(partition), lambda: open_submissions(partition), schema_name("submissions", partition), map_notification)


if __name__ == "__main__":
    sys.exit(run())
