"""Who may do what over HTTP (and gRPC): basic auth against the web config file, roles, the admin gate, CORS.

Basic auth answers as Prometheus's exporter-toolkit does: missing or wrong credentials get
``401 Unauthorized`` with ``WWW-Authenticate: Basic``; an unknown user is checked against a fixed hash so
the answer takes as long as for a known one. A bcrypt check costs tens of milliseconds, so results are
cached (per user, hash and password, under a keyed digest so the cache holds no password) and the few
checks that do run go to a worker thread, one at a time, off the event loop.

Roles are a tsdb extension set in tsdb.yml (``web_roles: {user: read|write|admin}``), since promtool
refuses unknown keys in the web config file: ``read`` = queries, status and the UI; ``write`` = read +
remote-write, gRPC Write and Alertmanager/UI changes; ``admin`` = write + ``/-/reload`` and
``/api/v1/admin/*``. With no ``web_roles`` every authenticated user has every role (as in Prometheus);
with some, a user who is not listed has none. A missing role is ``403`` naming it.

Cross-site request forgery: a browser sends a page's form POST to any site, with the user's credentials.
A request that changes state (anything that needs the write or admin role) and that a browser marks as
coming from another site (``Sec-Fetch-Site: cross-site`` or ``same-site``, or an ``Origin`` whose host is
not this server's) is refused with ``403``, unless its origin matches ``--web.cors.origin`` set to
something narrower than the default ``.*``. Clients other than browsers (Prometheus, Grafana's server
side, amtool, curl) send neither header and are not affected.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor

import bcrypt
from aiohttp import web

from tsdb.server.webconfig import WebConfig, WebConfigWatcher

ROLES = ("read", "write", "admin")
# A bcrypt hash of a password nobody has: checked for unknown users so timing does not reveal them.
_DECOY_HASH = b"$2b$10$U5Emwd6RvLyPiHotPAC3RuCGYUnH60v041obGX45Bi5NmxACG.X.."
_CACHE_SIZE = 100
# POST forms of read endpoints (Prometheus accepts long queries as form bodies).
_READ_POSTS = frozenset({"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
                         "/api/v1/query_exemplars", "/api/v1/format_query", "/api/v1/parse_query",
                         "/api/v1/read"})
_LABEL_VALUES = re.compile(r"^/api/v1/label/[^/]+/values$")
ADMIN_PREFIX = "/api/v1/admin/"
CORS_PREFIX = "/api/v1/"  # Prometheus answers CORS on its API v1 only
_ADMIN_PATHS = frozenset({"/-/reload", "/-/quit"})


class Authenticator:
    """Checks a user's password against the bcrypt hashes of a :class:`WebConfig`, with a bounded cache."""

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._cache: dict[bytes, bool] = {}
        self._lock = threading.Lock()
        self._bcrypt = threading.Lock()  # one bcrypt at a time: it is CPU bound

    def _digest(self, user: str, hashed: str, password: str) -> bytes:
        message = b"\0".join((user.encode(), hashed.encode(), password.encode()))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def cached(self, users: Mapping[str, str], user: str, password: str) -> bool | None:
        """The cached verdict, or None when :meth:`verify` must run bcrypt."""
        with self._lock:
            return self._cache.get(self._digest(user, users.get(user, ""), password))

    def verify(self, users: Mapping[str, str], user: str, password: str) -> bool:
        """True when ``user`` exists and ``password`` matches its hash (blocking: run it off the loop)."""
        hashed = users.get(user)
        key = self._digest(user, hashed or "", password)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        with self._bcrypt:
            try:
                matched = bcrypt.checkpw(password.encode(), (hashed or "").encode() or _DECOY_HASH)
            except ValueError:
                matched = False
        verdict = hashed is not None and matched
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = verdict
        return verdict


