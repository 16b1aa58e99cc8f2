"""Serving the built UI bundle (``index.html`` plus ``assets/*``, by default from ``tsdb/ui/static/``).

``GET /`` redirects to ``/ui/``; ``/ui/assets/<path>`` are the bundle's files, cached for a year (their names
carry a content hash); every other ``/ui`` path answers ``index.html`` (the single-page app routes in the
browser) with ``Cache-Control: no-cache``, and so does ``/graph`` (the query explorer, at Prometheus's URL);
``/ui/explore?expr=…`` links redirect there (:mod:`tsdb.ui.links`).
Without ``index.html`` (bundle not built) ``/ui`` answers 503.
Every ``/ui`` response carries ``Content-Security-Policy: frame-ancestors ...`` and
``X-Content-Type-Options: nosniff``. Text files are sent gzip-compressed when the client accepts it: a
precompressed ``<file>.gz`` when present, else compressed once and kept in memory."""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from tsdb.ui.links import graph_url

DEFAULT_ROOT = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "application/javascript", ".mjs": "application/javascript", ".css": "text/css",
    ".html": "text/html", ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
    ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".png": "image/png", ".jpg": "image/jpeg",
    ".ico": "image/x-icon", ".txt": "text/plain", ".wasm": "application/wasm", ".webp": "image/webp"}
COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".json", ".map", ".svg", ".txt"}
MISSING_BUNDLE = ("The tsdb UI bundle is missing: index.html was not built into this installation "
                  "(build the UI, then reinstall tsdb). The HTTP API under /api/v1/ works without it.\n")


def frame_ancestors_header(sources: Sequence[str]) -> str:
    """The Content-Security-Policy value for the allowed embedders (none: ``'none'``)."""
    return "frame-ancestors " + (" ".join(sources) if sources else "'none'")


class _File:
    """One file's bytes (and their gzip form, made on first need), valid while size and mtime match."""

    def __init__(self, path: Path, stamp: tuple[int, int]) -> None:
        self.stamp = stamp
        self.body = path.read_bytes()
        gz = path.with_name(path.name + ".gz")
        self.gzip: bytes | None = gz.read_bytes() if gz.is_file() else None

    def compressed(self) -> bytes:
        if self.gzip is None:
            self.gzip = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self.gzip


class StaticUi:
    """Routes for ``/`` and ``/ui...``; ``frame_ancestors`` may be replaced while running (reload)."""

    def __init__(self, root: Path = DEFAULT_ROOT, frame_ancestors: Sequence[str] = ("'self'",)) -> None:
        self.root = root
        self.frame_ancestors = list(frame_ancestors)
        self._cache: dict[Path, _File] = {}

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/", self.home), web.get("/ui", self.index), web.get("/ui/assets/{path:.*}", self.asset),
                web.get("/ui/explore", self.old_explorer), web.get("/ui/{tail:.*}", self.index),
                web.get("/graph", self.index)]

    def _headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": frame_ancestors_header(self.frame_ancestors),
                "X-Content-Type-Options": "nosniff"}

    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/ui/")

    async def old_explorer(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(graph_url(request.query, int(time.time() * 1000)), headers=self._headers())

    def _load(self, path: Path) -> _File | None:
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(path)
            if cached is None or cached.stamp != stamp:
                cached = self._cache[path] = _File(path, stamp)
            return cached
        except OSError:  # vanished or unreadable between the check and the read
            return None

    async def _send(self, request: web.Request, path: Path, cache_control: str) -> web.Response | None:
        loaded = await asyncio.to_thread(self._load, path)
        if loaded is None:
            return None
        suffix = path.suffix.lower()
        headers = {**self._headers(), "Cache-Control": cache_control}
        content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
            content_type += "; charset=utf-8"
        headers["Content-Type"] = content_type
        body = loaded.body
        if suffix in COMPRESSIBLE or loaded.gzip is not None:
            headers["Vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("Accept-Encoding", "").lower():
                body = await asyncio.to_thread(loaded.compressed)
                headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def asset(self, request: web.Request) -> web.Response:
        assets = (self.root / "assets").resolve()
        rel = request.match_info["path"]
        if rel and "\x00" not in rel and "\\" not in rel:
            candidate = (assets / rel).resolve()
            if candidate.is_relative_to(assets) and candidate.is_file():
                response = await self._send(request, candidate, IMMUTABLE)
                if response is not None:
                    return response
        return web.Response(status=404, text="not found\n", headers=self._headers())

    async def index(self, request: web.Request) -> web.Response:
        response = await self._send(request, self.root / "index.html", "no-cache")
        if response is None:
            headers = {**self._headers(), "Cache-Control": "no-cache"}
            return web.Response(status=503, text=MISSING_BUNDLE, headers=headers)
        return response
