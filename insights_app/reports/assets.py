"""plotly.js served straight from the installed ``plotly`` package: no CDN, no copy, no host setting."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotModified
from django.views.decorators.http import require_GET

ONE_YEAR = 365 * 24 * 3600


@cache
def plotly_js_path() -> Path:
    """The minified bundle shipped inside the plotly Python package."""
    import plotly  # a slow import: paid only when a report page first asks for its charts

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@cache
def plotly_version() -> str:
    """Part of the URL, so an upgrade of plotly changes the URL and busts caches."""
    import plotly  # see plotly_js_path

    return str(plotly.__version__)


@require_GET
def plotly_js(request: HttpRequest, version: str) -> FileResponse | HttpResponseNotModified:
    """The bundle with long-lived caching headers (the URL carries the version)."""
    if version != plotly_version():
        raise Http404("unknown plotly version")
    path = plotly_js_path()
    etag = f'"plotly-{version}-{path.stat().st_size}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    response = FileResponse(path.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response["ETag"] = etag
    return response
