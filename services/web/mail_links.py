"""The pages that links in account mails open (identity builds the links on
``WEB_PUBLIC_URL``): confirming the e-mail address, confirming a new address, and the
password reset (requesting the mail; setting the new password, which is also how invited
staff set their first one).

A link carries its one-time token in the fragment (``#token=…``): a browser never sends it
to a server, so it stays out of access logs and ``Referer`` headers. The page is a form
whose button posts the token (opening the link changes nothing: mail scanners follow
links); ``static/token.js`` copies the token from the fragment into the form's field and
takes it out of the address bar. Without JavaScript the field is there to paste the link
or the code into."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.i18n import N_, Texts
from services.web.pages import attempt, redirect, render, session_of, web_of
from services.web.security import read_form

MIN_PASSWORD = 12
TOKEN_LIMIT = 500


@dataclass(frozen=True)
class Confirmation:
    """A page whose only field is the token: the API route it goes to, what it says."""

    path: str
    api: str
    title: str
    intro: str
    done: str


CONFIRMATIONS = (
    Confirmation("/konto/bestaetigen", "/api/v1/auth/verify-email", N_("E-Mail-Adresse bestätigen"),
                 N_("Bitte bestätigen Sie, dass diese E-Mail-Adresse zu Ihrem Kundenkonto gehört."),
                 N_("Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt anmelden.")),
    Confirmation("/konto/email-bestaetigen", "/api/v1/auth/change-email/confirm", N_("Neue E-Mail-Adresse bestätigen"),
                 N_("Bitte bestätigen Sie, dass Ihr Kundenkonto künftig diese E-Mail-Adresse verwendet."),
                 N_("Ihre neue E-Mail-Adresse ist bestätigt. Bitte melden Sie sich mit ihr an.")),
)


def token_of(form: dict[str, str]) -> str:
    """The token from the field: the code alone or the whole link pasted (after ``token=``)."""
    return form.get("token", "").strip().split("token=", 1)[-1][:TOKEN_LIMIT]


def password_error(password: str, texts: Texts) -> str | None:
    """The web's own first check of a new password (identity judges it fully)."""
    if len(password) < MIN_PASSWORD:
        return texts.gettext("Das Passwort muss mindestens 12 Zeichen lang sein.")
    return None


def confirmation_of(request: Request) -> Confirmation:
    return next(page for page in CONFIRMATIONS if page.path == request.url.path)


async def confirm_form(request: Request) -> Response:
    return render(request, "confirm.html", page=confirmation_of(request), errors={})


async def confirm(request: Request) -> Response:
    page = confirmation_of(request)
    form = await read_form(request)
    _, refused = await attempt(request, "POST", page.api, auth=False, json={"token": token_of(form)})
    if refused:
        return render(request, "confirm.html", 400, page=page, errors={"token": refused.detail})
    session_of(request).flash(page.done)
    return redirect("/konto/anmelden")


async def reset_request_form(request: Request) -> Response:
    return render(request, "password_forgotten.html", errors={}, values={}, sent=False)


async def reset_request(request: Request) -> Response:
    form = await read_form(request)
    email = form.get("email", "").strip()
    texts = web_of(request).texts(request.state.lang)
    if not email:
        return render(request, "password_forgotten.html", 400, errors={"email": texts.gettext("Geben Sie Ihre E-Mail-Adresse ein.")},
                      values={}, sent=False)
    _, refused = await attempt(request, "POST", "/api/v1/auth/password-reset", auth=False, json={"email": email[:254]})
    if refused:
        return render(request, "password_forgotten.html", 400, errors={"email": refused.detail}, values={"email": email}, sent=False)
    return render(request, "password_forgotten.html", errors={}, values={}, sent=True,
                  sink=web_of(request).settings.dev_mail_sink_url)


async def reset_form(request: Request) -> Response:
    return render(request, "password_reset.html", errors={})


async def reset(request: Request) -> Response:
    form = await read_form(request)
    token = token_of(form)
    texts = web_of(request).texts(request.state.lang)
    errors: dict[str, str] = {}
    if not token:
        errors["token"] = texts.gettext("Geben Sie den Link oder Code aus der E-Mail ein.")
    if problem := password_error(form.get("password", ""), texts):
        errors["password"] = problem
    if not errors:
        _, refused = await attempt(request, "POST", "/api/v1/auth/password-reset/confirm", auth=False,
                                   json={"token": token, "password": form["password"]})
        if refused:
            errors["password" if refused.code == "password_rejected" else "token"] = refused.detail
        else:
            session_of(request).flash(N_("Ihr neues Passwort ist gesetzt. Sie können sich jetzt anmelden."))
            return redirect("/konto/anmelden")
    return render(request, "password_reset.html", 400, errors=errors)


routes = [
    *(Route(page.path, confirm_form, methods=["GET"]) for page in CONFIRMATIONS),
    *(Route(page.path, confirm, methods=["POST"]) for page in CONFIRMATIONS),
    Route("/konto/passwort-vergessen", reset_request_form, methods=["GET"]),
    Route("/konto/passwort-vergessen", reset_request, methods=["POST"]),
    Route("/konto/passwort-neu", reset_form, methods=["GET"]),
    Route("/konto/passwort-neu", reset, methods=["POST"]),
]
