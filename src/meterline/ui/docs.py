"""``/docs`` and ``/redoc`` from vendored assets, and the landing page at ``/``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank on a machine
without internet access (an air-gapped install, a laptop on a train). The scripts and the
stylesheet here come from the ``fastapi-offline`` package, which ships them inside its wheel;
only the HTML shells are FastAPI's (``get_swagger_ui_html``, ``get_redoc_html``), pointed at
``/static-docs/``."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from meterline import __version__
from meterline.ui.routes import templates

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC = "/static-docs"
# Both pages name only this server: ReDoc's sidebar shows Redocly's logo from its CDN
# (unconditionally, in the vendored bundle), which the policy keeps from loading; the
# image hides itself when it fails. The shells' own scripts are inline, and ReDoc starts a
# worker from a blob.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` (their assets under ``/static-docs``) and ``GET /``.
    ``app`` must be built with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC, StaticFiles(directory=str(ASSETS)), name="static-docs")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _offline(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=oauth2_redirect,
                swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
                swagger_favicon_url=f"{root}{STATIC}/favicon.png",
                # Swagger UI otherwise sends the document to validator.swagger.io for its badge
                # whenever the server is not on localhost.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _offline(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{STATIC}/favicon.png",
                with_google_fonts=False,
            )
        )

    @app.get("/", include_in_schema=False)
    def landing(request: Request) -> Response:
        return templates.TemplateResponse(
            request, "landing.html", {"version": __version__, "signed_in": False}
        )
