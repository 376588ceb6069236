"""Errors with a stable machine-readable code and a German and English message.

The one error convention of the platform: domain code raises :class:`DomainError` (or a
subclass with its own ``code``); it crosses RPC as JSON in nameko's ``RemoteError``
value, is recognised there by its marker (:func:`remote_domain_error`, any subclass),
and the gateway renders it once as RFC 9457 ``application/problem+json`` in the
caller's language. Every human-readable word comes from the tables below: a message per
code, and :data:`TEXTS` for the details a message names (``text("json_object")``), so
no German/English pair is ever written inside code.
"""

from __future__ import annotations

import json
from typing import Any

# code -> (HTTP status, German, English). Messages may use {placeholders} from params.
MESSAGES: dict[str, tuple[int, str, str]] = {
    "malformed_json": (400, "Der Anfrageinhalt ist kein gültiges JSON: {detail}", "The request body is not valid JSON: {detail}"),
    "invalid_request": (400, "Die Anfrage ist ungültig: {detail}", "The request is invalid: {detail}"),
    "invalid_parameter": (400, "Der Parameter '{name}' ist ungültig: {detail}", "The parameter '{name}' is invalid: {detail}"),
    "invalid_cursor": (400, "Der Blätter-Cursor ist ungültig oder abgelaufen.", "The pagination cursor is invalid."),
    "unsupported_media_type": (415, "Bitte senden Sie JSON (Content-Type: application/json).", "Please send JSON (Content-Type: application/json)."),
    "payload_too_large": (413, "Die Anfrage ist zu groß (höchstens {limit} Bytes).", "The request is too large (at most {limit} bytes)."),
    "not_found": (404, "Diese Adresse gibt es nicht.", "There is no such resource."),
    "method_not_allowed": (405, "Diese Methode ist hier nicht erlaubt.", "This method is not allowed here."),
    "unknown_tenant": (404, "Die Kommune mit dem Schlüssel {ags} ist nicht auf dieser Plattform.", "The municipality {ags} is not hosted on this platform."),
    "unknown_service": (404, "Die Leistung '{service_id}' wird hier nicht angeboten.", "The service '{service_id}' is not offered here."),
    "service_not_offered": (404, "Die Leistung '{service_id}' wird von {authority} noch nicht online angeboten. Bitte wenden Sie sich direkt an die Behörde: {email} {phone}", "The service '{service_id}' is not yet offered online by {authority}. Please contact the authority directly: {email} {phone}"),
    "tenant_exists": (409, "Die Kommune {ags} ist bereits auf der Plattform.", "The municipality {ags} is already hosted."),
    "invalid_query": (400, "Der Suchbegriff ist ungültig: {detail}", "The search query is invalid: {detail}"),
    "unknown_form_version": (409, "Das Formular '{service_id}' in Version {version} gilt nicht mehr; bitte laden Sie die aktuelle Version {current} und senden Sie erneut.", "Form '{service_id}' version {version} is no longer in force; please reload version {current} and submit again."),
    "case_not_found": (404, "Den Antrag {case_id} gibt es nicht.", "Case {case_id} does not exist."),
    "unknown_action": (404, "Die Aktion '{action}' gibt es nicht. Möglich sind: {allowed}.", "There is no action '{action}'. Possible actions: {allowed}."),
    "form_invalid": (422, "Das Formular enthält Fehler. Bitte prüfen Sie die markierten Felder.", "The form contains errors. Please check the marked fields."),
    "idempotency_key_reused": (422, "Dieser Idempotency-Key wurde bereits für eine andere Anfrage verwendet.", "This Idempotency-Key was already used for a different request."),
    "invalid_idempotency_key": (400, "Der Idempotency-Key muss 1 bis 255 druckbare ASCII-Zeichen lang sein.", "The Idempotency-Key must be 1 to 255 printable ASCII characters."),
    "transition_not_allowed": (409, "Die Aktion '{action}' ist im Status '{status_de}' nicht möglich.", "The action '{action}' is not possible while the case is '{status}'."),
    "no_fee_due": (409, "Für diesen Antrag ist keine Gebühr zu zahlen.", "No fee is due for this case."),
    "personal_data_erased": (409, "Die persönlichen Daten zu diesem Antrag wurden gelöscht (Konto aufgelöst); Rückfragen an die antragstellende Person sind nicht mehr möglich.", "The personal data of this case were erased (account deleted); questions to the applicant are no longer possible."),
    "payment_amount_mismatch": (409, "Der gezahlte Betrag ({paid_cents} Cent) entspricht nicht der Forderung ({due_cents} Cent).", "The amount paid ({paid_cents} cents) does not match the amount due ({due_cents} cents)."),
    "rule_invalid": (422, "Die Regel ist ungültig: {detail}", "The rule is invalid: {detail}"),
    "rule_not_found": (404, "Diese Regel gibt es nicht.", "There is no such rule."),
    "rule_shadow_run_missing": (409, "Die Regel kann erst eingeschaltet werden, wenn ein Probelauf (Schattenmodus) ihrer aktuellen Version {version} vorliegt.", "The rule can only be switched on once a shadow run of its current version {version} exists."),
    "not_decided_automatically": (409, "Dieser Antrag wurde nicht automatisch entschieden; es gibt keine automatische Entscheidung aufzuheben.", "This case was not decided automatically; there is no automatic decision to reverse."),
    "reversal_window_closed": (409, "Die automatische Entscheidung kann nur innerhalb von {hours} Stunden aufgehoben werden; diese Frist ist abgelaufen.", "An automatic decision can only be reversed within {hours} hours; that time has passed."),
    "unauthenticated": (401, "Bitte melden Sie sich an.", "Please log in."),
    "invalid_token": (401, "Ihre Anmeldung ist ungültig oder abgelaufen. Bitte melden Sie sich erneut an.", "Your login is invalid or has expired. Please log in again."),
    "forbidden": (403, "Dafür fehlt Ihnen die Berechtigung.", "You are not allowed to do this."),
    "cross_site_request": (403, "Diese Anfrage kam von einer fremden Website und wurde zu Ihrem Schutz abgelehnt.", "This request came from another website and was refused for your protection."),
    "trust_level_insufficient": (403, "Für diese Leistung müssen Sie Ihre Identität mit dem Vertrauensniveau '{required}' nachweisen (Ihr Konto: '{current}'). Bitte bestätigen Sie Ihre Identität unter 'Mein Konto' mit dem Online-Ausweis (eID).", "This service requires identity proof at level '{required}' (your account: '{current}'). Please verify your identity with the online ID (eID) under 'My account'."),
    "wrong_password": (403, "Das aktuelle Passwort ist falsch.", "The current password is wrong."),
    "invalid_credentials": (401, "E-Mail-Adresse oder Passwort sind falsch.", "E-mail address or password is wrong."),
    "rate_limited": (429, "Zu viele Versuche. Bitte warten Sie {retry_after} Sekunden.", "Too many attempts. Please wait {retry_after} seconds."),
    "account_locked": (403, "Ihr Konto ist gesperrt. Bitte wenden Sie sich an die Stelle, die Ihr Konto verwaltet.", "Your account is locked. Please contact whoever administers your account."),
    "email_not_verified": (403, "Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse über den Link in unserer E-Mail.", "Please confirm your e-mail address first, using the link in our e-mail."),
    "invalid_input": (400, "Die Eingabe ist ungültig.", "The input is invalid."),
    "invalid_email": (400, "Die E-Mail-Adresse ist ungültig.", "The e-mail address is invalid."),
    "password_rejected": (400, "Das Passwort ist nicht sicher genug ({reason}). Bitte wählen Sie mindestens 10 Zeichen, die nicht leicht zu erraten sind.", "The password is not strong enough ({reason}). Please choose at least 10 characters that are hard to guess."),
    "invalid_grant": (400, "Die Berechtigung ist ungültig.", "The grant is invalid."),
    "grant_request_not_found": (404, "Diese Anfrage auf eine Rolle gibt es nicht oder sie ist schon entschieden.", "There is no such pending role request (or it was already decided)."),
    "grant_request_expired": (409, "Diese Anfrage auf eine Rolle ist abgelaufen; sie kann nur noch abgelehnt werden. Bitte stellen Sie sie neu.", "This role request has expired; it can only be rejected now. Please request the role again."),
    "four_eyes_required": (403, "Vier-Augen-Prinzip: Eine Rolle gibt eine zweite Person frei – weder wer sie beantragt hat noch wer sie erhalten soll.", "Four-eyes principle: a role is approved by a second person — neither whoever asked for it nor whoever is to receive it."),
    "account_not_found": (404, "Dieses Konto gibt es nicht.", "There is no such account."),
    "account_deleted": (410, "Dieses Konto wurde gelöscht.", "This account was deleted."),
    "not_permitted": (403, "Das ist für dieses Konto nicht möglich.", "This is not possible for this account."),
    "token_invalid": (400, "Der Link ist ungültig, abgelaufen oder wurde schon verwendet.", "The link is invalid, expired or was already used."),
    "email_in_use": (409, "Diese E-Mail-Adresse wird bereits verwendet.", "This e-mail address is already in use."),
    "refresh_token_required": (400, "Zum Abmelden wird das Refresh-Token der Sitzung benötigt (Cookie vr_refresh oder Feld refresh_token).", "Logging out needs the session's refresh token (cookie vr_refresh or field refresh_token)."),
    "session_invalid": (401, "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.", "Your session has expired. Please log in again."),
    "eid_failed": (400, "Der Identitätsnachweis ist fehlgeschlagen: {reason}", "Identity verification failed: {reason}"),
    "service_unavailable": (503, "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.", "The service is unavailable right now. Please try again shortly."),
    "invalid_definition": (400, "Die Leistungsdefinition ist fehlerhaft: {detail}", "The service definition is invalid: {detail}"),
    "payment_not_found": (404, "Zu diesem Antrag gibt es keine Zahlung.", "There is no payment for this case."),
    "payment_closed": (409, "Für diesen Antrag ist keine Zahlung mehr möglich.", "No payment is possible for this case any more."),
    "payment_not_configured": (409, "Die Kommune {ags} nimmt noch keine Online-Zahlungen an.", "The municipality {ags} does not take online payments yet."),
    "return_url_not_allowed": (422, "Die Rücksprungadresse muss eine Adresse dieser Plattform sein (http oder https).", "The return address must be an address of this platform (http or https)."),
    "refund_not_possible": (409, "Diese Zahlung kann nicht erstattet werden: {detail}", "This payment cannot be refunded: {detail}"),
    "webhook_rejected": (400, "Die Zahlungsnachricht wurde abgewiesen ({reason}).", "The payment notice was rejected ({reason})."),
    "postbox_item_not_found": (404, "Diese Nachricht gibt es in Ihrem Postfach nicht.", "There is no such message in your postbox."),
    "document_not_found": (404, "Dieses Dokument gibt es nicht.", "There is no such document."),
    "document_erased": (410, "Dieses Dokument wurde mit dem Konto der antragstellenden Person gelöscht; Aktenzeichen, Daten und Entscheidung bleiben beim Antrag.", "This document was deleted with the applicant's account; reference, dates and decision stay with the case."),
    "draft_not_found": (404, "Den Entwurf {draft_id} gibt es nicht (mehr).", "Draft {draft_id} does not exist (any more)."),
    "draft_too_large": (413, "Der Entwurf ist zu groß (höchstens {limit} Bytes Formulardaten).", "The draft is too large (at most {limit} bytes of form data)."),
    "attachment_not_found": (404, "Die Anlage {attachment_id} gibt es nicht.", "Attachment {attachment_id} does not exist."),
    "attachment_too_large": (413, "Die Datei ist zu groß. Erlaubt sind höchstens {limit_mb} MB.", "The file is too large. At most {limit_mb} MB are allowed."),
    "attachment_type_unsupported": (415, "Dieser Dateityp wird nicht angenommen. Bitte laden Sie eine PDF-, JPEG- oder PNG-Datei hoch.", "This file type is not accepted. Please upload a PDF, JPEG or PNG file."),
    "attachment_content_invalid": (422, "Der Inhalt der Datei ist keine gültige {media_type}-Datei. Bitte laden Sie eine PDF-, JPEG- oder PNG-Datei hoch.", "The file's content is not a valid {media_type} file. Please upload a PDF, JPEG or PNG file."),
    "invalid_client": (401, "Die Zugangsdaten des Fachverfahrens (Client-ID und Geheimnis) sind ungültig, gesperrt oder noch nicht freigegeben.", "The back-office client's credentials (client id and secret) are invalid, revoked or not yet approved."),
    "submission_not_found": (404, "Die Übergabe {submission_id} gibt es für dieses Fachverfahren nicht.", "There is no submission {submission_id} for this back-office client."),
    "submission_not_available": (409, "Die Übergabe zum Antrag {case_id} ist bereits bestätigt oder gerade an ein anderes Fachverfahren vergeben.", "The submission of case {case_id} is already acknowledged or leased to another back-office client."),
    "handover_client_not_found": (404, "Den Zugang für ein Fachverfahren {client_id} gibt es hier nicht (oder er ist schon entschieden).", "There is no back-office client {client_id} here (or it was already decided)."),
    "internal_error": (500, "Ein interner Fehler ist aufgetreten. Ihre Daten sind nicht verloren; bitte versuchen Sie es erneut.", "An internal error occurred. Your data is not lost; please try again."),
}

