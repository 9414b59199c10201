"""``/docs`` and ``/redoc`` render with no network beyond the server itself (their scripts are
vendored, not fetched from a CDN), and ``GET /`` answers a page that links to them. In real
headless Chromium, every request to another host refused twice over: by the resolver and by
Playwright's router, which also records any attempt."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server
from tests.ui.test_dashboard import CHROMIUM, FLAGS, OUTPUT, pytestmark

__all__ = ["pytestmark"]

OFFLINE = [*FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def test_docs_and_redoc_render_offline_and_the_landing_page_links_them(
    server: Server,
) -> None:
    from playwright.sync_api import Route, sync_playwright

    if "sqlite" not in server.database_url or server.event_store != "sql":
        pytest.skip("the pages and assets read no database: once, on SQLite, is enough")
    landing = httpx.get(server.base_url + "/", timeout=10)
    assert landing.status_code == 200
    assert landing.headers["content-type"].startswith("text/html")
    for link in ("/docs", "/redoc", "/ui", "/openapi.json", "/health"):
        assert f'href="{link}"' in landing.text
    own = urlsplit(server.base_url).netloc
    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=OFFLINE, headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", only_the_server)
            page = context.new_page()
            failed: list[tuple[str, str | None]] = []
            page.on("requestfailed", lambda request: failed.append((request.url, request.failure)))

            page.goto(server.base_url + "/")
            page.click("text=API reference (Swagger UI)")
            page.wait_for_url("**/docs")
            title = page.locator(".swagger-ui .info .title")
            title.wait_for(timeout=30_000)
            assert title.inner_text().startswith("Meterline")
            # Rendered from the OpenAPI document: the operations are there, grouped by tag.
            page.locator(".opblock").first.wait_for(timeout=30_000)
            assert page.locator(".opblock").count() > 50
            assert page.locator(".opblock-summary-path[data-path='/v1/customers']").count() >= 1
            page.screenshot(path=str(OUTPUT / "docs-swagger.png"))

            page.goto(server.base_url + "/redoc")
            heading = page.locator("h1", has_text="Meterline")
            heading.wait_for(timeout=60_000)
            assert page.locator("[data-section-id^='operation/']").count() > 50
            page.screenshot(path=str(OUTPUT / "docs-redoc.png"))
        finally:
            browser.close()
    assert elsewhere == [], elsewhere
    # ReDoc's bundle always asks for Redocly's logo from a CDN: the page's own policy stops
    # it before the network (the router above saw nothing), and nothing else failed.
    assert {failure for _, failure in failed} <= {"csp"}, failed
