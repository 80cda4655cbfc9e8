"""The web page at ``/``: one HTML file, one stylesheet and one JavaScript module from ``service/api/static/``.

No framework, no CDN and no build step: the page calls the same JSON API as every other client
(``GET /models``, ``POST /translate``). The HTML is sent with a Content-Security-Policy that allows
only this server's own files and API, so a page that tried to load anything from elsewhere would
show an error in the browser console (which the browser test fails on). The one thing the server
writes into the HTML is whether it needs an API key, so the page asks for the key before its first
API call instead of collecting a 401.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from service.state import service_state

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

API_KEY_META = '<meta name="translator-api-key" content="optional">'

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page(request: Request) -> HTMLResponse:
    """The translation page, saying whether this server wants an API key."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    if service_state(request).settings.api_key is not None:
        html = html.replace(API_KEY_META, API_KEY_META.replace("optional", "required"))
    return HTMLResponse(html, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                       "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


def install_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static/``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
