"""Pages for the links in account mails, for deployments without the web portal and links
in mails sent before it served them: identity's mails now link to the portal's pages
(``WEB_PUBLIC_URL``, services/web/mail_links.py), which work the same way.

Mail scanners and link previews fetch every link in a mail, so a link must not change
anything: it opens one of these pages, and only its button changes state, by POSTing JSON
to the API (which the CSRF rules of :mod:`services.gateway.csrf` accept from our own
origin). The one-time token travels in the URL fragment (``#token=…``): browsers never send
a fragment to a server, so it stays out of access logs and ``Referer`` headers; the page
reads it, removes it from the address bar and posts it.
"""

from __future__ import annotations

import base64
import hashlib
import html

from werkzeug.wrappers import Request, Response

from services.common.authz import Principal
from services.common.problems import DomainError
from services.gateway.http import endpoint, http

#: page name -> (title, intro, API route the button posts to, button, done, form fields)
PAGES: dict[str, tuple[str, str, str, str, str, str]] = {
    "verify-email": (
        "E-Mail-Adresse bestätigen",
        "Bitte bestätigen Sie, dass diese E-Mail-Adresse zu Ihrem Kundenkonto gehört.",
        "/api/v1/auth/verify-email", "E-Mail-Adresse bestätigen",
        "Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt anmelden.", "",
    ),
    "confirm-email-change": (
        "Neue E-Mail-Adresse bestätigen",
        "Bitte bestätigen Sie, dass Ihr Kundenkonto künftig diese E-Mail-Adresse verwendet.",
        "/api/v1/auth/change-email/confirm", "E-Mail-Adresse bestätigen",
        "Ihre neue E-Mail-Adresse ist bestätigt.", "",
    ),
    "set-password": (
        "Neues Passwort festlegen",
        "Wählen Sie ein Passwort mit mindestens 10 Zeichen, das nicht leicht zu erraten ist.",
        "/api/v1/auth/password-reset/confirm", "Passwort speichern",
        "Ihr Passwort ist gespeichert. Sie können sich jetzt damit anmelden.",
        '<label>Neues Passwort <input name="password" type="password" autocomplete="new-password"'
        ' minlength="10" required></label>\n'
        '<label>Passwort wiederholen <input name="repeat" type="password" autocomplete="new-password"'
        ' minlength="10" required></label>\n',
    ),
}

SCRIPT = """
const page = document.body.dataset, form = document.getElementById("form"), status = document.getElementById("status");
const token = new URLSearchParams(location.hash.slice(1)).get("token");
history.replaceState(null, "", location.pathname);
if (!token) { form.hidden = true; status.textContent = page.missing; }
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  if ("repeat" in body && body.repeat !== body.password) { status.textContent = page.mismatch; return; }
  delete body.repeat;
  body.token = token;
  const response = await fetch(page.action, {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "Accept-Language": "de"}});
  const answer = await response.json().catch(() => ({}));
  status.textContent = response.ok ? page.done : (answer.detail || page.failed);
  form.hidden = response.ok;
});
"""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{SCRIPT_HASH}'; connect-src 'self'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

TEMPLATE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – Virtuelles Rathaus</title></head>
<body data-action="{action}" data-done="{done}" data-failed="Das hat nicht geklappt. Bitte versuchen Sie es erneut."
      data-missing="Der Link ist unvollständig. Bitte öffnen Sie ihn direkt aus der E-Mail."
      data-mismatch="Die beiden Passwörter stimmen nicht überein.">
<main>
<h1>{title}</h1>
<p>{intro}</p>
<form id="form" method="post">
{fields}<button type="submit">{button}</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<noscript>Bitte aktivieren Sie JavaScript, um fortzufahren.</noscript>
</main>
<script>{script}</script>
</body></html>
"""


def render(name: str) -> str:
    title, intro, action, button, done, fields = PAGES[name]
    escaped = {key: html.escape(value) for key, value in
               {"title": title, "intro": intro, "action": action, "button": button, "done": done}.items()}
    return TEMPLATE.format(**escaped, fields=fields, script=SCRIPT)


class PageRoutes:
    """Mixed into GatewayService."""

    @http("GET", "/account/<page>")
    @endpoint("account_page")
    def account_page(self, request: Request, page: str, lang: str, principal: Principal) -> Response:
        """A page a mail links to; it changes nothing until its button is pressed."""
        if page not in PAGES:
            raise DomainError("not_found")
        return Response(render(page), mimetype="text/html", headers=HEADERS)
