"""The web front end: every municipality's citizen portal (``/{tenant-slug}/``), "Mein
Rathaus" and the clerk workspace (``/verwaltung/``).

Its own plain process (Starlette + Jinja2 + uvicorn, no eventlet), a client of the
gateway's public JSON API over HTTP: every page action is an API action, authorisation
stays in the gateway, and the web keeps no case data of its own. The gateway's tokens
stay in the web's server-side session store; the browser only holds an opaque cookie.
"""