# Details that messages name ({detail}), by key; filled from the error's other params.
TEXTS: dict[str, tuple[str, str]] = {
    "empty_body": ("leerer Inhalt", "empty body"),
    "json_object": ("JSON-Objekt erwartet", "JSON object expected"),
    "text_length": ("Text mit 1 bis {limit} Zeichen erwartet", "text of 1 to {limit} characters expected"),
    "text_max": ("Text bis {limit} Zeichen", "text up to {limit} characters"),
    "list": ("Liste erwartet", "list expected"),
    "integer_min_0": ("ganze Zahl ≥ 0 erwartet", "integer ≥ 0 expected"),
    "iso_date": ("Datum JJJJ-MM-TT erwartet", "date YYYY-MM-DD expected"),
    "period_days": ("Zeitraum von höchstens {limit} Tagen, from nicht nach to", "a period of at most {limit} days, from not after to"),
    "with_time_zone": ("Zeitpunkt mit Zeitzone erwartet", "instant with time zone expected"),
    "range": ("{low}–{high}", "{low}–{high}"),
    "iso_instant": ("Zeitpunkt nach ISO 8601 erwartet, z. B. 2026-03-03T12:00:00Z", "ISO 8601 instant expected, e.g. 2026-03-03T12:00:00Z"),
    "one_of": ("eines von: {choices}", "one of: {choices}"),
    "applicant_account": ("bestehendes Konto einer Bürgerin, eines Bürgers oder einer Organisation", "an existing citizen or organisation account"),
    "staff_kind_role": ("Art clerk oder tenant_admin; Rolle clerk, team_lead oder tenant_admin", "kind clerk or tenant_admin; role clerk, team_lead or tenant_admin"),
    "query_empty": ("leer", "empty"),
    "http_url": ("http(s)-Adresse bis {limit} Zeichen oder null erwartet", "http(s) URL up to {limit} characters or null expected"),
    "hex_id": ("{length} Hexadezimalziffern erwartet", "{length} hexadecimal digits expected"),
    "query_too_long": ("höchstens {limit} Zeichen", "at most {limit} characters"),
    "limit_range": ("Anzahl von {low} bis {high}", "a count from {low} to {high}"),
    "code_taken": ("bereits vergeben", "already taken"),
    "district_hosted": ("AGS eines Landkreises auf der Plattform", "AGS of a hosted district"),
    "digits": ("{count} Ziffern", "{count} digits"),
    "tenant_code": ("2–5 Zeichen A–Z, 0–9, zuerst ein Buchstabe", "2–5 of A–Z, 0–9, starting with a letter"),
    "nesting_depth": ("höchstens {limit} Ebenen Verschachtelung", "nested at most {limit} levels deep"),
    "sepa_text": ("höchstens {limit} Zeichen des SEPA-Zeichensatzes", "at most {limit} characters of the SEPA character set"),
    "refund_not_paid": ("sie ist nicht bezahlt", "it is not paid"),
    "refund_pending": ("eine Erstattung läuft bereits", "a refund is already under way"),
    "refund_amount": ("höchstens {limit} Cent sind erstattbar", "at most {limit} cents can be refunded"),
    "deletion_pending": ("Ihr Konto ist gesperrt und wird gelöscht. Die Löschung Ihrer Daten in Ihren Anträgen wird gerade abgeschlossen; sie wird automatisch wiederholt, bis sie vollständig ist.", "Your account is disabled and being deleted. Erasing your data in your applications is being completed and is retried automatically until it is done."),
    "field_required": ("Dieses Feld ist erforderlich.", "This field is required."),
    "field_unknown": ("Unbekanntes Feld.", "Unknown field."),
    "attachment_reference": ("Bitte laden Sie die Datei hoch (Verweis auf eine eigene hochgeladene Anlage erwartet).", "Please upload the file (a reference to an attachment you uploaded is expected)."),
    "field_scalar": ("Ein einzelner Wert wird erwartet.", "A single value is expected."),
    "page_name": ("Seitenname aus 1–64 Zeichen A–Z, a–z, 0–9, _ oder - oder eine Seitennummer", "page name of 1–64 characters A–Z, a–z, 0–9, _ or -, or a page number"),
    "profile_postal_code": ("Bitte geben Sie eine fünfstellige Postleitzahl an.", "Please enter a five-digit postcode."),
    "profile_house_number": ("Bitte geben Sie eine Hausnummer wie 12, 12a oder 12-14 an.", "Please enter a house number such as 12, 12a or 12-14."),
    "profile_phone": ("Bitte geben Sie eine Telefonnummer aus Ziffern an (6 bis 30 Zeichen, + ( ) / - und Leerzeichen erlaubt).", "Please enter a phone number of digits (6 to 30 characters; + ( ) / - and spaces allowed)."),
    "profile_birth_date": ("Bitte geben Sie ein Geburtsdatum JJJJ-MM-TT an, nicht in der Zukunft.", "Please enter a date of birth YYYY-MM-DD, not in the future."),
    "field_invalid": ("Ungültiger Wert ({rule}).", "{detail}"),
}

