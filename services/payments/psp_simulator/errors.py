"""The simulator's API errors: JSON ``{"error": {"code", "message", ...}}`` with an HTTP status.

The simulator is another company: its errors are its own, not the platform's problem+json.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error answered to the caller; ``code`` is stable, ``message`` English for people."""

    def __init__(self, status: int, error_code: str, message: str, **details: Any) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.details = details

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.error_code, "message": self.message, **self.details}}, self.status)


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_request", message, field=field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")
