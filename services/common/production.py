"""The production switch: with ``VR_ENV=production`` no process starts on a development
setting that would be unsafe there.

The defaults make `make run` work on a laptop — the eID simulator, login cookies over plain
HTTP, a signing key and a secret generated under ``var/``, RabbitMQ's guest account, mails
written to a file, links to ``http://127.0.0.1``. Each is a security hole in production and
none of them is visible from outside until it is exploited. So one switch turns them from
defaults into refusals: every process (nameko services through
:mod:`services.common.launch`, the relay, the projector and ``deploy/run.py``) calls
:func:`refuse_unsafe_start` first and exits, one line per problem, before it opens a store
or a connection.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

from services.common.config import IdentitySettings, Settings, WebSettings

ENVIRONMENTS = ("development", "production")
#: Exit status of a refused start (EX_CONFIG of sysexits.h: a configuration error).
EXIT_REFUSED = 78
MIN_SECRET_BYTES = 32  # as services.common.secrets demands of a configured secret


def unsafe_settings(env: Mapping[str, str] | None = None) -> list[str]:
    """What makes the settings unfit for production, one sentence each (starting with the
    variable to change); empty in development or when nothing is unsafe."""
    current = Settings.from_env(env)
    if current.vr_env not in ENVIRONMENTS:
        return [f"VR_ENV={current.vr_env!r} is neither 'development' nor 'production'; say which it is"]
    if current.vr_env != "production":
        return []
    identity = IdentitySettings.from_env(env)
    web = WebSettings.from_env(env)
    broker = urlsplit(current.amqp_uri)
    checks = [
        (current.eid_provider == "simulated",
         "IDENTITY_EID_PROVIDER=simulated: the eID simulator confirms any identity anyone types in; "
         "configure the real eID provider (or none)"),
        (not current.cookie_secure,
         "COOKIE_SECURE=0: login cookies would travel over plain HTTP; serve HTTPS and leave COOKIE_SECURE on"),
        (not identity.signing_key_file,
         "IDENTITY_SIGNING_KEY_FILE is not set: a development signing key would be generated under "
         "VR_VAR_DIR; configure the access-token signing key (and IDENTITY_SIGNING_KEY_ID)"),
        (broker.username == "guest" and broker.password == "guest",
         "AMQP_URI uses RabbitMQ's default guest/guest account; give the platform a broker user of its own"),
        (not current.vr_secret_key,
         "VR_SECRET_KEY is not set: a development secret would be generated under VR_VAR_DIR; "
         f"configure a random secret of at least {MIN_SECRET_BYTES} bytes"),
        (0 < len(current.vr_secret_key.encode("utf-8")) < MIN_SECRET_BYTES,
         f"VR_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes"),
        (not web.session_secret,
         "WEB_SESSION_SECRET is not set: a development key would be generated under VR_VAR_DIR; configure a "
         f"random key of at least {MIN_SECRET_BYTES} bytes, the same on every web replica"),
        (any(0 < len(key.strip().encode("utf-8")) < MIN_SECRET_BYTES for key in web.session_secret.split(",")),
         f"WEB_SESSION_SECRET has a key shorter than {MIN_SECRET_BYTES} bytes"),
        (bool(web.dev_mail_sink_url),
         "WEB_DEV_MAIL_SINK_URL is set: the portal would link to a development mail sink; unset it"),
        (not web.cookie_secure,
         f"WEB_PUBLIC_URL={web.public_url} is not https: the portal's session cookie would travel over plain HTTP"),
        (urlsplit(current.public_base_url).scheme != "https",
         f"PUBLIC_BASE_URL={current.public_base_url} is not https: links in mails would go out over plain HTTP"),
    ]
    return [message for unsafe, message in checks if unsafe]


def refuse_unsafe_start(process: str, env: Mapping[str, str] | None = None) -> None:
    """Exit (status :data:`EXIT_REFUSED`) with one line per problem on stderr if the
    settings are unfit for production; return quietly otherwise."""
    problems = unsafe_settings(env)
    if not problems:
        return
    for problem in problems:
        print(f"{process}: refusing to start with VR_ENV=production: {problem}", file=sys.stderr)
    raise SystemExit(EXIT_REFUSED)