TITLES = {
    400: ("Ungültige Anfrage", "Bad Request"),
    404: ("Nicht gefunden", "Not Found"),
    405: ("Methode nicht erlaubt", "Method Not Allowed"),
    401: ("Nicht angemeldet", "Unauthorized"),
    403: ("Verboten", "Forbidden"),
    409: ("Konflikt", "Conflict"),
    410: ("Gelöscht", "Gone"),
    429: ("Zu viele Anfragen", "Too Many Requests"),
    413: ("Anfrage zu groß", "Payload Too Large"),
    415: ("Nicht unterstütztes Format", "Unsupported Media Type"),
    422: ("Nicht verarbeitbar", "Unprocessable Content"),
    500: ("Interner Fehler", "Internal Server Error"),
    503: ("Dienst nicht verfügbar", "Service Unavailable"),
}


MARKER = "domain_error"


def text(key: str, **params: Any) -> dict[str, Any]:
    """A detail from :data:`TEXTS`, rendered in the caller's language with ``params``.
    Plain JSON, so it crosses RPC inside an error's params unchanged."""
    if key not in TEXTS:
        raise KeyError(key)
    return {"text": key, **params}


def render(value: Any, lang: str) -> Any:
    """A :func:`text` reference in the caller's language; any other value as it is."""
    if isinstance(value, dict) and value.get("text") in TEXTS:
        de, en = TEXTS[value["text"]]
        params = {k: v for k, v in value.items() if k != "text"}
        try:
            return (en if lang == "en" else de).format(**params)
        except (KeyError, IndexError):
            return en if lang == "en" else de
    return value


