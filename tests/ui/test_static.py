"""Serving the UI bundle from a bundle directory: redirects, SPA fallback with no-cache, immutable assets
with their content types, gzip (precompressed or on the fly), path traversal refused, 503 without a bundle,
and the security headers on every /ui response."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from tsdb.ui.static import StaticUi, frame_ancestors_header

Scenario = Callable[[TestClient, StaticUi], Awaitable[None]]  # type: ignore[type-arg]


def _bundle(root: Path) -> None:
    (root / "assets" / "fonts").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=app></div>")
    (root / "assets" / "app-1234.js").write_text("console.log('tsdb');\n" * 200)
    (root / "assets" / "app-1234.css").write_text("body { margin: 0 }\n" * 200)
    (root / "assets" / "app-1234.js.map").write_text('{"version": 3}')
    (root / "assets" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "assets" / "fonts" / "inter.woff2").write_bytes(b"wOF2\x00\x01")
    (root / "assets" / "pre.js").write_text("let precompressed = 1;\n")
    (root / "assets" / "pre.js.gz").write_bytes(gzip.compress(b"let precompressed = 'from .gz';\n"))
    (root / "secret.txt").write_text("outside assets")


def _run(root: Path, scenario: Scenario, frame_ancestors: tuple[str, ...] = ("'self'",)) -> None:
    async def main() -> None:
        ui = StaticUi(root, frame_ancestors)
        app = web.Application()
        app.add_routes(ui.routes())
        client = TestClient(TestServer(app), auto_decompress=False)
        await client.start_server()
        try:
            await scenario(client, ui)
        finally:
            await client.close()

    asyncio.run(main())


def _secure(response: aiohttp.ClientResponse, csp: str = "frame-ancestors 'self'") -> None:
    assert response.headers["Content-Security-Policy"] == csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_bundle(tmp_path: Path) -> None:
    _bundle(tmp_path)

    async def scenario(client: TestClient, ui: StaticUi) -> None:  # type: ignore[type-arg]
        response = await client.get("/", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/ui/"
        for path in ("/ui", "/ui/", "/ui/d/host-overview", "/ui/d-solo/x?panelId=2", "/ui/import", "/ui/a/b/c"):
            response = await client.get(path, headers={"Accept-Encoding": "identity"})
            assert response.status == 200, path
            assert await response.text() == "<!doctype html><div id=app></div>"
            assert response.headers["Content-Type"].startswith("text/html")
            assert response.headers["Cache-Control"] == "no-cache"
            _secure(response)
        for name, content_type in (("app-1234.js", "application/javascript"), ("app-1234.css", "text/css"),
                                   ("app-1234.js.map", "application/json"), ("logo.svg", "image/svg+xml"),
                                   ("fonts/inter.woff2", "font/woff2")):
            response = await client.get(f"/ui/assets/{name}", headers={"Accept-Encoding": "identity"})
            assert response.status == 200, name
            assert response.headers["Content-Type"].split(";")[0] == content_type
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert "Content-Encoding" not in response.headers
            assert await response.read() == (tmp_path / "assets" / name).read_bytes()
            _secure(response)
        # gzip: compressed on the fly (once), or the precompressed file
        for _ in range(2):
            response = await client.get("/ui/assets/app-1234.js", headers={"Accept-Encoding": "gzip, br"})
            assert response.headers["Content-Encoding"] == "gzip" and response.headers["Vary"] == "Accept-Encoding"
            body = await response.read()
            assert gzip.decompress(body) == (tmp_path / "assets" / "app-1234.js").read_bytes()
            assert len(body) < 1000
        response = await client.get("/ui/assets/pre.js", headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(await response.read()) == b"let precompressed = 'from .gz';\n"
        response = await client.get("/ui/", headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip"
        response = await client.get("/ui/assets/fonts/inter.woff2", headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in response.headers
        # a changed file is served fresh
        (tmp_path / "assets" / "app-1234.css").write_text("body { margin: 1px }\n")
        response = await client.get("/ui/assets/app-1234.css", headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(await response.read()) == b"body { margin: 1px }\n"
        # missing assets and traversal: 404, never the SPA page or a file outside assets/
        plain = {"Accept-Encoding": "identity"}
        response = await client.get("/ui/assets/../secret.txt", headers=plain)  # the client resolves "..": the SPA page
        assert "outside assets" not in await response.text()
        for path in ("/ui/assets/missing.js", "/ui/assets/%2e%2e/secret.txt",
                     "/ui/assets/..%2fsecret.txt", "/ui/assets/fonts", "/ui/assets/", "/ui/assets/%2fetc%2fpasswd"):
            # encoded: sent as written, without the client resolving dot segments
            url = URL(str(client.make_url("/")).rstrip("/") + path, encoded=True)
            response = await client.session.get(url, headers=plain)
            assert response.status == 404, path
            assert "outside assets" not in await response.text()
            _secure(response)
        response = await client.head("/ui/assets/app-1234.js")
        assert response.status == 200

    _run(tmp_path, scenario)


def test_missing_bundle_and_frame_ancestors(tmp_path: Path) -> None:
    async def scenario(client: TestClient, ui: StaticUi) -> None:  # type: ignore[type-arg]
        response = await client.get("/ui/d/x", headers={"Accept-Encoding": "identity"})
        assert response.status == 503 and "UI bundle is missing" in await response.text()
        _secure(response, "frame-ancestors *")
        ui.frame_ancestors = []
        response = await client.get("/ui/")
        _secure(response, "frame-ancestors 'none'")

    _run(tmp_path / "empty", scenario, ("*",))
    assert frame_ancestors_header(["'self'", "https://a.example"]) == "frame-ancestors 'self' https://a.example"


def test_old_explorer_links_open_the_graph_explorer() -> None:
    """Bookmarks of /ui/explore?expr=…&from=…&to=… land on /graph with the same query and range."""
    from urllib.parse import parse_qs, urlsplit

    from tsdb.ui.links import graph_url

    now = 1767323045000

    def target(**params: str) -> dict[str, str]:
        url = urlsplit(graph_url(params, now))
        assert url.path == "/graph"
        return {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}

    assert target(expr='rate(x{a="b"}[5m]) > 1', tab="table") == {"g0.expr": 'rate(x{a="b"}[5m]) > 1', "g0.tab": "1"}
    assert target(expr="up", **{"from": "now-6h"}, to="now") == {"g0.expr": "up", "g0.tab": "0", "g0.range_input": "6h"}
    assert target(expr="up", **{"from": str(now - 5_400_000)}, to=str(now)) == {
        "g0.expr": "up", "g0.tab": "0", "g0.range_input": "1h30m", "g0.end_input": "2026-01-02 03:04:05"}
    assert target(expr="up", **{"from": "2026-01-02T02:04:05Z"}, to="2026-01-02T03:04:05Z")["g0.range_input"] == "1h"
    assert target(expr="up", **{"from": "yesterday"}) == {"g0.expr": "up", "g0.tab": "0"}
    assert target(expr="up", **{"from": "now-1x"}) == {"g0.expr": "up", "g0.tab": "0"}
    assert target() == {"g0.expr": "", "g0.tab": "0"}


def test_old_explorer_path_redirects(tmp_path: Path) -> None:
    _bundle(tmp_path)

    async def scenario(client: TestClient, ui: StaticUi) -> None:  # type: ignore[type-arg]
        response = await client.get("/ui/explore?expr=up&from=now-1h&to=now", allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/graph?g0.expr=up&g0.tab=0&g0.range_input=1h"
        _secure(response)

    _run(tmp_path, scenario)
