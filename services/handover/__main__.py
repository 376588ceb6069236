"""``python -m services.handover export --base-url URL --client-id ID --secret-file FILE
--dir DIR [--format xml|json] [--every SECONDS]`` — the file export for back-office systems
that only read files: a client of the submission API writing one file per submission
(:mod:`services.handover.files`). ``--every`` keeps it running (a plain process)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from services.handover.files import FORMATS, SubmissionApi, export_once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.handover")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write submissions as files, then acknowledge them")
    export.add_argument("--base-url", default="http://127.0.0.1:8000")
    export.add_argument("--client-id", required=True)
    export.add_argument("--secret-file", required=True, type=Path, help="file holding the client secret")
    export.add_argument("--dir", required=True, type=Path)
    export.add_argument("--format", choices=FORMATS, default="xml")
    export.add_argument("--every", type=float, default=0, help="seconds between rounds (0: one round)")
    args = parser.parse_args(argv)
    api = SubmissionApi(args.base_url, args.client_id, args.secret_file.read_text(encoding="utf-8").strip())
    try:
        while True:
            for path in export_once(api, args.dir, args.format):
                print(path)
            if not args.every:
                return 0
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