class DomainError(Exception):
    """A rule of the domain said no. ``code`` is stable (a key of :data:`MESSAGES`);
    ``params`` fill the message. Subclasses set ``code``; ``log_message`` is for logs
    only and never crosses a service boundary."""

    code = "invalid_request"

    def __init__(self, code: str | None = None, log_message: str = "", **params: Any):
        self.code = code or type(self).code
        self.params = params
        self.log_message = log_message
        super().__init__(self.to_json())

    @property
    def status(self) -> int:
        return MESSAGES.get(self.code, (400,))[0]

    def to_json(self) -> str:
        return json.dumps({MARKER: 1, "code": self.code, "params": self.params}, default=str)

    @classmethod
    def from_json(cls, value: str) -> DomainError | None:
        """The error a remote service raised, if ``value`` is a serialised DomainError."""
        try:
            data = json.loads(value)
            if not isinstance(data, dict) or data.get(MARKER) != 1:
                return None
            return cls(str(data["code"]), **data.get("params", {}))
        except (ValueError, KeyError, TypeError):
            return None


def language(accept_language: str | None) -> str:
    """German unless the caller prefers English (``Accept-Language``; q-values honoured)."""
    best, best_q = "de", -1.0
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        primary = tag.strip().lower()[:2]
        if primary in ("de", "en") and weight > best_q:
            best, best_q = primary, weight
    return best


def problem(code: str, lang: str = "de", instance: str | None = None, **params: Any) -> dict[str, Any]:
    """Build an RFC 9457 problem document."""
    status, de, en = MESSAGES.get(code, MESSAGES["invalid_request"])
    template = en if lang == "en" else de
    try:
        detail = template.format(**{key: render(value, lang) for key, value in params.items()})
    except (KeyError, IndexError):
        detail = template
    title_de, title_en = TITLES.get(status, ("Fehler", "Error"))
    body: dict[str, Any] = {
        "type": f"https://virtuelles-rathaus.de/probleme/{code}",
        "title": title_en if lang == "en" else title_de,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if "errors" in params:
        body["errors"] = [
            {**e, "message": render(e["message"], lang)} if isinstance(e, dict) and "message" in e else e
            for e in params["errors"]
        ]
    return body
