"""A demo back-office client (Fachverfahren) for ``make run``: fetches the decided cases of
its tenant and services through the submission API, prints what it got, acknowledges each.

    # a tenant admin issues the client, a second person approves it (four-eyes):
    curl -s -X POST $B/api/v1/admin/tenants/03460009/handover-clients -H "Authorization: Bearer $ADMIN" \\
      -H 'Content-Type: application/json' -d '{"name":"Hundesteuer","service_keys":["hundeanmeldung"]}'
    curl -s -X POST $B/api/v1/admin/tenants/03460009/handover-clients/<client_id>/approve -H "Authorization: Bearer $OTHER"
    .venv/bin/python deploy/handover_client.py --client-id <client_id> --secret <client_secret> [--no-ack]

``--no-ack`` behaves like a back office that crashes before acknowledging: the same cases come
again (``redelivered``) once HANDOVER_LEASE_SECONDS have passed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.handover.files import SubmissionApi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--no-ack", action="store_true", help="fetch only (as if the back office crashed)")
    args = parser.parse_args(argv)
    api = SubmissionApi(args.base_url, args.client_id, args.secret)
    try:
        submissions = api.fetch(args.limit)
        if not submissions:
            print("nothing waiting")
        for submission in submissions:
            case, contents = submission["case"], submission["contents"]
            fields = ", ".join(f"{k}={v}" for k, v in sorted((contents.get("form_data") or {}).items())[:6])
            print(f"{case['reference']}  {case['service_id']}  {submission['outcome']}  decided {submission['decided_at'][:19]}"
                  f"  delivery {submission['delivery']}{' (again)' if submission['redelivered'] else ''}")
            print(f"    {fields}{' …' if len(contents.get('form_data') or {}) > 6 else ''}")
            for attachment_id in submission["attachments"]:
                print(f"    attachment {attachment_id}: {len(api.attachment(submission['case_id'], attachment_id))} bytes")
            if not args.no_ack:
                api.acknowledge(submission["case_id"])
                print("    acknowledged")
    finally:
        api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
