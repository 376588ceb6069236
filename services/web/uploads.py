"""File fields of a form: the browser posts the page as multipart to the web, which sends
each file on to the gateway (``POST /api/v1/attachments``, raw body) and keeps only the
answer's ``{"attachment_id": …}`` in the draft. The type is told by the file's first bytes
(as the gateway checks it), never by its name; the gateway's refusals (type, size,
content) become the field's error in plain words. The names of the files shown on the
check-answers page stay in the web session (the draft holds only the reference)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request

from services.web.forms import Field
from services.web.gateway import ApiError
from services.web.i18n import Texts
from services.web.pages import api, session_of

MAX_READ = 50_000_000  # bytes read from one upload at most; the gateway's limit is smaller
SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
REFUSALS = {"attachment_too_large", "attachment_type_unsupported", "attachment_content_invalid", "invalid_request",
            "unsupported_media_type"}


def sniff(head: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)


def names(request: Request) -> dict[str, str]:
    """attachment id → file name, for this session's uploads."""
    return session_of(request).data.setdefault("uploads", {})


async def upload(request: Request, item: Field, file: UploadFile, texts: Texts) -> tuple[dict[str, Any] | None, str | None]:
    """The field's new value, or the error to show."""
    content = await file.read(MAX_READ + 1)
    kind = sniff(content[:16])
    if not content:
        return None, texts.gettext("Die ausgewählte Datei ist leer.")
    if kind is None or kind not in item.accept:
        return None, texts.gettext("Dieser Dateityp wird nicht angenommen. Bitte laden Sie eine PDF-, JPEG- oder PNG-Datei hoch.")
    try:
        answer = await api(request, "POST", "/api/v1/attachments", content=content,
                           headers={"Content-Type": kind, "X-Filename": quote(file.filename or "", safe="")})
    except ApiError as error:
        if error.code in REFUSALS:
            return None, error.detail
        raise
    names(request)[answer["attachment_id"]] = f"{answer['filename'] or file.filename} ({answer['size'] // 1000 or 1} KB)"
    return {"attachment_id": answer["attachment_id"]}, None


def shown(request: Request, value: Any, texts: Texts) -> str:
    """A file field's value on the check-answers page: the file's name where known."""
    if not isinstance(value, dict):
        return ""
    return names(request).get(str(value.get("attachment_id")), texts.gettext("Datei hochgeladen"))
