"""The full text of a postbox item, from versioned Jinja2 templates
(``postbox/templates/<kind>.v<N>.<lang>.txt``; first line the subject).

Why apart from the mail templates: the mail is a short notice without free text; the
postbox, behind the citizen's login, carries the whole message — the question, the
decision or reason — so its templates have more to say. A kind without a postbox template
of its own (one added for mail only) gets the generic ``message`` text, so every message
still lands in the postbox. The HTML part is the same paragraphs, autoescaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from services.notifications.rendering import Rendered

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("de", "en")
#: The template version new postbox items of each kind are composed with.
CURRENT: dict[str, int] = {
    "case_submitted": 1, "case_information_requested": 1, "case_approved": 1, "case_rejected": 1, "case_reminder": 1,
    "case_decision_reversed": 1, "message": 1,
}
GENERIC = "message"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)


def render_item(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else LANGUAGES[0]
    name = kind if kind in CURRENT else GENERIC
    version = CURRENT[name]
    try:
        template = _ENV.get_template(f"{name}.v{version}.{language}.txt")
    except TemplateNotFound:
        template = _ENV.get_template(f"{GENERIC}.v{CURRENT[GENERIC]}.{language}.txt")
    subject, _, body = template.render(context).partition("\n")
    body = "\n".join(line.rstrip() for line in body.strip().splitlines()) + "\n"
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    html = _ENV.get_template("layout.v1.html").render(
        {"subject": subject.strip(), "paragraphs": paragraphs, "language": language}
    )
    return Rendered(subject.strip(), body, html, version)
