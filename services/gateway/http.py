"""HTTP plumbing of the gateway: JSON and problem+json responses, body limits, the
principal, and one decorator that maps every error to a clear response."""

from __future__ import annotations

import functools
import inspect
import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any

from amqp.exceptions import AMQPError
from eventlet import Timeout
from kombu.exceptions import OperationalError
from nameko.exceptions import IncorrectSignature, RemoteError, UnknownService
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from services.common import logs, metrics
from services.common.broker_watch import WATCH
from services.common.nameko_deps import database_unavailable, domain_error
from services.common.problems import DomainError, language, problem, text
from services.gateway.csrf import check_request_site, is_json

MAX_BODY = 1_000_000  # bytes
MAX_DEPTH = 32  # nesting of arrays and objects: forms are flat, a few levels at most
#: Routes answered without the services behind the gateway (liveness stays 200 while the broker is away).
LOCAL_ROUTES = frozenset({"health_live"})


class NoDelayWebServer(WebServer):
    """nameko's web server with TCP_NODELAY (inherited by accepted sockets): without it the
    last piece of a response over 16 KiB waits for the client's delayed ACK (~40 ms)."""

    def get_wsgi_server(self, sock: Any, wsgi_app: Any, **kwargs: Any) -> Any:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().get_wsgi_server(sock, wsgi_app, **kwargs)


class HttpEntrypoint(HttpRequestHandler):
    """nameko's HTTP entrypoint, but the handler's signature is read once: nameko's own
    check rebuilt it with ``inspect.getcallargs`` on every request (~4 % of the gateway's CPU)."""

    server = NoDelayWebServer()
    _signature: inspect.Signature | None = None

    def check_signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._signature is None:  # what getcallargs checks: the wrapper itself, not what it wraps
            self._signature = inspect.signature(getattr(self.container.service_cls, self.method_name), follow_wrapped=False)
        try:
            self._signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None


http = HttpEntrypoint.decorator
log = logs.get_logger("gateway")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None, lang: str = "de") -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype="application/json"
    )
    response.headers["Content-Language"] = lang
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def problem_response(code: str, lang: str, instance: str | None = None, **params: Any) -> Response:
    body = problem(code, lang, instance, **params)
    response = Response(json.dumps(body, ensure_ascii=False), status=body["status"], mimetype="application/problem+json")
    response.headers["Content-Language"] = lang
    if body["status"] == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="virtuelles-rathaus"'
    if params.get("retry_after"):
        response.headers["Retry-After"] = str(params["retry_after"])
    return response


def read_json(request: Request) -> Any:
    """The request body as JSON, with a size limit and clear errors."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise DomainError("payload_too_large", limit=MAX_BODY)
    if not is_json(request.mimetype or "application/json"):
        raise DomainError("unsupported_media_type")
    request.max_content_length = MAX_BODY
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise DomainError("payload_too_large", limit=MAX_BODY) from None
    if len(raw) > MAX_BODY:
        raise DomainError("payload_too_large", limit=MAX_BODY)
    if not raw.strip():
        raise DomainError("malformed_json", detail=text("empty_body"))
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except RecursionError:  # "[[[[…" deeper than the parser's stack: bad input, not a bug
        raise DomainError("malformed_json", detail=text("nesting_depth", limit=MAX_DEPTH)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError("malformed_json", detail=str(exc)[:200]) from None
    # each level needs an opening bracket of its own: with no more brackets than the limit
    # (counted in C, strings included) the walk through the body cannot find too deep a nesting
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and nesting_depth(body) > MAX_DEPTH:
        raise DomainError("malformed_json", detail=text("nesting_depth", limit=MAX_DEPTH))
    return body


def _not_json(name: str) -> Any:
    """NaN and Infinity, which Python's parser accepts, are not JSON (and a NaN made
    jsonschema's multipleOf raise)."""
    raise ValueError(f"{name} is not a JSON value")


def nesting_depth(value: Any) -> int:
    """How deeply arrays and objects nest (iteratively, so no input can exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def endpoint(route: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a handler: correlation id in and out, language, metrics, cross-site requests
    refused (:mod:`.csrf`), errors → problem+json."""

    def decorate(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(self: Any, request: Request, **kwargs: Any) -> Response:
            started = time.perf_counter()
            lang = language(request.headers.get("Accept-Language"))
            cid = self.correlation(request.headers.get(logs.CORRELATION_HEADER))
            try:
                if WATCH.down and route not in LOCAL_ROUTES:  # no RPC can be sent: say so at once
                    raise DomainError("service_unavailable", retry_after=WATCH.retry_after())
                with Timeout(self.config.gateway_request_timeout):  # never a request that hangs
                    check_request_site(request, self.config)  # CSRF: before anything is looked at
                    principal = self.auth.principal(request, self.identity)
                    response = handler(self, request, lang=lang, principal=principal, **kwargs)
            except DomainError as exc:
                response = problem_response(exc.code, lang, request.path, **exc.params)
            except RemoteError as exc:
                error = domain_error(exc)
                if error is None and database_unavailable(exc):  # its database is away: retry later
                    log.warning("service_unavailable", exc_type=exc.exc_type, value=str(exc.value)[:300])
                    response = problem_response("service_unavailable", lang, request.path, retry_after=WATCH.retry_after())
                elif error is None:
                    log.error("remote_error", exc_type=exc.exc_type, value=str(exc.value)[:500])
                    response = problem_response("internal_error", lang, request.path)
                else:
                    response = problem_response(error.code, lang, request.path, **error.params)
            except (UnknownService, Timeout, ConnectionError, OSError, OperationalError, AMQPError) as exc:
                # a service or the broker did not answer (in time): retry later, never a 500
                log.warning("service_unavailable", error=repr(exc)[:300])
                response = problem_response("service_unavailable", lang, request.path, retry_after=WATCH.retry_after())
            except Exception:
                log.exception("unhandled_error")
                response = problem_response("internal_error", lang, request.path)
            response.headers[logs.CORRELATION_HEADER] = cid
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).observe(elapsed)
            log.info("http_request", route=route, method=request.method, status=response.status_code,
                     ms=round(elapsed * 1000, 2))
            return response

        return wrapper

    return decorate


def client_ip(request: Request, trusted_proxies: frozenset[str]) -> str | None:
    """The caller's address: behind a trusted reverse proxy (TRUSTED_PROXIES), the nearest
    address in X-Forwarded-For that is not one of our proxies; never a spoofable header otherwise."""
    address = request.remote_addr
    if address in trusted_proxies:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in trusted_proxies:
                return hop[:64]
    return address


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or not low <= int(raw) <= high:
        raise DomainError("invalid_parameter", name=name, detail=text("range", low=low, high=high))
    return int(raw)


def query_choice(request: Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise DomainError("invalid_parameter", name=name, detail=", ".join(choices))
    return raw
