"""Message texts from versioned Jinja2 templates (``templates/<kind>.v<N>.<lang>.txt``).

Why this shape: the text template's first line is the subject, the rest the body; the HTML
part is the same paragraphs in one escaping layout, so the two parts never say different
things. A changed wording is a new version file; the version used is recorded with the
message (``SendingStarted``). Values are escaped in HTML (autoescape); mails carry no form
contents or free text, only the reference, the tenant's name and a link.
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
    "case_submitted": 1,
    "case_information_requested": 1,
    "case_approved": 1,
    "case_rejected": 1,
}
LAYOUT = "layout.v1.html"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    version: int


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    version = CURRENT[kind]
    subject, _, body = _ENV.get_template(f"{kind}.v{version}.{language}.txt").render(context).partition("\n")
    paragraphs = [p.replace("\n", " ") for p in body.strip().split("\n\n")]
    html = _ENV.get_template(LAYOUT).render(
        {**context, "subject": subject, "paragraphs": paragraphs, "language": language}
    )
    return Rendered(subject.strip(), body.strip() + "\n", html, version)