def parse_basic(header: str) -> tuple[str, str] | None:
    """``Basic base64(user:password)`` -> (user, password); None when absent or malformed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def required_role(method: str, path: str, content_type: str = "") -> str:
    """The role an HTTP request needs (a JSON ``POST /api/v1/series`` is a DataDog write, not a lookup)."""
    if path in _ADMIN_PATHS or path.startswith(ADMIN_PREFIX):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path == "/api/v1/series" and content_type == "application/json":
        return "write"
    if method == "POST" and (path in _READ_POSTS or _LABEL_VALUES.match(path)):
        return "read"
    return "write"


def has_role(roles: Mapping[str, str], user: str, needed: str) -> bool:
    """Whether ``user`` holds ``needed`` (roles are ordered read < write < admin; no roles = all)."""
    if not roles:
        return True
    held = roles.get(user)
    return held is not None and ROLES.index(held) >= ROLES.index(needed)


def cross_site(request: web.Request, allowed: re.Pattern[str] | None) -> str | None:
    """The foreign origin of a browser request from another site (None when same-origin, not from a
    browser, or from an origin ``allowed`` names)."""
    origin = request.headers.get("Origin", "")
    fetch_site = request.headers.get("Sec-Fetch-Site", "")
    if origin and origin != "null":
        host = urllib.parse.urlsplit(origin).netloc.lower()
        own = {request.host.lower(), request.headers.get("X-Forwarded-Host", "").lower()} - {""}
        if host in own:
            return None
    elif fetch_site not in ("cross-site", "same-site") and origin != "null":
        return None
    if allowed is not None and origin and allowed.match(origin):
        return None
    return origin or f"a {fetch_site} page"


def _unauthorized() -> web.Response:
    return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": "Basic"})


def _forbidden(user: str, needed: str) -> web.Response:
    return web.Response(status=403, text=f"Forbidden: user {user!r} lacks the {needed} role\n")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access:
    """The HTTP access layer: one aiohttp middleware and one response-prepare hook (see the module doc)."""

    def __init__(self, watcher: WebConfigWatcher | None, roles: Callable[[], Mapping[str, str]],
                 admin_enabled: bool, cors_origin: str, executor: Executor | None = None) -> None:
        self.watcher = watcher
        self.roles = roles
        self.admin_enabled = admin_enabled
        self.cors = re.compile(f"^(?:{cors_origin})$")
        self.any_origin = cors_origin == ".*"
        self.executor = executor
        self.authenticator = Authenticator()

    def config(self) -> WebConfig | None:
        return self.watcher.current() if self.watcher is not None else WebConfig()

    async def authenticate(self, config: WebConfig, authorization: str) -> str | None:
        """The authenticated user name ("" with no users configured), or None."""
        if not config.users:
            return ""
        credentials = parse_basic(authorization)
        if credentials is None:
            return None
        user, password = credentials
        verdict = self.authenticator.cached(config.users, user, password)
        if verdict is None:
            verdict = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.authenticator.verify, config.users, user, password)
        return user if verdict else None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        config = self.config()
        if config is None:  # the web config file became invalid: fail closed (logged by the watcher)
            return web.Response(status=500, text="Internal Server Error\n")
        user = await self.authenticate(config, request.headers.get("Authorization", ""))
        if user is None:
            return _unauthorized()
        needed = required_role(request.method, request.path, request.content_type)
        if config.users and not has_role(self.roles(), user, needed):
            return _forbidden(user, needed)
        if request.path.startswith(ADMIN_PREFIX) and not self.admin_enabled:  # Prometheus 2.42 answers 500
            return web.json_response({"status": "error", "errorType": "unavailable",
                                      "error": "admin APIs disabled"}, status=500)
        if request.method == "OPTIONS" and request.path.startswith(CORS_PREFIX):
            return web.Response(status=204)  # CORS preflight; the headers come from on_prepare
        if needed != "read":
            foreign = cross_site(request, None if self.any_origin else self.cors)
            if foreign is not None:
                return web.Response(status=403, text=f"Forbidden: a {request.method} to {request.path} from "
                                    f"{foreign} (another site); allow that origin with --web.cors.origin\n")
        return await handler(request)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Adds the web config's headers to every response and CORS headers to API answers."""
        config = self.config()
        if config is not None:
            for name, value in config.headers.items():
                response.headers[name] = value
        origin = request.headers.get("Origin")
        if not origin or not request.path.startswith(CORS_PREFIX):
            return
        # as Prometheus: these always, the allowed origin only when it matches ("*" for the default .*)
        response.headers["Access-Control-Allow-Headers"] = "Accept, Authorization, Content-Type, Origin"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Expose-Headers"] = "Date"
        response.headers["Vary"] = "Origin"
        if self.any_origin:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif self.cors.match(origin):
            response.headers["Access-Control-Allow-Origin"] = origin

