"""Message texts from versioned Jinja2 templates (``templates/<kind>.v<N>.<lang>.txt``).

Why this shape: the text template's first line is the subject, the rest the body; the HTML
part is the same paragraphs in one escaping layout, so the two parts never say different
things. A changed wording is a new version file; the version used is recorded with the
message (``SendingStarted``). Values are escaped in HTML (autoescape); mails carry no form
contents or free text, only the reference, amounts, the tenant's details and links. Case
mails end with the authority's signature and contact (``footer``), account mails with the
platform's (``account_footer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
#: The template version new messages of each kind are rendered with.
CURRENT: dict[str, int] = {
    "case_submitted": 2,
    "case_information_requested": 2,
    "case_approved": 2,
    "case_rejected": 2,
    "case_withdrawn": 1,
    "case_reassigned": 1,
    "case_decision_reversed": 1,
    "payment_requested": 1,
    "payment_received": 1,
    "payment_failed": 1,
    "payment_refunded": 1,
    "case_reminder": 1,
    "case_overdue": 1,
    "verify_email": 1,
    "password_reset": 1,
    "confirm_email_change": 1,
    "staff_invitation": 1,
    "account_exists": 1,
    "password_changed": 1,
    "email_change_notice": 1,
    "email_in_use": 1,
    "failed_logins": 1,
    "account_deleted": 1,
}
LAYOUT = "layout.v2.html"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)


def euro(cents: int | None, language: str = DEFAULT_LANGUAGE) -> str:
    """12,50 € (de) or EUR 12.50 (en)."""
    if cents is None:
        return ""
    amount = f"{int(cents) // 100},{int(cents) % 100:02d}"
    return f"{amount} €" if language == "de" else f"EUR {amount.replace(',', '.')}"


_ENV.filters["euro"] = euro


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    version: int


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    version = CURRENT[kind]
    context = {**context, "language": language}
    subject, _, body = _ENV.get_template(f"{kind}.v{version}.{language}.txt").render(context).partition("\n")
    paragraphs = [[line for line in p.split("\n") if line.strip()] for p in body.strip().split("\n\n")]
    html = _ENV.get_template(LAYOUT).render({**context, "subject": subject, "paragraphs": paragraphs})
    return Rendered(subject.strip(), body.strip() + "\n", html, version)
