"""Interactive API docs that work on a network without Internet access.

FastAPI's default docs page loads Swagger UI from a CDN, which a NOC's management
network often cannot reach. The page here loads the same Swagger UI from files
shipped in a pinned PyPI package (``fastapi-offline``) and served by this process,
and turns off the online spec validator Swagger UI would otherwise call.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

#: Swagger UI's JavaScript, CSS and icon, as the pinned package ships them.
ASSETS = Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, prefix: str) -> None:
    """Serve ``{prefix}/docs`` (and its assets under ``{prefix}/docs-assets``)."""
    docs_url = f"{prefix}/docs"
    assets_url = f"{prefix}/docs-assets"
    redirect_url = f"{docs_url}/oauth2-redirect"
    openapi_url = app.openapi_url or f"{prefix}/openapi.json"
    app.mount(assets_url, StaticFiles(directory=str(ASSETS)), name="docs-assets")

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_url}/favicon.png",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_ui_parameters={"validatorUrl": None},  # no call to an online validator
        )

    async def oauth2_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    # Plain routes, like FastAPI's own docs routes: not API endpoints, not in the schema.
    app.add_route(docs_url, docs, methods=["GET"], include_in_schema=False)
    app.add_route(redirect_url, oauth2_redirect, methods=["GET"], include_in_schema=False)
