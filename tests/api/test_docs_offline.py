"""The interactive API docs work on a network without Internet access: the page and
everything it loads come from this server."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx


async def test_docs_reference_no_external_host(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    # nothing on the page names another host (no CDN, no online validator)
    assert not re.search(r"(https?:)?//[a-z0-9]", r.text, re.I), r.text
    assert '"validatorUrl": null' in r.text
    loaded = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    loaded += re.findall(r"url: '([^']+)'", r.text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in loaded)
    assert any(u.endswith("swagger-ui.css") for u in loaded)
    assert "/api/v1/openapi.json" in loaded
    for url in loaded:
        assert url.startswith("/"), url
        got = await client.get(urljoin("http://tikguard.test/api/v1/docs", url))
        assert got.status_code == 200, url
    js = await client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"] and len(js.content) > 100_000


async def test_docs_are_not_api_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert not any("docs" in path for path in spec["paths"])
    r = await client.get("/api/v1/docs/oauth2-redirect")
    assert r.status_code == 200 and "<html" in r.text.lower()
    r = await client.get("/api/v1/docs-assets/../../../etc/passwd")
    assert r.status_code == 404
